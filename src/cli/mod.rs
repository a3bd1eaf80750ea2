//! Command-line interface: clap arguments, settings construction and exit codes.
//!
//! Each command lives in its own file and exposes an `Args` struct (its clap arguments, whose
//! doc comments are the help text) and a `run` function returning an [`Exit`] or a
//! [`CliError`]. This module parses the command line, dispatches, prints errors in the house
//! style (`error: …`, `caused by: …`, `hint: …`) and maps the outcome to a process exit code.
//! Nothing else in the crate imports `cli`.

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};

use jwtprobe::report::color::{ColorChoice, Palette};
use jwtprobe::settings::SettingsError;

pub(crate) mod bench;
pub(crate) mod cancel;
pub(crate) mod completions;
pub(crate) mod init;
pub(crate) mod keyfile;
pub(crate) mod keys;
pub(crate) mod load;
pub(crate) mod merge;
pub(crate) mod mock;
pub(crate) mod probe;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod target;
pub(crate) mod token;
pub(crate) mod validate;

/// The documented process exit codes (see `DESIGN.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// Everything passed.
    Success = 0,
    /// The command line was wrong.
    Usage = 1,
    /// A scenario or config file is invalid.
    Invalid = 2,
    /// A runtime error: a key unreadable, the target unreachable, a report unwritable.
    Runtime = 3,
    /// A check failed.
    CheckFailed = 4,
    /// A load threshold was breached.
    ThresholdBreached = 5,
    /// `run` or `load` was stopped by SIGINT or SIGTERM; the reports cover what ran.
    Interrupted = 130,
}

impl Exit {
    /// Combines two outcomes: a runtime error outranks a check failure, which outranks a
    /// threshold breach.
    pub(crate) fn worst(self, other: Self) -> Self {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Success => 0,
                Exit::ThresholdBreached => 1,
                Exit::CheckFailed => 2,
                Exit::Runtime => 3,
                Exit::Interrupted => 4,
                Exit::Invalid => 5,
                Exit::Usage => 6,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(e as u8)
    }
}

/// An error that ends a command, with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct CliError {
    /// The exit code to return.
    pub(crate) exit: Exit,
    /// The error and its chain of causes.
    pub(crate) error: anyhow::Error,
    /// Text already rendered (for example span diagnostics), printed as is before the error.
    pub(crate) rendered: Option<String>,
    /// Where the error is, rendered (`--> file:line:col`, the line and a caret), printed under
    /// the `error:` line and above its causes.
    pub(crate) location: Option<String>,
    /// A hint printed after the error when we know the fix.
    pub(crate) hint: Option<String>,
}

impl CliError {
    /// A bad command line (exit 1).
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Usage, error)
    }
    /// An invalid scenario or config file (exit 2).
    pub(crate) fn invalid(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Invalid, error)
    }
    /// A runtime error (exit 3).
    pub(crate) fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Runtime, error)
    }
    /// An error with the given exit code.
    pub(crate) fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
            rendered: None,
            location: None,
            hint: None,
        }
    }
    /// Adds pre-rendered text (diagnostics with carets) printed before the error line.
    pub(crate) fn with_rendered(mut self, rendered: String) -> Self {
        self.rendered = Some(rendered);
        self
    }
    /// Adds the place of the error, rendered, printed under the `error:` line.
    pub(crate) fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
    /// Adds a `hint:` line.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// What every command returns.
pub(crate) type CmdResult = Result<Exit, CliError>;

impl From<SettingsError> for CliError {
    /// The exit code, wording and hint of each settings error, as `run` reports it (`load`
    /// words a few its own way first).
    fn from(e: SettingsError) -> Self {
        let emulator_hint = "pass `--target URL` to test a real server, or `--mock-config FILE`";
        match e {
            SettingsError::Scenarios(errors) => {
                let rendered = errors.render();
                Self::invalid(anyhow::Error::new(errors))
                    .with_rendered(rendered)
                    .with_hint("`jwtprobe validate PATH` checks files without sending anything; `docs/scenarios.md` describes the format")
            }
            SettingsError::Keys(e) => {
                let hint = e.hint();
                let location = e.render_location();
                let err = Self::runtime(e).with_location(location);
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            }
            e @ (SettingsError::NoScenario { .. } | SettingsError::Flag(_)) => Self::usage(e),
            SettingsError::NoLoad => Self::usage(e).with_hint(
                "or add a `load:` block with `rate`, `users` or `stages` to the scenario",
            ),
            SettingsError::NoEmulator(_) => Self::usage(e).with_hint(emulator_hint),
            e @ (SettingsError::SuiteTarget { .. } | SettingsError::Stage(_)) => Self::invalid(e),
            SettingsError::Thresholds { count, rendered } => {
                let e = SettingsError::Thresholds {
                    count,
                    rendered: String::new(),
                };
                Self::invalid(e).with_rendered(rendered)
            }
        }
    }
}

/// Test JWT authentication at a reverse proxy, end to end and under load.
///
/// jwtprobe mints signed tokens from YAML scenarios, sends them to a target (by default the
/// built-in emulator of the Qlik Sense virtual proxy) and checks the answers.
#[derive(Debug, Parser)]
#[command(
    name = "jwtprobe",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Examples:
  jwtprobe run scenarios/qlik --json --html
  jwtprobe load scenarios/load/bearer.yaml --rate 100 --duration 2s --threshold 'p99 < 500ms'
  jwtprobe report reports/run.json --html reports/run.html

Exit codes: 0 all passed, 1 bad command line, 2 invalid scenario or config, 3 runtime error, \
4 a check failed, 5 a load threshold was breached."
)]
pub(crate) struct Cli {
    /// When to colour PASS/FAIL on the terminal (`NO_COLOR` turns `auto` off).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The palette chosen by `--color` for this process.
static PALETTE: OnceLock<Palette> = OnceLock::new();

/// The palette for stderr chosen by `--color` (no colour until the command line is parsed).
pub(crate) fn palette() -> Palette {
    PALETTE.get().copied().unwrap_or_default()
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run scenarios and check every step.
    Run(run::Args),
    /// Check scenario files without sending anything.
    Validate(validate::Args),
    /// Write a starter suite with the conformance pack into a folder.
    Init(init::Args),
    /// Print the JSON Schema of the scenario format.
    Schema(schema::Args),
    /// Run scenarios under fixed-rate or fixed-user load.
    Load(load::Args),
    /// Merge HdrHistogram interval logs from several shards into one.
    Merge(merge::Args),
    /// Turn a saved JSON report or interval logs into HTML or a Markdown summary.
    Report(report::Args),
    /// Serve the Qlik virtual proxy emulator.
    Mock(mock::Args),
    /// Import, generate and describe keys and certificates.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Mint and inspect tokens.
    #[command(subcommand)]
    Token(token::Command),
    /// Send a token to a URL and explain a 400/401.
    Probe(probe::Args),
    /// Measure verification throughput.
    #[command(subcommand)]
    Bench(bench::Command),
    /// Print shell completions.
    Completions(completions::Args),
}

/// Parses the command line, runs the command and returns the process exit code.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            // Help and version go to stdout; usage errors to stderr. clap knows which.
            let _ = e.print();
            return code.into();
        }
    };
    let _ = PALETTE.set(cli.color.stderr_palette());
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Init(args) => init::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Load(args) => load::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Report(args) => report::run(args),
        Command::Mock(args) => mock::run(args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Token(cmd) => token::run(cmd),
        Command::Probe(args) => probe::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Completions(args) => completions::run(args),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprint!("{}", render_error(&err));
            err.exit.into()
        }
    }
}

/// Renders an error in the house style: optional diagnostics, `error:` with the outermost
/// context, one `caused by:` line per cause, then an optional `hint:`.
pub(crate) fn render_error(err: &CliError) -> String {
    let mut out = String::new();
    if let Some(rendered) = &err.rendered {
        out.push_str(rendered);
        if !rendered.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(&format!("error: {}\n", err.error));
    if let Some(location) = &err.location {
        out.push_str(location);
    }
    for cause in err.error.chain().skip(1) {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    if let Some(hint) = &err.hint {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

/// Builds a multi-threaded tokio runtime for commands that do network I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context("failed to start the async runtime"))
        })
}

#[cfg(test)]
mod tests {
    //! The clap tree itself; `tests/it/cli_help.rs` checks the help the binary prints.
    use clap::{CommandFactory as _, Parser as _};

    use super::Cli;

    #[test]
    fn old_flag_spellings_still_parse_but_are_hidden() {
        let cli = Cli::try_parse_from(["jwtprobe", "mock", "--config", "x.yaml"]);
        assert!(cli.is_ok(), "mock --config: {cli:?}");
        let cli = Cli::try_parse_from(["jwtprobe", "token", "inspect", "t", "--audience", "a"]);
        assert!(cli.is_ok(), "token inspect --audience: {cli:?}");
        let mut cmd = Cli::command();
        let mock = cmd
            .find_subcommand_mut("mock")
            .unwrap()
            .render_help()
            .to_string();
        assert!(mock.contains("--mock-config"), "{mock}");
        assert!(!mock.contains("--config <"), "{mock}");
        let inspect = cmd
            .find_subcommand_mut("token")
            .unwrap()
            .find_subcommand_mut("inspect")
            .unwrap()
            .render_help()
            .to_string();
        assert!(inspect.contains("--aud <AUD>"), "{inspect}");
        assert!(!inspect.contains("--audience"), "{inspect}");
    }
}
