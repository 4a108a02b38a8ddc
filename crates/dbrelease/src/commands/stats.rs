//! `dbrelease stats`: who uses the data, as far as GitHub can tell — the download count of
//! every asset of every published release (past the 1000 releases GitHub lists), totalled per
//! version, per file and per month of publication, against the study's threshold (500
//! downloads a month: below it GitHub Releases is enough, above it a CDN or S3 pays).
//!
//! GitHub's counts are cumulative and undated. `--record FILE` appends one dated snapshot per
//! run; with two snapshots a month apart the downloads *in* a month are known, not guessed.

use std::io::Write;
use std::path::Path;

use crate::cli::StatsArgs;
use crate::env::{self, EnvVars};
use crate::error::{Error, Result};
use crate::options;
use crate::usage::{Snapshot, Stats, snapshot, summarize};

/// Runs `dbrelease stats`.
pub fn run(args: &StatsArgs) -> Result<Stats> {
    let repo = match &args.repo {
        Some(repo) => repo.clone(),
        None => env::var(EnvVars::GITHUB_REPOSITORY).ok_or_else(|| {
            Error::Config("say which repository: --repo OWNER/NAME (or GITHUB_REPOSITORY)".into())
        })?,
    };
    options::check_repo(&repo)?;
    let client = options::github_client(&repo, &options::retry_policy());
    let now = env::now_rfc3339()?;
    let history = match &args.record {
        Some(path) => read_history(path)?,
        None => Vec::new(),
    };
    let runtime = dbrelease_remote::runtime()?;
    let releases = runtime.block_on(client.every_published_release())?;
    let mut stats = summarize(&repo, &now, &releases, &history);
    stats.requests = client.requests_sent();
    if let Some(path) = &args.record {
        append_snapshot(path, &snapshot(&stats))?;
    }
    if let Some(path) = &args.svg {
        crate::commands::write_new(
            path,
            crate::render::stats::svg(&stats, args.months).as_bytes(),
        )?;
    }
    Ok(stats)
}

/// The snapshots in a `--record` file (none when it does not exist yet). A line that is not
/// a snapshot is an error naming it: the file is the user's history, not to be guessed at.
fn read_history(path: &Path) -> Result<Vec<Snapshot>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(Error::Config(format!(
                "cannot read --record {}: {err}",
                path.display()
            )));
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, line)| {
            serde_json::from_str(line).map_err(|err| {
                Error::Config(format!(
                    "{}:{}: not a snapshot written by `dbrelease stats --record` ({err}); move the file away or fix the line",
                    path.display(),
                    at + 1
                ))
            })
        })
        .collect()
}

/// Appends one JSON line to `path` (created when missing; only a regular file is appended to).
fn append_snapshot(path: &Path, snapshot: &Snapshot) -> Result<()> {
    if let Ok(metadata) = std::fs::metadata(path)
        && !metadata.is_file()
    {
        return Err(Error::Config(format!(
            "--record {} is not a regular file",
            path.display()
        )));
    }
    let mut line = serde_json::to_string(snapshot).expect("snapshots serialize");
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()))
        .map_err(|err| Error::output(path, &err))
}
