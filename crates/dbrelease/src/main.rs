//! Thin entry point: parse, set up logging, run, map the error to an exit code.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use dbrelease::cli::Cli;

fn main() {
    dbrelease::allocator::tune_for_build();
    let cli = Cli::parse();
    init_tracing(&cli);
    if let Err(err) = dbrelease::run(&cli) {
        eprintln!(
            "error: {}",
            dbrelease::escape::terminal_safe(&err.to_string())
        );
        dbrelease::actions::error(&err.to_string());
        std::process::exit(err.exit_code());
    }
}

fn init_tracing(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "dbrelease=debug,info",
        (false, _) => "dbrelease=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| dbrelease::escape::SafeStderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}
