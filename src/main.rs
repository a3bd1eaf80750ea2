//! The `jwtprobe` binary: parse arguments, run a command, map the result to an exit code.

fn main() -> std::process::ExitCode {
    jwtprobe::cli::main()
}
