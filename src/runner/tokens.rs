//! Turn a step's merged token block into exact token bytes.
//!
//! The block is merged from the suite defaults, the scenario and the step (field by field;
//! `header` and `claims` key by key). Identity claims come from the suite unless the block says
//! `identity: false`; strings are templated; `exp`, `nbf` and `iat` take offsets from the pinned
//! "now"; the string `omit` removes a header field or claim.

use std::fmt;

use serde_json::{Map, Value};

use super::keyring::RingKey;
use super::{Scope, SuiteContext};
use crate::jose::Alg;
use crate::scenario::{self, Placement, Scenario, Step, TokenBlock};
use crate::token::{self, Part, Signer, TokenSpec};

/// The claims whose values are times (offsets, RFC 3339, numbers).
const TIME_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

/// A token ready to send: its compact form, how it was built and where it goes.
#[derive(Clone)]
pub struct PreparedToken {
    /// The compact token (a secret: never print it, use [`token::redact()`]).
    pub compact: String,
    /// The spec it was minted from (`None` for a `raw` token); `load` mints others from it.
    pub spec: Option<TokenSpec>,
    /// Where the token goes.
    pub placement: Placement,
    /// The text before the token in the Authorization header.
    pub scheme: String,
    /// The cookie or query parameter name.
    pub name: String,
}

impl fmt::Debug for PreparedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedToken")
            .field("token", &token::redact(&self.compact))
            .field("placement", &self.placement)
            .field("scheme", &self.scheme)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An error building a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The block names a key the suite does not define.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// `alg` is not an algorithm jwtprobe can compute and no `sign_alg` says what to compute.
    #[error(
        "`alg: {0}` is not an algorithm jwtprobe can compute; set `sign_alg` to say which one to compute"
    )]
    UnknownAlg(String),
    /// The algorithm needs a key the block does not give.
    #[error("`{alg}` needs {needs}")]
    NeedsKey {
        /// The algorithm.
        alg: &'static str,
        /// What is missing.
        needs: &'static str,
    },
    /// `hmac_secret` names something that has no PEM text.
    #[error("`hmac_secret: {0}` names no certificate, public key or secret")]
    BadHmacSecret(String),
    /// A template could not be rendered.
    #[error("failed to render a template in the token")]
    Template(#[source] scenario::template::TemplateError),
    /// A time claim could not be resolved.
    #[error("failed to resolve time claim `{claim}`")]
    Time {
        /// The claim.
        claim: String,
        /// The cause.
        #[source]
        source: scenario::time::TimeError,
    },
    /// Minting failed.
    #[error("failed to mint the token")]
    Mint(#[source] token::MintError),
    /// A transform after signing failed.
    #[error("failed to transform the token after signing")]
    Transform(#[source] token::TransformError),
}

/// The merged token block of a step, or `None` when no level defines one.
pub(crate) fn merged_block(
    ctx: &SuiteContext,
    scenario: &Scenario,
    step: &Step,
) -> Option<TokenBlock> {
    let levels = [
        ctx.suite.defaults.token.as_ref(),
        scenario.token.as_ref(),
        step.token.as_ref(),
    ];
    levels
        .into_iter()
        .flatten()
        .fold(None, |acc: Option<TokenBlock>, b| {
            Some(match acc {
                Some(a) => a.merged(b),
                None => b.clone(),
            })
        })
}

/// Builds and mints the token of a step; `Ok(None)` when the step sends no token.
pub fn build_token(
    ctx: &SuiteContext,
    scenario: &Scenario,
    step: &Step,
    scope: &Scope<'_>,
    now: i64,
) -> Result<Option<PreparedToken>, TokenError> {
    let Some(block) = merged_block(ctx, scenario, step) else {
        return Ok(None);
    };
    let placement = block.placement.unwrap_or(Placement::Header);
    if placement == Placement::None {
        return Ok(None);
    }
    let render = |s: &str| scope.render(s).map_err(TokenError::Template);
    let scheme = match &block.scheme {
        Some(s) => render(s)?,
        None => "Bearer".to_owned(),
    };
    let name = match &block.name {
        Some(n) => render(n)?,
        None => "jwt".to_owned(),
    };
    if let Some(raw) = &block.raw {
        return Ok(Some(PreparedToken {
            compact: render(raw)?,
            spec: None,
            placement,
            scheme,
            name,
        }));
    }
    let key_name = block.key.as_deref().map(render).transpose()?;
    let key = match key_name.as_deref() {
        None | Some("none") => None,
        Some(k) => Some(
            ctx.keys
                .get(k)
                .ok_or_else(|| TokenError::UnknownKey(k.to_owned()))?,
        ),
    };
    let claimed = match &block.alg {
        Some(a) => render(a)?,
        None => default_alg(key).name().to_owned(),
    };
    let sign_alg = match block.sign_alg {
        Some(a) => a,
        None => Alg::from_name(&claimed).ok_or_else(|| TokenError::UnknownAlg(claimed.clone()))?,
    };
    let signer = signer(ctx, &block, key, sign_alg)?;

    let mut header = token::standard_header(sign_alg);
    header.insert("alg".to_owned(), Value::String(claimed));
    if let Some(extra) = &block.header {
        for (k, v) in extra {
            let k = render(k)?;
            let value = render_value(v, scope)?;
            if value.as_str() == Some("omit") {
                header.shift_remove(&k);
            } else {
                header.insert(k, value);
            }
        }
    }
    let header = match &block.raw_header {
        Some(raw) => Part::Raw(render(raw)?),
        None => Part::Json(header),
    };

    let mut claims = Map::new();
    if block.identity.unwrap_or(true) {
        let id = &ctx.suite.identity;
        claims.insert(id.user_claim.clone(), Value::String(render(&id.user)?));
        claims.insert(
            id.directory_claim.clone(),
            Value::String(render(&id.directory)?),
        );
        for (k, v) in &id.extra_claims {
            claims.insert(k.clone(), v.clone());
        }
    }
    if let Some(extra) = &block.claims {
        for (k, v) in extra {
            claims.insert(render(k)?, v.clone());
        }
    }
    if let Some(bytes) = block.pad_bytes {
        claims.insert("pad".to_owned(), Value::String("a".repeat(bytes)));
    }
    let mut resolved = Map::new();
    for (k, v) in claims {
        if v.as_str() == Some("omit") {
            continue;
        }
        if TIME_CLAIMS.contains(&k.as_str()) {
            let rendered = render_value(&v, scope)?;
            match scenario::time::resolve(&rendered, now) {
                Ok(Some(t)) => {
                    resolved.insert(k, Value::from(t));
                }
                Ok(None) => {}
                Err(source) => return Err(TokenError::Time { claim: k, source }),
            }
        } else {
            let value = render_value(&v, scope)?;
            // A template that renders to `omit` (`${audience:-omit}`) removes the claim too.
            if value.as_str() != Some("omit") {
                resolved.insert(k, value);
            }
        }
    }
    let payload = match &block.raw_payload {
        Some(raw) => Part::Raw(render(raw)?),
        None => Part::Json(resolved),
    };
    let spec = TokenSpec {
        header,
        payload,
        sign_alg,
        signer,
        signature: block.signature.unwrap_or_default(),
        encoding: block.encoding.unwrap_or_default(),
    };
    let mut compact = token::mint(&spec).map_err(TokenError::Mint)?.into_exposed();
    if let Some(changes) = &block.tamper_claims {
        let mut rendered = Map::new();
        for (k, v) in changes {
            rendered.insert(render(k)?, render_value(v, scope)?);
        }
        compact = token::tamper_claims(&compact, &rendered).map_err(TokenError::Transform)?;
    }
    match block.serialization {
        None | Some(scenario::Serialization::Compact) => {}
        Some(form) => {
            let general = form == scenario::Serialization::JsonGeneral;
            compact =
                token::json_serialization(&compact, general).map_err(TokenError::Transform)?;
        }
    }
    // A transformed token is no longer what `spec` mints: `load` must send it as is.
    let spec = (block.tamper_claims.is_none() && block.serialization.is_none()).then_some(spec);
    Ok(Some(PreparedToken {
        compact,
        spec,
        placement,
        scheme,
        name,
    }))
}

/// The algorithm a key signs by default: RS256 for RSA, ES256/ES384, EdDSA, HS256 for a
/// secret, `none` without a key.
fn default_alg(key: Option<&RingKey>) -> Alg {
    match key {
        None => Alg::None,
        Some(RingKey::Secret(_)) => Alg::HS256,
        Some(RingKey::Bundle(b)) => {
            if b.secret.is_some() && b.private.is_none() {
                return Alg::HS256;
            }
            b.private
                .as_ref()
                .map_or(Alg::RS256, |p| p.kind().default_alg())
        }
    }
}

/// Chooses what signs: the private key, an HMAC secret, or nothing.
fn signer(
    ctx: &SuiteContext,
    block: &TokenBlock,
    key: Option<&RingKey>,
    alg: Alg,
) -> Result<Signer, TokenError> {
    if alg == Alg::None {
        return Ok(Signer::Unsigned);
    }
    if alg.is_hmac() {
        if let Some(source) = &block.hmac_secret {
            return hmac_from_pem(ctx, key, source).map(Signer::Hmac);
        }
        return match key {
            Some(RingKey::Secret(s)) => Ok(Signer::Hmac(s.expose().to_vec())),
            Some(RingKey::Bundle(b)) if b.secret.is_some() => Ok(Signer::Hmac(
                b.secret
                    .as_ref()
                    .map(|s| s.expose().to_vec())
                    .unwrap_or_default(),
            )),
            _ => Err(TokenError::NeedsKey {
                alg: alg.name(),
                needs: "a `secret` key or `hmac_secret: certificate|public_key`",
            }),
        };
    }
    match key {
        Some(RingKey::Bundle(b)) => match &b.private {
            Some(p) => Ok(Signer::Key(p.clone())),
            None => Err(TokenError::NeedsKey {
                alg: alg.name(),
                needs: "a private key (the key file holds only a public key or certificate)",
            }),
        },
        Some(RingKey::Secret(_)) => Err(TokenError::NeedsKey {
            alg: alg.name(),
            needs: "a private key, not an HMAC secret",
        }),
        None => Err(TokenError::NeedsKey {
            alg: alg.name(),
            needs: "a `key`",
        }),
    }
}

/// The PEM text used as an HMAC secret (key confusion): `certificate`, `public_key`, or the
/// certificate (else public key) of another named key.
fn hmac_from_pem(
    ctx: &SuiteContext,
    key: Option<&RingKey>,
    source: &str,
) -> Result<Vec<u8>, TokenError> {
    let bundle_of = |k: Option<&RingKey>| match k {
        Some(RingKey::Bundle(b)) => Some(b.as_ref().clone()),
        _ => None,
    };
    let (bundle, what) = match source {
        "certificate" | "public_key" => (bundle_of(key), source),
        name => (bundle_of(ctx.keys.get(name)), "certificate"),
    };
    let bundle = bundle.ok_or_else(|| TokenError::BadHmacSecret(source.to_owned()))?;
    let pem = match what {
        "public_key" => bundle.public.as_ref().map(|p| p.to_spki_pem()),
        _ => bundle
            .certificate
            .as_ref()
            .map(|c| c.pem().to_owned())
            .or_else(|| bundle.public.as_ref().map(|p| p.to_spki_pem())),
    };
    pem.map(String::into_bytes)
        .ok_or_else(|| TokenError::BadHmacSecret(source.to_owned()))
}

/// Renders templates in every string of a JSON value.
fn render_value(value: &Value, scope: &Scope<'_>) -> Result<Value, TokenError> {
    Ok(match value {
        Value::String(s) => Value::String(scope.render(s).map_err(TokenError::Template)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), render_value(v, scope)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}
