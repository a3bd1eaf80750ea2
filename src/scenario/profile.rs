//! Target profiles: what a target is expected to answer, by outcome name.
//!
//! A [`Profile`] maps outcome names (`reject`, `no_token`, `accept`, …) to status codes, so a
//! scenario says `status: reject` and runs unchanged against a QSEoW proxy (400) and a generic
//! bearer proxy (401). The built-in tables follow `reference/qlik-proxy.md`; a suite overrides
//! or adds names with `profile: {name: qseow, statuses: {reject: 401}}`.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use super::model::{KeySpec, ProfileSpec, Suite};
use crate::diag::{Diagnostic, Located, Span};
use crate::jose::ProfileName;

impl Suite {
    /// Every file the suite names (key files, the key server's files), resolved against the
    /// suite's folder as the runner resolves them, with the text written in the suite and,
    /// for a key file, where it is written.
    pub fn named_files(&self) -> Vec<(String, Utf8PathBuf, Option<Located>)> {
        let base = self
            .path
            .parent()
            .map_or_else(|| Utf8PathBuf::from("."), Utf8Path::to_owned);
        let mut files: Vec<(String, Utf8PathBuf, Option<Located>)> = self
            .keys
            .values()
            .filter_map(|k| match k {
                KeySpec::File { file, .. } => Some((file.value.clone(), file.at.clone())),
                _ => None,
            })
            .chain(
                self.conformance
                    .iter()
                    .flat_map(|c| c.key_server.iter())
                    .flat_map(|k| [(k.jwks.clone(), None), (k.certificate.clone(), None)]),
            )
            .map(|(f, at)| (f.to_string(), base.join(&f), at))
            .collect();
        files.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        files
    }

    /// A diagnostic for every file the suite names that does not exist, pointing at where
    /// the suite names it (`source` is the suite's text).
    pub fn missing_files(&self, source: Option<&str>) -> Vec<Diagnostic> {
        let mut found: Vec<Diagnostic> = self
            .named_files()
            .into_iter()
            .filter(|(_, path, _)| !path.is_file())
            .map(|(written, path, at)| {
                // A key file's place was kept when the suite was read; the key server's
                // files are found by their text.
                let at = at.unwrap_or_else(|| {
                    let span = source.and_then(|text| span_of(text, &written));
                    Located::new(&self.path, span.unwrap_or(Span::START))
                });
                Diagnostic::new(
                    format!("invalid suite `{}`", self.path),
                    format!("file `{written}` not found (resolved to `{path}`)"),
                )
                .at(Some(at))
                .with_hint("paths in a suite are relative to the suite file; keep key files inside the suite's folder so that a copy keeps working")
            })
            .collect();
        found.sort_by_key(|d| d.location.as_ref().map(|l| (l.span.line, l.span.col)));
        found
    }
}

/// The span of the first occurrence of `needle` in `text`.
fn span_of(text: &str, needle: &str) -> Option<Span> {
    let start = text.find(needle)?;
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(Span {
        start,
        end: start + needle.len(),
        line,
        col,
    })
}

/// A resolved profile: built-in statuses with the suite's overrides applied.
///
/// Besides statuses, a profile separates the product's documented *policy* from security
/// properties: on `qseow`, a token without `exp` is Qlik's policy, so the conformance report
/// says `policy` for property `exp-required` instead of held or violated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The built-in profile this one starts from.
    pub name: ProfileName,
    /// Outcome names to the codes that satisfy them.
    pub statuses: BTreeMap<String, Vec<u16>>,
    /// Conformance property ids that are the product's documented policy, with the reason.
    pub policy: BTreeMap<String, String>,
    /// The `WWW-Authenticate` challenge a rejected token gets (`Bearer error="invalid_token"`
    /// on `rfc6750`); `None` where the product sends none (Qlik).
    pub challenge: Option<&'static str>,
}

impl Profile {
    /// The built-in profile of this name, without overrides.
    pub fn builtin(name: ProfileName) -> Self {
        let reject: u16 = match name {
            ProfileName::Qseow | ProfileName::QseowPre2024 => 400,
            ProfileName::Qseow401
            | ProfileName::QlikCloud
            | ProfileName::Generic
            | ProfileName::Rfc6750 => 401,
        };
        // `refused`: any answer that does not let the token in (the conformance pack's
        // expectation, whatever the target's wording).
        let refused = match name {
            ProfileName::Qseow | ProfileName::QseowPre2024 | ProfileName::Qseow401 => {
                vec![400, 401, 403]
            }
            ProfileName::QlikCloud | ProfileName::Rfc6750 => vec![400, 401, 403],
            ProfileName::Generic => vec![401, 403],
        };
        let mut table: Vec<(&str, Vec<u16>)> = vec![
            ("reject", vec![reject]),
            ("no_token", vec![401]),
            ("accept", vec![200]),
            ("refused", refused),
        ];
        match name {
            ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024 => {
                let csrf = if name == ProfileName::QseowPre2024 {
                    404
                } else {
                    204
                };
                table.extend([
                    ("xrf_fail", vec![403]),
                    ("unknown_prefix", vec![400]),
                    ("redirect", vec![302]),
                    ("host_denied", vec![403]),
                    ("csrf_token", vec![csrf]),
                    ("too_large", vec![400]),
                ]);
            }
            ProfileName::QlikCloud => {
                table.extend([("bad_request", vec![400]), ("forbidden", vec![403])]);
            }
            ProfileName::Generic => {
                table.push(("forbidden", vec![403]));
            }
            ProfileName::Rfc6750 => {
                table.extend([("bad_request", vec![400]), ("forbidden", vec![403])]);
            }
        }
        let mut policy = BTreeMap::new();
        if matches!(
            name,
            ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024
        ) {
            policy.insert(
                "exp-required".to_owned(),
                "Qlik's virtual proxy accepts a token without `exp` (documented; \
                 reference/qlik-proxy.md)"
                    .to_owned(),
            );
        }
        let challenge = match name {
            ProfileName::Rfc6750 => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        Self {
            name,
            statuses: table.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            policy,
            challenge,
        }
    }

    /// The codes an outcome name stands for, or `None` for an unknown name.
    pub fn status(&self, name: &str) -> Option<&[u16]> {
        self.statuses.get(name).map(Vec::as_slice)
    }

    /// Every outcome name this profile knows, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.statuses.keys().map(String::as_str)
    }
}

impl ProfileSpec {
    /// The built-in profile with this spec's overrides applied.
    pub fn resolve(&self) -> Profile {
        let mut profile = Profile::builtin(self.name);
        profile
            .statuses
            .extend(self.statuses.iter().map(|(k, v)| (k.clone(), v.clone())));
        profile
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::builtin(ProfileName::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qseow_rejects_with_400_and_qseow_401_with_401() {
        assert_eq!(
            Profile::builtin(ProfileName::Qseow).status("reject"),
            Some(&[400][..])
        );
        assert_eq!(
            Profile::builtin(ProfileName::Qseow401).status("reject"),
            Some(&[401][..])
        );
        assert_eq!(
            Profile::builtin(ProfileName::Qseow).status("xrf_fail"),
            Some(&[403][..])
        );
        assert_eq!(
            Profile::builtin(ProfileName::Qseow).status("redirect"),
            Some(&[302][..])
        );
    }

    #[test]
    fn qlik_cloud_and_generic_reject_with_401() {
        let cloud = Profile::builtin(ProfileName::QlikCloud);
        assert_eq!(cloud.status("reject"), Some(&[401][..]));
        assert_eq!(cloud.status("bad_request"), Some(&[400][..]));
        let generic = Profile::builtin(ProfileName::Generic);
        assert_eq!(generic.status("no_token"), Some(&[401][..]));
        assert_eq!(generic.status("xrf_fail"), None);
    }

    #[test]
    fn suite_override_replaces_builtin_status() {
        let spec = ProfileSpec {
            name: ProfileName::Qseow,
            statuses: [("reject".to_owned(), vec![401, 400])].into(),
        };
        assert_eq!(spec.resolve().status("reject"), Some(&[401, 400][..]));
        assert_eq!(spec.resolve().status("accept"), Some(&[200][..]));
    }
}
