//! The JOSE vocabulary: the one word for each algorithm, signature mode, encoding and target
//! profile that scenarios, the command line, the keys, the minter, the verifier and the
//! emulator share.
//!
//! [`Alg`] is a JWS algorithm (RFC 7518) as written in a token header, a scenario's
//! `sign_alg:`, an emulator config's `algorithms:` and `--alg`; [`SignatureMode`] and
//! [`Encoding`] are what the minter does to the signature and the segments; [`ProfileName`]
//! is the built-in profile a target is expected to behave like. Each derives serde,
//! `JsonSchema` and `clap::ValueEnum` with the spellings of the YAML files, so a new
//! algorithm is added here (and in the crypto match arms of [`keys`](crate::keys) and
//! [`token`](crate::token)) and nowhere else.
//!
//! This module is a leaf: it imports nothing from the crate.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::Deserialize;

/// A JWS algorithm (RFC 7518), as named in a token's `alg` header.
// The schema keeps the definition name scenario files have always been validated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, clap::ValueEnum)]
#[schemars(rename = "SignAlg")]
pub enum Alg {
    /// HMAC with SHA-256.
    #[value(name = "HS256")]
    HS256,
    /// HMAC with SHA-384.
    #[value(name = "HS384")]
    HS384,
    /// HMAC with SHA-512.
    #[value(name = "HS512")]
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what Qlik's virtual proxy expects).
    #[value(name = "RS256")]
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    #[value(name = "RS384")]
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    #[value(name = "RS512")]
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    #[value(name = "PS256")]
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    #[value(name = "PS384")]
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    #[value(name = "PS512")]
    PS512,
    /// ECDSA on P-256 with SHA-256 (fixed-length `r || s` signature).
    #[value(name = "ES256")]
    ES256,
    /// ECDSA on P-384 with SHA-384 (fixed-length `r || s` signature).
    #[value(name = "ES384")]
    ES384,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDSA,
    /// No signature (`"alg": "none"`): the signature segment is empty.
    #[serde(rename = "none")]
    #[value(name = "none")]
    None,
}

impl Alg {
    /// Every algorithm, in the order above.
    pub const ALL: [Self; 13] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::None,
    ];

    /// The RFC 7518 name (`RS256`, `none`, …), as written in a header and in YAML.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::None => "none",
        }
    }

    /// Every name, in the order of [`Alg::ALL`].
    #[must_use]
    pub fn names() -> [&'static str; 13] {
        Self::ALL.map(Self::name)
    }

    /// The algorithm of that exact name (case-sensitive, as in a JWT header).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether this is one of the HMAC algorithms (HS256, HS384, HS512).
    #[must_use]
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// Whether this algorithm needs a key pair (RSA, ECDSA, EdDSA): what a certificate or a
    /// private key computes or checks.
    #[must_use]
    pub fn is_asymmetric(self) -> bool {
        !self.is_hmac() && self != Self::None
    }

    /// Every algorithm that needs a key pair, in the order of [`Alg::ALL`].
    pub fn asymmetric() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().filter(|a| a.is_asymmetric())
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name that is not a JWS algorithm we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown algorithm `{0}` (expected one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, none)"
)]
pub struct UnknownAlg(pub String);

impl FromStr for Alg {
    type Err = UnknownAlg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownAlg(s.to_owned()))
    }
}

/// What happens to the signature after it is computed (scenario key `signature:`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, JsonSchema, clap::ValueEnum,
)]
pub enum SignatureMode {
    /// The correct signature (default).
    #[default]
    #[serde(rename = "valid")]
    #[value(name = "valid")]
    Valid,
    /// An empty signature segment: `header.payload.`.
    #[serde(rename = "empty")]
    #[value(name = "empty")]
    Empty,
    /// No signature segment at all, two segments: `header.payload` (no trailing dot).
    #[serde(rename = "omit")]
    #[value(name = "omit")]
    Omit,
    /// The computed signature with one bit flipped (the lowest bit of its first byte).
    #[serde(rename = "bitflip")]
    #[value(name = "bitflip")]
    BitFlip,
    /// The computed signature with its second half dropped (at least one byte).
    #[serde(rename = "truncate")]
    #[value(name = "truncate")]
    Truncate,
    /// Random bytes of the computed signature's length.
    #[serde(rename = "random")]
    #[value(name = "random")]
    Random,
    /// An ECDSA signature of zeros, r = s = 0 (CVE-2022-21449, "psychic signatures"): 96 bytes
    /// under ES384, else 64, whatever was computed.
    #[serde(rename = "ecdsa_zero")]
    #[value(name = "ecdsa_zero")]
    EcdsaZero,
}

impl SignatureMode {
    /// Every mode, in the order above.
    pub const ALL: [Self; 7] = [
        Self::Valid,
        Self::Empty,
        Self::Omit,
        Self::BitFlip,
        Self::Truncate,
        Self::Random,
        Self::EcdsaZero,
    ];

    /// The scenario name (`valid`, `empty`, `omit`, `bitflip`, `truncate`, `random`,
    /// `ecdsa_zero`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Empty => "empty",
            Self::Omit => "omit",
            Self::BitFlip => "bitflip",
            Self::Truncate => "truncate",
            Self::Random => "random",
            Self::EcdsaZero => "ecdsa_zero",
        }
    }
}

impl fmt::Display for SignatureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignatureMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            format!(
                "unknown signature mode `{s}` (expected valid, empty, omit, bitflip, truncate, random or ecdsa_zero)"
            )
        })
    }
}

/// How the three segments of a token are encoded (scenario key `encoding:`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, JsonSchema, clap::ValueEnum,
)]
pub enum Encoding {
    /// base64url without padding, as RFC 7515 requires (default).
    #[default]
    #[serde(rename = "base64url")]
    #[value(name = "base64url")]
    Base64Url,
    /// base64url with `=` padding (not valid JWS; some parsers accept it).
    #[serde(rename = "base64url_padded")]
    #[value(name = "base64url_padded")]
    Base64UrlPadded,
    /// Standard base64 alphabet (`+`, `/`) with padding (not valid JWS).
    #[serde(rename = "base64")]
    #[value(name = "base64")]
    Base64,
}

impl Encoding {
    /// Every encoding, in the order above.
    pub const ALL: [Self; 3] = [Self::Base64Url, Self::Base64UrlPadded, Self::Base64];

    /// The scenario name (`base64url`, `base64url_padded`, `base64`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Base64Url => "base64url",
            Self::Base64UrlPadded => "base64url_padded",
            Self::Base64 => "base64",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                format!("unknown encoding `{s}` (expected base64url, base64url_padded or base64)")
            })
    }
}

/// A built-in target profile: what a target is expected to answer. The one profile name of
/// scenarios, `run`/`load` targets, `probe --profile`, `token inspect --profile` and the
/// emulator's config.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema, clap::ValueEnum,
)]
pub enum ProfileName {
    /// Qlik Sense Enterprise on Windows, Nov 2024 and later: a rejected token gets 400.
    #[default]
    #[serde(rename = "qseow")]
    #[value(name = "qseow")]
    Qseow,
    /// QSEoW where a rejected token gets 401.
    #[serde(rename = "qseow-401")]
    #[value(name = "qseow-401")]
    Qseow401,
    /// QSEoW before the Nov 2024 CSRF changes (`/qps/csrftoken` answers 404).
    #[serde(rename = "qseow-pre2024")]
    #[value(name = "qseow-pre2024")]
    QseowPre2024,
    /// Qlik Cloud `/login/jwt-session`.
    #[serde(rename = "qlik-cloud")]
    #[value(name = "qlik-cloud")]
    QlikCloud,
    /// Any proxy that verifies bearer JWTs: 401 on rejection.
    #[serde(rename = "generic")]
    #[value(name = "generic")]
    Generic,
    /// A resource server following RFC 6750: 401 with `WWW-Authenticate: Bearer
    /// error="invalid_token"` for a bad token, 401 with no error code for no token, 400 for a
    /// malformed request.
    #[serde(rename = "rfc6750")]
    #[value(name = "rfc6750")]
    Rfc6750,
}

impl ProfileName {
    /// Every profile, in the order above.
    pub const ALL: [Self; 6] = [
        Self::Qseow,
        Self::Qseow401,
        Self::QseowPre2024,
        Self::QlikCloud,
        Self::Generic,
        Self::Rfc6750,
    ];

    /// The name as written in YAML and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Qseow => "qseow",
            Self::Qseow401 => "qseow-401",
            Self::QseowPre2024 => "qseow-pre2024",
            Self::QlikCloud => "qlik-cloud",
            Self::Generic => "generic",
            Self::Rfc6750 => "rfc6750",
        }
    }

    /// Whether this is one of the Qlik profiles (prefix, xrfkey and session semantics).
    #[must_use]
    pub fn is_qlik(self) -> bool {
        !matches!(self, Self::Generic | Self::Rfc6750)
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_name_reads_through_serde_clap_and_from_str() {
        for alg in Alg::ALL {
            let json = serde_json::Value::String(alg.name().to_owned());
            assert_eq!(serde_json::from_value::<Alg>(json).ok(), Some(alg));
            assert_eq!(
                <Alg as ValueEnum>::from_str(alg.name(), false).ok(),
                Some(alg)
            );
            assert_eq!(alg.name().parse::<Alg>().ok(), Some(alg));
        }
        for mode in SignatureMode::ALL {
            let json = serde_json::Value::String(mode.name().to_owned());
            assert_eq!(
                serde_json::from_value::<SignatureMode>(json).ok(),
                Some(mode)
            );
            assert_eq!(
                <SignatureMode as ValueEnum>::from_str(mode.name(), false).ok(),
                Some(mode)
            );
        }
        for enc in Encoding::ALL {
            let json = serde_json::Value::String(enc.name().to_owned());
            assert_eq!(serde_json::from_value::<Encoding>(json).ok(), Some(enc));
            assert_eq!(
                <Encoding as ValueEnum>::from_str(enc.name(), false).ok(),
                Some(enc)
            );
        }
        for profile in ProfileName::ALL {
            let json = serde_json::Value::String(profile.name().to_owned());
            assert_eq!(
                serde_json::from_value::<ProfileName>(json).ok(),
                Some(profile)
            );
            assert_eq!(
                <ProfileName as ValueEnum>::from_str(profile.name(), false).ok(),
                Some(profile)
            );
        }
    }

    #[test]
    fn hmac_none_and_key_pair_algorithms_partition_the_list() {
        let hmac = Alg::ALL.iter().filter(|a| a.is_hmac()).count();
        let pairs = Alg::asymmetric().count();
        assert_eq!((hmac, pairs), (3, 9));
        assert!(!Alg::None.is_hmac() && !Alg::None.is_asymmetric());
    }

    #[test]
    fn unknown_algorithm_lists_every_name() {
        let e = "HS999".parse::<Alg>().expect_err("unknown");
        assert!(e.to_string().contains(&Alg::names().join(", ")), "{e}");
    }
}
