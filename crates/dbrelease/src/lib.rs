//! dbrelease: publish a DuckDB database as a versioned, checksummed data release.
//!
//! The run reads as one pipeline: config → snapshot → artifacts → manifest (this crate's
//! `build`), then plan → execute → verify for the publish targets.

pub mod actions;
pub mod build;
pub mod cli;
pub mod compare;
pub mod config;
pub mod error;
pub mod fetch;
pub mod manifest;
pub mod naming;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod remote;
pub mod report;
pub mod verify;

use std::io::IsTerminal;

use cli::{Cli, Command};
use error::Result;

/// Runs the parsed command line; the caller maps the error to an exit code.
pub fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Build(args) => {
            let config = config::load_build_config(args)?;
            let show_progress = !cli.quiet && !args.json && std::io::stderr().is_terminal();
            let outcome = build::run_build(&config, &progress::Progress::new(show_progress))?;
            if args.json {
                print!("{}", report::build_json(&outcome));
            } else {
                print!("{}", report::build_table(&outcome));
            }
            Ok(())
        }
        Command::Publish(args) => {
            let json = args.build.json;
            let show_progress = !cli.quiet && !json && std::io::stderr().is_terminal();
            let report = publish::run_publish(args, &progress::Progress::new(show_progress))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", publish::report_table(&report));
            }
            Ok(())
        }
        Command::Fetch(args) => {
            let show_progress = !cli.quiet && !args.json && std::io::stderr().is_terminal();
            match fetch::run_fetch(args, progress::Progress::new(show_progress))? {
                fetch::FetchOutcome::Files(report) if args.json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                ),
                fetch::FetchOutcome::Files(report) => print!("{}", fetch::paths_text(&report)),
                fetch::FetchOutcome::List(list) if args.json => println!(
                    "{}",
                    serde_json::to_string_pretty(&list).expect("list serializes")
                ),
                fetch::FetchOutcome::List(list) => print!("{}", fetch::list_text(&list)),
            }
            Ok(())
        }
        Command::Republish(args) => {
            let json = args.build.json;
            let show_progress = !cli.quiet && !json && std::io::stderr().is_terminal();
            let report =
                publish::republish::run_republish(args, &progress::Progress::new(show_progress))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", publish::republish::report_text(&report));
            }
            Ok(())
        }
        Command::Verify(args) => {
            let checks = verify::run_verify(args)?;
            actions::summary(&verify::summary_markdown(&checks));
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&checks).expect("checks serialize")
                );
            } else {
                print!("{}", verify::report_text(&checks));
            }
            let problems: Vec<String> = checks
                .iter()
                .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.target)))
                .collect();
            if problems.is_empty() {
                Ok(())
            } else {
                Err(error::Error::Integrity(format!(
                    "release {} does not match its manifest ({} problems):\n  {}",
                    args.tag,
                    problems.len(),
                    problems.join("\n  ")
                )))
            }
        }
        Command::ManifestSchema => {
            let schema =
                serde_json::to_string_pretty(&manifest::json_schema()).expect("schema serializes");
            println!("{schema}");
            Ok(())
        }
    }
}
