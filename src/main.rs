//! The `jwtprobe` binary: parse arguments, run a command, map the result to an exit code.
//!
//! `cli` is declared here, not in the library, so that nothing in the library can import it.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
