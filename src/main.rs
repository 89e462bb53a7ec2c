//! The `safety-bot` binary: everything happens in `cli::run`.

fn main() -> std::process::ExitCode {
    safety_bot::cli::run()
}
