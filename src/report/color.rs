//! Colour on the terminal: `--color auto|always|never` and `NO_COLOR`.
//!
//! Only the console formats colour anything, and only the words that carry the verdict
//! (PASS, FAIL, pass, breached); every line reads the same without colour. `auto` colours when
//! stderr is a terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`
//! (<https://no-color.org>); `always` wins over `NO_COLOR`.

use std::io::IsTerminal as _;

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour, even into a pipe or with `NO_COLOR`.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether the stream is a terminal and the environment.
    pub fn enabled_for(
        self,
        is_terminal: bool,
        no_color: Option<&str>,
        term: Option<&str>,
    ) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => is_terminal && no_color.is_none_or(str::is_empty) && term != Some("dumb"),
        }
    }

    /// The palette for stderr under this choice and the process environment.
    pub fn stderr_palette(self) -> Palette {
        let no_color = std::env::var("NO_COLOR").ok();
        let term = std::env::var("TERM").ok();
        Palette {
            enabled: self.enabled_for(
                std::io::stderr().is_terminal(),
                no_color.as_deref(),
                term.as_deref(),
            ),
        }
    }
}

/// Paints verdict words with ANSI colours, or leaves them as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Palette {
    /// Whether to emit ANSI escapes.
    pub enabled: bool,
}

impl Palette {
    /// A palette that paints (`true`) or not.
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Green bold: a pass.
    pub fn pass(self, text: &str) -> String {
        self.paint("1;32", text)
    }

    /// Red bold: a failure.
    pub fn fail(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Yellow: a warning, such as a schedule that was not kept.
    pub fn warn(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Dim: skipped.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_a_terminal_unless_no_color_or_dumb() {
        assert!(ColorChoice::Auto.enabled_for(true, None, Some("xterm")));
        assert!(ColorChoice::Auto.enabled_for(true, Some(""), None));
        assert!(!ColorChoice::Auto.enabled_for(true, Some("1"), None));
        assert!(!ColorChoice::Auto.enabled_for(true, None, Some("dumb")));
        assert!(!ColorChoice::Auto.enabled_for(false, None, None));
    }

    #[test]
    fn always_wins_over_no_color_and_never_over_a_terminal() {
        assert!(ColorChoice::Always.enabled_for(false, Some("1"), None));
        assert!(!ColorChoice::Never.enabled_for(true, None, None));
    }

    #[test]
    fn disabled_palette_leaves_words_alone() {
        assert_eq!(Palette::new(false).fail("FAIL"), "FAIL");
        assert_eq!(Palette::new(true).pass("PASS"), "\x1b[1;32mPASS\x1b[0m");
    }
}
