//! dbrelease: publish a DuckDB database as a versioned, checksummed data release.
//!
//! The data moves one way: `config` + flags + environment → [`options`] (resolved once) →
//! [`build`] (DuckDB snapshot → Parquet, gzip, manifest) → [`plan`] (a pure diff against what a
//! target holds) → [`target`] (one executor; GitHub and S3 behind one trait) → verify →
//! [`render`]. [`commands`] reads as the table of contents of each run. The manifest types live
//! in `dbrelease-manifest`, the HTTP reading side (fetch, verify over HTTP, the GitHub client)
//! in `dbrelease-remote`.

pub mod actions;
pub mod allocator;
pub mod build;
pub mod card;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod env;
pub mod error;
pub mod escape;
pub mod notes;
pub mod options;
pub mod plan;
pub mod render;
pub mod target;
pub mod usage;

use std::io::IsTerminal;

use dbrelease_remote::fetch::FetchOutcome;
use dbrelease_remote::progress::Progress;
use serde::Serialize;

use cli::{Cli, Command};
use error::Result;

/// Runs the parsed command line; the caller maps the error to an exit code.
pub fn run(cli: &Cli) -> Result<()> {
    let progress =
        |json: bool| Progress::new(!cli.quiet && !json && std::io::stderr().is_terminal());
    match &cli.command {
        Command::Init(args) => {
            let path = commands::init::run(args)?;
            println!("{}", path.display());
            eprintln!(
                "wrote {}: read it, then `dbrelease build` (or `dbrelease publish --github --tag vX --dry-run`)",
                path.display()
            );
        }
        Command::Build(args) => {
            let outcome = commands::build::run(args, &progress(args.json))?;
            if args.json {
                print!("{}", render::build::build_json(&outcome));
            } else {
                print!(
                    "{}",
                    escape::terminal_safe(&render::build::build_table(&outcome))
                );
            }
        }
        Command::Publish(args) => {
            let report = commands::publish::run(args, &progress(args.build.json))?;
            print_report(args.build.json, &report, render::publish::report_table);
        }
        Command::Republish(args) => {
            let report = commands::republish::run(args, &progress(args.build.json))?;
            print_report(args.build.json, &report, commands::republish::report_text);
        }
        Command::Verify(args) => {
            let checks = commands::verify::run(args)?;
            print_report(args.json, &checks, |c: &Vec<_>| {
                render::verify::report_text(c)
            });
            commands::verify::verdict(&args.tag, &checks)?;
        }
        Command::Fetch(args) => match commands::fetch::run(args, progress(args.json))? {
            FetchOutcome::Files(report) => {
                print_report(args.json, &report, dbrelease_remote::fetch::paths_text)
            }
            FetchOutcome::List(list) => {
                print_report(args.json, &list, dbrelease_remote::fetch::list_text)
            }
        },
        Command::Describe(args) => {
            let card = commands::describe::run(args)?;
            print_report(args.json, &card, card::text);
        }
        Command::Stats(args) => {
            let stats = commands::stats::run(args)?;
            print_report(args.json, &stats, render::stats::text);
        }
        Command::ManifestSchema => {
            let schema = serde_json::to_string_pretty(&dbrelease_manifest::json_schema())
                .expect("schema serializes");
            println!("{schema}");
        }
    }
    Ok(())
}

/// Prints `report` as pretty JSON with `--json`, else as `text` renders it.
fn print_report<T: Serialize>(json: bool, report: &T, text: impl Fn(&T) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("reports serialize")
        );
    } else {
        print!("{}", escape::terminal_safe(&text(report)));
    }
}
