//! Diagnostics: a message, `file:line:col`, a caret, actual/expected and a hint.
//!
//! A [`Diagnostic`] is what every module reports when the user's input is wrong (a scenario
//! file, a config file, a key) or when a check fails at a known place in a file. It renders in
//! exactly one way, [`Diagnostic::render`], as plain text in the house style:
//!
//! ```text
//! error: invalid scenario `scenarios/smoke.yaml`
//!   --> scenarios/smoke.yaml:14:15
//!    |
//! 14 |       status: 2OO
//!    |               ^^^ expected an HTTP status code (100-599)
//!    |
//! hint: did you mean `200`?
//! ```
//!
//! The text carries no color, so the console, JUnit and HTML reports embed the same string.
//! [`did_you_mean`] is the one suggestion helper shared by every module.
//!
//! [`yaml`] reads YAML text into a `serde_json::Value` with a [`Span`] for every node, for the
//! readers of scenario and config files.
//!
//! [`printable`] makes text from outside (a target's response, a scenario's name) safe to print
//! to a terminal.
//!
//! This module is synchronous and does no I/O, except [`source`], which reads the files the
//! user names within limits.

use std::borrow::Cow;
use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};

pub mod schema;
pub mod source;
pub mod yaml;

/// Makes text safe to print to a terminal: control characters (ESC, BEL, CR, backspace, the
/// C1 range, DEL) and bidirectional overrides are shown escaped (`\x1b`, `\u{202e}`), so
/// bytes from a target or a scenario file cannot move the cursor, retitle the window, ring
/// the bell or reorder what is shown. Newlines and tabs stay as they are. Borrows when there
/// is nothing to escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// A range of a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Span {
    /// Byte offset of the first byte of the range.
    pub start: usize,
    /// Byte offset one past the last byte of the range.
    pub end: usize,
    /// Line of `start`, 1-based.
    pub line: usize,
    /// Column of `start`, 1-based, counted in characters.
    pub col: usize,
}

impl Span {
    /// The empty span at the start of a text (line 1, column 1): where a problem that has no
    /// better place is shown.
    pub const START: Self = Self {
        start: 0,
        end: 0,
        line: 1,
        col: 1,
    };
}

/// A place in a file: the file and a span in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Located {
    /// The file, as the user named it (relative paths stay relative).
    pub file: Utf8PathBuf,
    /// The range in the file.
    pub span: Span,
}

impl Located {
    /// A place in `file` covering `span`.
    pub fn new(file: impl Into<Utf8PathBuf>, span: Span) -> Self {
        Self {
            file: file.into(),
            span,
        }
    }
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.span.line, self.span.col)
    }
}

/// One problem to show to the user, optionally pointing at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The headline, in the `failed to …` / "invalid scenario `path`" style, without `error: `.
    pub message: String,
    /// Where the problem is, if known.
    pub location: Option<Located>,
    /// The text printed under the caret ("expected an HTTP status code (100-599)"); printed on
    /// its own line when there is no location.
    pub label: String,
    /// What was expected, when that helps (printed as `expected: …`).
    pub expected: Option<String>,
    /// What was found, when that helps (printed as `actual: …`); never a secret.
    pub actual: Option<String>,
    /// A suggested fix ("did you mean `200`?"), printed as `hint: …`.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a headline and a label, no location, no hint.
    pub fn new(message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: None,
            label: label.into(),
            expected: None,
            actual: None,
            hint: None,
        }
    }

    /// Sets the location.
    #[must_use]
    pub fn at(mut self, location: Option<Located>) -> Self {
        self.location = location;
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint if there is one.
    #[must_use]
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Sets the expected and actual values.
    #[must_use]
    pub fn with_values(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }

    /// Renders the diagnostic as plain text in the house style, ending with a newline.
    ///
    /// `source` is the text of the file named by the location; without it (or when the span
    /// lies outside it) only the `--> file:line:col` line is printed, not the snippet.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.message);
        self.write_location(&mut out, source);
        if let Some(expected) = &self.expected {
            let _ = writeln!(out, "  expected: {expected}");
        }
        if let Some(actual) = &self.actual {
            let _ = writeln!(out, "  actual: {actual}");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "hint: {hint}");
        }
        // The source line and the values come from files and targets.
        printable(&out).into_owned()
    }

    /// Renders only the place of the diagnostic, the part [`render`](Self::render) prints
    /// under the `error:` line: `--> file:line:col`, the source line, the caret and the label
    /// (or the label alone when there is no location). For an error whose headline and causes
    /// are printed by the caller, as `cli` prints a key that cannot be loaded.
    pub fn render_location(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        self.write_location(&mut out, source);
        // The source line comes from a file.
        printable(&out).into_owned()
    }

    fn write_location(&self, out: &mut String, source: Option<&str>) {
        let snippet = self.location.as_ref().and_then(|loc| {
            source
                .and_then(|src| source_line(src, loc.span.line))
                .map(|line| (loc, line))
        });
        match (&self.location, snippet) {
            (Some(_), Some((loc, line))) => {
                let number = loc.span.line.to_string();
                let pad = " ".repeat(number.len());
                let _ = writeln!(out, "{pad}--> {loc}");
                let _ = writeln!(out, "{pad} |");
                let (shown, caret_col, caret_len) = clip_long_line(caret_geometry(line, &loc.span));
                let _ = writeln!(out, "{number} | {}", shown.trim_end());
                let mut caret =
                    format!("{pad} | {}{}", " ".repeat(caret_col), "^".repeat(caret_len));
                if !self.label.is_empty() {
                    caret.push(' ');
                    caret.push_str(&self.label);
                }
                let _ = writeln!(out, "{caret}");
                let _ = writeln!(out, "{pad} |");
            }
            (Some(loc), None) => {
                let _ = writeln!(out, "  --> {loc}");
                if !self.label.is_empty() {
                    let _ = writeln!(out, "  {}", self.label);
                }
            }
            (None, _) => {
                if !self.label.is_empty() {
                    let _ = writeln!(out, "  {}", self.label);
                }
            }
        }
    }

    /// The file this diagnostic points into, if any.
    pub fn file(&self) -> Option<&Utf8Path> {
        self.location.as_ref().map(|l| l.file.as_path())
    }
}

/// Renders several diagnostics one after another, separated by blank lines.
///
/// `source_of` returns the text of a file named by a location (the reader keeps it).
pub fn render_all<'a>(
    diagnostics: &[Diagnostic],
    source_of: impl Fn(&Utf8Path) -> Option<&'a str>,
) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.render(d.file().and_then(&source_of)));
    }
    out
}

/// Width a tab takes when a source line is shown.
const TAB_WIDTH: usize = 4;

/// Returns the 1-based `line` of `source`, without its line ending.
fn source_line(source: &str, line: usize) -> Option<&str> {
    source
        .split('\n')
        .nth(line.checked_sub(1)?)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// Returns the line as shown (tabs expanded), the caret's display column (0-based) and length.
fn caret_geometry(line: &str, span: &Span) -> (String, usize, usize) {
    let mut shown = String::new();
    let mut caret_col = 0;
    let start_char = span.col.saturating_sub(1);
    let span_chars = span_char_len(line, start_char, span);
    let mut caret_len = 0;
    for (i, ch) in line.chars().enumerate() {
        let width = if ch == '\t' { TAB_WIDTH } else { 1 };
        if i < start_char {
            caret_col += width;
        } else if i < start_char + span_chars {
            caret_len += width;
        }
        if ch == '\t' {
            shown.push_str(&" ".repeat(TAB_WIDTH));
        } else {
            shown.push(ch);
        }
    }
    let line_chars = line.chars().count();
    if start_char > line_chars {
        caret_col += start_char - line_chars;
    }
    (shown, caret_col, caret_len.max(1))
}

/// The widest source line shown whole; a longer one is shown as a window around the caret.
const MAX_SHOWN_LINE: usize = 160;

/// Cuts a long shown line to [`MAX_SHOWN_LINE`] characters around the caret, marking the cuts
/// with `…` (a 20 KB line of a hostile file would otherwise flood the terminal).
fn clip_long_line((shown, caret_col, caret_len): (String, usize, usize)) -> (String, usize, usize) {
    let chars: Vec<char> = shown.chars().collect();
    if chars.len() <= MAX_SHOWN_LINE {
        return (shown, caret_col, caret_len);
    }
    let context = MAX_SHOWN_LINE / 2;
    let caret_len = caret_len.min(context);
    let start = caret_col.saturating_sub(context / 2).min(chars.len());
    let end = (start + MAX_SHOWN_LINE).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    (out, caret_col - start + usize::from(start > 0), caret_len)
}

/// Number of characters of the span on its first line.
fn span_char_len(line: &str, start_char: usize, span: &Span) -> usize {
    let rest: String = line.chars().skip(start_char).collect();
    let want_bytes = span.end.saturating_sub(span.start);
    let mut bytes = 0;
    let mut chars = 0;
    for ch in rest.chars() {
        if bytes >= want_bytes {
            break;
        }
        bytes += ch.len_utf8();
        chars += 1;
    }
    chars
}

/// Each item in backticks, joined by `, ` (the lists of names in messages).
pub fn backticked<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the candidate closest to `word`, if one is close enough to be a likely typo.
///
/// Uses Jaro-Winkler similarity (at least 0.8) and, for short words, a Levenshtein distance of
/// at most 2 relative to length; comparison ignores ASCII case.
pub fn did_you_mean<'a, I, S>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for candidate in candidates {
        let c = candidate.as_ref();
        if c == word {
            continue;
        }
        let cl = c.to_ascii_lowercase();
        let jw = strsim::jaro_winkler(&lower, &cl);
        let lev = strsim::levenshtein(&lower, &cl);
        let max_len = lower.chars().count().max(cl.chars().count());
        let close = lev <= 2 && lev < max_len && (max_len > 3 || lev <= 1);
        if jw >= 0.8 || close {
            let score = jw - lev as f64 * 0.01;
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((c, score));
            }
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_source_line_is_shown_as_a_window_around_the_caret() {
        let line = format!("{}BAD{}", "a".repeat(5_000), "b".repeat(5_000));
        let span = Span {
            start: 5_000,
            end: 5_003,
            line: 1,
            col: 5_001,
        };
        let d = Diagnostic::new("invalid", "here").at(Some(Located::new("x.yaml", span)));
        let text = d.render(Some(&line));
        assert!(text.lines().all(|l| l.chars().count() < 200), "{text}");
        let shown = text.lines().nth(3).unwrap();
        let caret = text.lines().nth(4).unwrap();
        let at = caret.find('^').unwrap();
        let under: String = shown.chars().skip(at).take(3).collect();
        assert_eq!(under, "BAD", "{text}");
    }

    #[test]
    fn printable_escapes_terminal_controls_and_keeps_newlines() {
        let shown = printable("ok\x1b]0;owned\x07 \x1b[2J\r\u{9b}\u{202e}x\nnext\tcol");
        assert_eq!(
            shown,
            "ok\\x1b]0;owned\\x07 \\x1b[2J\\x0d\\u{9b}\\u{202e}x\nnext\tcol"
        );
        assert!(matches!(printable("plain é"), Cow::Borrowed(_)));
    }

    fn status_diag() -> Diagnostic {
        Diagnostic {
            message: "invalid scenario `scenarios/smoke.yaml`".into(),
            location: Some(Located::new(
                "scenarios/smoke.yaml",
                Span {
                    start: 35,
                    end: 38,
                    line: 3,
                    col: 15,
                },
            )),
            label: "expected an HTTP status code (100-599)".into(),
            expected: None,
            actual: None,
            hint: Some("did you mean `200`?".into()),
        }
    }

    const SMOKE: &str = "steps:\n  - expect:\n      status: 2OO\n";

    #[test]
    fn render_matches_house_style_with_caret_under_span() {
        let out = status_diag().render(Some(SMOKE));
        assert_eq!(
            out,
            "error: invalid scenario `scenarios/smoke.yaml`\n \
             --> scenarios/smoke.yaml:3:15\n  |\n3 |       status: 2OO\n  |               ^^^ expected an HTTP status code (100-599)\n  |\nhint: did you mean `200`?\n"
        );
    }

    #[test]
    fn render_pads_gutter_to_line_number_width() {
        let mut d = status_diag();
        let src = format!("{}{SMOKE}", "\n".repeat(11));
        if let Some(loc) = d.location.as_mut() {
            loc.span.line = 14;
        }
        let out = d.render(Some(&src));
        assert!(out.contains("  --> scenarios/smoke.yaml:14:15\n   |\n14 |       status: 2OO\n   |               ^^^"), "{out}");
    }

    #[test]
    fn render_without_source_prints_location_and_label() {
        let out = status_diag().render(None);
        assert!(
            out.contains("  --> scenarios/smoke.yaml:3:15\n  expected an HTTP status code"),
            "{out}"
        );
    }

    #[test]
    fn render_without_location_prints_label_and_values() {
        let d = Diagnostic::new("check failed", "status differs").with_values("200", "401");
        assert_eq!(
            d.render(None),
            "error: check failed\n  status differs\n  expected: 200\n  actual: 401\n"
        );
    }

    #[test]
    fn caret_aligns_after_tabs() {
        let span = Span {
            start: 1,
            end: 2,
            line: 1,
            col: 2,
        };
        let (shown, col, len) = caret_geometry("\tx", &span);
        assert_eq!((shown.as_str(), col, len), ("    x", 4, 1));
    }

    #[test]
    fn did_you_mean_finds_close_typo() {
        assert_eq!(
            did_you_mean("expct", ["name", "expect", "request"].iter()),
            Some("expect")
        );
        assert_eq!(
            did_you_mean("rejct", &["reject".to_string(), "accept".to_string()]),
            Some("reject")
        );
    }

    #[test]
    fn did_you_mean_ignores_unrelated_words() {
        assert_eq!(
            did_you_mean("zzz", ["name", "expect", "request"].iter()),
            None
        );
    }
}
