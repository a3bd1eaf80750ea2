//! `${VAR}` templates in scenario strings.
//!
//! [`render`] replaces `${NAME}` with a value from a lookup (environment, `--var`, suite and
//! scenario `vars`, captures from earlier steps: the caller decides the order),
//! `${NAME:-default}` with the default when the name is unknown, and `$${text}` with the
//! literal `${text}`. A `$` not followed by `{` is kept as is. [`references`] lists the names
//! a string uses, so the reader can check captures before anything runs.

/// Variables the runner always defines: `uuid` is a fresh random UUID at each use (for
/// claims such as Qlik Cloud's `jti` that must differ per token); put it in a scenario
/// variable to share one value across the steps of a run. The others come from the suite for
/// the conformance pack: the identity (`user_claim`, `directory_claim`, `user`, `directory`),
/// `leeway_s` and `exp_past_leeway` from `conformance.leeway`, and `key_server`, the loopback
/// key server's URL (`audience` and `issuer` exist only when the suite's `conformance` sets
/// them: write `${audience:-omit}`).
pub const BUILTIN_VARS: &[&str] = &[
    "uuid",
    "user_claim",
    "directory_claim",
    "user",
    "directory",
    "user_claim_recased",
    "directory_claim_recased",
    "prefix_recased",
    "leeway_s",
    "exp_past_leeway",
    "key_server",
];

/// An error rendering a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A variable without a default has no value.
    #[error("unknown variable `{name}`")]
    Unknown {
        /// The variable's name.
        name: String,
    },
    /// A `${` without its closing `}`.
    #[error("unclosed `${{` at byte {offset}")]
    Unclosed {
        /// Byte offset of the `$`.
        offset: usize,
    },
    /// `${}` or `${:-x}`.
    #[error("empty variable name at byte {offset}")]
    Empty {
        /// Byte offset of the `$`.
        offset: usize,
    },
}

/// A variable used by a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The name.
    pub name: &'a str,
    /// The default, if the template gives one.
    pub default: Option<&'a str>,
    /// Byte offset of the `$` in the template.
    pub offset: usize,
}

/// One piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Var(Reference<'a>),
}

fn parse(s: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest_start = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'$' && s[i..].starts_with("$${") {
            // `$${x}` is the literal `${x}`: keep everything up to and including the `}`.
            pieces.push(Piece::Text(&s[rest_start..i]));
            let close = s[i..].find('}').map_or(s.len(), |c| i + c + 1);
            pieces.push(Piece::Text(&s[i + 1..close]));
            i = close;
            rest_start = i;
        } else if bytes[i] == b'$' && s[i..].starts_with("${") {
            pieces.push(Piece::Text(&s[rest_start..i]));
            let close = s[i..]
                .find('}')
                .map(|c| i + c)
                .ok_or(TemplateError::Unclosed { offset: i })?;
            let inner = &s[i + 2..close];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n.trim(), Some(d)),
                None => (inner.trim(), None),
            };
            if name.is_empty() {
                return Err(TemplateError::Empty { offset: i });
            }
            pieces.push(Piece::Var(Reference {
                name,
                default,
                offset: i,
            }));
            i = close + 1;
            rest_start = i;
        } else {
            i += 1;
        }
    }
    pieces.push(Piece::Text(&s[rest_start..]));
    Ok(pieces)
}

/// Renders a template, looking each `${NAME}` up with `lookup`.
pub fn render(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    if !s.contains('$') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    for piece in parse(s)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(r) => match (lookup(r.name), r.default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(TemplateError::Unknown {
                        name: r.name.to_owned(),
                    });
                }
            },
        }
    }
    Ok(out)
}

/// The variables a template uses, in order.
pub fn references(s: &str) -> Result<Vec<Reference<'_>>, TemplateError> {
    Ok(parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "USER" => Some("alice".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn known_variable_is_replaced() {
        assert_eq!(
            render("/hub/${USER}/x", vars).as_deref(),
            Ok("/hub/alice/x")
        );
    }

    #[test]
    fn default_applies_only_when_unknown() {
        assert_eq!(
            render("${NOPE:-bob} ${USER:-bob}", vars).as_deref(),
            Ok("bob alice")
        );
        assert_eq!(render("${EMPTY:-x}", vars).as_deref(), Ok(""));
    }

    #[test]
    fn unknown_variable_without_default_names_it() {
        let err = render("a ${MISSING} b", vars).unwrap_err();
        assert_eq!(err.to_string(), "unknown variable `MISSING`");
    }

    #[test]
    fn double_dollar_escapes_a_literal() {
        assert_eq!(
            render("$${USER} and $5", vars).as_deref(),
            Ok("${USER} and $5")
        );
    }

    #[test]
    fn unclosed_brace_is_an_error() {
        assert_eq!(
            render("x ${USER", vars),
            Err(TemplateError::Unclosed { offset: 2 })
        );
    }

    #[test]
    fn references_lists_names_and_defaults() {
        let refs = references("${a} $${b} ${c:-d}").unwrap();
        let names: Vec<_> = refs.iter().map(|r| (r.name, r.default)).collect();
        assert_eq!(names, vec![("a", None), ("c", Some("d"))]);
    }
}
