//! How a request path picks a virtual proxy, as the Qlik proxy does: the prefix is the text
//! between the host and a reserved, case-insensitive keyword (`hub`, `qps`, `qrs`, …); with no
//! prefix the default virtual proxy answers.

/// Path segments that the Qlik proxy reads as keywords, never as a prefix. The proxy documents
/// `qmc`, `client`, `hub`, `qps` and `app`; the others are what clients meet in practice
/// (`login` is Qlik Cloud's `/login/jwt-session`).
const QLIK_KEYWORDS: &[&str] = &[
    "qmc",
    "client",
    "hub",
    "qps",
    "qrs",
    "app",
    "sense",
    "api",
    "resources",
    "single",
    "extensions",
    "content",
    "dev-hub",
    "internal_windows_authentication",
    "internal_forms_authentication",
    "login",
];

/// Path segments that only the emulator reserves, for its own endpoints (`/health`); on a real
/// Qlik server they may be a prefix.
const EMULATOR_KEYWORDS: &[&str] = &["health"];

/// Whether `segment` is a path keyword of the Qlik proxy (case-insensitive), so a real Qlik
/// server never reads it as a virtual proxy prefix: `hub`, `qrs`, `qps`, `login`, ….
///
/// This is the list the emulator routes by, less its own endpoints; `jwtprobe probe` uses it to
/// find the prefix in a URL.
pub fn is_qlik_keyword(segment: &str) -> bool {
    QLIK_KEYWORDS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(segment))
}

/// Whether `segment` is reserved in the emulator (case-insensitive), so cannot be a prefix:
/// a Qlik keyword or one of the emulator's own endpoints.
pub(crate) fn is_reserved(segment: &str) -> bool {
    is_qlik_keyword(segment)
        || EMULATOR_KEYWORDS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(segment))
}

/// A request path split into prefix and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The prefix segment, when the path has one (not lowercased).
    pub(crate) prefix: Option<&'a str>,
    /// The rest of the path, starting with `/` (at least `/`).
    pub(crate) rest: &'a str,
}

/// Splits `/jwt/hub/` into prefix `jwt` and rest `/hub/`; `/hub/` has no prefix.
pub(crate) fn split(path: &str) -> Split<'_> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Split {
            prefix: None,
            rest: "/",
        };
    }
    let (first, rest) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, "/"),
    };
    if is_reserved(first) {
        Split {
            prefix: None,
            rest: path,
        }
    } else {
        Split {
            prefix: Some(first),
            rest,
        }
    }
}

/// What a path below the prefix addresses: the route classes the hit counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/qrs/about`.
    QrsAbout,
    /// Any other `/qrs/...`.
    QrsOther,
    /// `/qps/user`.
    QpsUser,
    /// `/qps/csrftoken`.
    QpsCsrfToken,
    /// Any other `/qps/...`.
    QpsOther,
    /// `/hub`, `/hub/...`.
    Hub,
    /// `/sense/app/<id>`.
    SenseApp,
    /// `/api/hub/v1/user/info`.
    HubUserInfo,
    /// Anything else.
    Other,
}

impl Route {
    /// Classifies a path below the prefix (case-insensitive, as the proxy matches keywords).
    pub(crate) fn of(rest: &str) -> Self {
        let lower = rest.to_ascii_lowercase();
        let p = lower.as_str();
        let is = |base: &str| p == base || p.strip_prefix(base).is_some_and(|r| r.starts_with('/'));
        if p == "/qrs/about" || p == "/qrs/about/" {
            Self::QrsAbout
        } else if is("/qrs") {
            Self::QrsOther
        } else if p == "/qps/user" || p == "/qps/user/" {
            Self::QpsUser
        } else if p == "/qps/csrftoken" || p == "/qps/csrftoken/" {
            Self::QpsCsrfToken
        } else if is("/qps") {
            Self::QpsOther
        } else if is("/hub") {
            Self::Hub
        } else if p
            .strip_prefix("/sense/app/")
            .is_some_and(|id| !id.is_empty())
        {
            Self::SenseApp
        } else if p == "/api/hub/v1/user/info" {
            Self::HubUserInfo
        } else {
            Self::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_the_segment_before_a_reserved_keyword() {
        assert_eq!(
            split("/jwt/hub/"),
            Split {
                prefix: Some("jwt"),
                rest: "/hub/"
            }
        );
        assert_eq!(
            split("/jwt"),
            Split {
                prefix: Some("jwt"),
                rest: "/"
            }
        );
        assert_eq!(
            split("/hub/"),
            Split {
                prefix: None,
                rest: "/hub/"
            }
        );
        assert_eq!(
            split("/QRS/about"),
            Split {
                prefix: None,
                rest: "/QRS/about"
            }
        );
        assert_eq!(
            split("/"),
            Split {
                prefix: None,
                rest: "/"
            }
        );
    }

    #[test]
    fn health_is_reserved_by_the_emulator_but_is_no_qlik_keyword() {
        assert!(is_reserved("health"));
        assert!(is_reserved("HEALTH"));
        assert!(!is_qlik_keyword("health"));
        assert_eq!(split("/health").prefix, None);
        assert!(is_qlik_keyword("Login"));
        assert!(is_reserved("login"));
        assert!(!is_qlik_keyword("jwt"));
    }

    #[test]
    fn routes_are_classified_case_insensitively() {
        assert_eq!(Route::of("/qrs/about"), Route::QrsAbout);
        assert_eq!(Route::of("/QRS/About"), Route::QrsAbout);
        assert_eq!(Route::of("/qrs/app/full"), Route::QrsOther);
        assert_eq!(Route::of("/qps/user"), Route::QpsUser);
        assert_eq!(Route::of("/qps/csrftoken"), Route::QpsCsrfToken);
        assert_eq!(Route::of("/qps/ticket"), Route::QpsOther);
        assert_eq!(Route::of("/hub"), Route::Hub);
        assert_eq!(Route::of("/hub/my/work"), Route::Hub);
        assert_eq!(Route::of("/hubx"), Route::Other);
        assert_eq!(Route::of("/sense/app/0c8a1b2c"), Route::SenseApp);
        assert_eq!(Route::of("/sense/app/"), Route::Other);
        assert_eq!(Route::of("/api/hub/v1/user/info"), Route::HubUserInfo);
    }
}
