//! Flags + config + environment → typed options, resolved once before any work starts (ripgrep's
//! `LowArgs` → `HiArgs` is the model). Nothing below the commands sees a clap struct or reads
//! the environment.

use std::path::PathBuf;
use std::time::Duration;

use dbrelease_remote::fetch::FetchOptions;
use dbrelease_remote::github::{GitHub, Token};
use dbrelease_remote::http::RetryPolicy;
use dbrelease_remote::reader::Origin;

use crate::cli::{FetchArgs, TargetArgs};
use crate::config::{S3Options, S3Section};
use crate::env::{self, EnvVars};
use crate::error::{Error, Result};

/// Change the targets, or only read them and print the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--dry-run`: read-only requests, the plan printed.
    DryRun,
    /// Execute the plan.
    Apply,
}

impl Mode {
    /// From `--dry-run`.
    pub fn from_flag(dry_run: bool) -> Self {
        if dry_run { Mode::DryRun } else { Mode::Apply }
    }
}

/// What to do with a published file whose bytes differ from ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse the whole publish before writing anything (the default: published data stays).
    Refuse,
    /// `--replace`: swap in the new bytes (a rolling tag).
    Replace,
}

impl OnConflict {
    /// From `--replace`.
    pub fn from_flag(replace: bool) -> Self {
        if replace {
            OnConflict::Replace
        } else {
            OnConflict::Refuse
        }
    }
}

/// The retry policy, with the test hooks `DBRELEASE_RETRY_MIN_MS` (shorter backoff; secondary
/// rate-limit waits scale with it) and `DBRELEASE_READ_TIMEOUT_MS`, so fault-injection tests
/// run in seconds.
pub fn retry_policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    let millis = |name: &str| {
        env::var(name)
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    if let Some(timeout) = millis(EnvVars::DBRELEASE_READ_TIMEOUT_MS) {
        policy.read_timeout = timeout;
    }
    if let Some(delay) = millis(EnvVars::DBRELEASE_RETRY_MIN_MS) {
        policy.min_delay = delay;
        policy.max_delay = delay * 20;
        policy.secondary_limit_wait = delay * 4;
    }
    policy
}

/// A GitHub client for `repo`: API from `GITHUB_API_URL` (GitHub Enterprise, the test fake),
/// token from `GITHUB_TOKEN` or `GH_TOKEN` when set.
pub fn github_client(repo: &str, retry: &RetryPolicy) -> GitHub {
    let token = env::var(EnvVars::GITHUB_TOKEN)
        .or_else(|| env::var(EnvVars::GH_TOKEN))
        .map(Token::new);
    let api = env::var(EnvVars::GITHUB_API_URL).unwrap_or_else(|| "https://api.github.com".into());
    GitHub::new(&api, repo, token, retry.clone())
}

/// Where a release's files are downloaded from on GitHub (`GITHUB_SERVER_URL`).
pub fn github_download_base(repo: &str, tag: &str) -> String {
    let server =
        env::var(EnvVars::GITHUB_SERVER_URL).unwrap_or_else(|| "https://github.com".into());
    format!(
        "{}/{repo}/releases/download/{}",
        server.trim_end_matches('/'),
        dbrelease_remote::http::url_segment(tag)
    )
}

/// The commit a new tag is created at (`GITHUB_SHA` in Actions).
pub fn release_commit() -> Option<String> {
    env::var(EnvVars::GITHUB_SHA)
}

/// The targets the flags select, completed from the config.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The repository: always with --github (or an error), otherwise when one is configured.
    pub repo: Option<String>,
    /// Publish to (or repair) GitHub.
    pub github: bool,
    /// S3, with --s3.
    pub s3: Option<S3Options>,
}

/// Resolves `--repo` (then `[github] repo`, then `GITHUB_REPOSITORY`) and the S3 options.
pub fn resolve_targets(
    targets: &TargetArgs,
    configured_repo: Option<&str>,
    configured_s3: &S3Section,
) -> Result<Targets> {
    let repo = targets
        .repo
        .clone()
        .or_else(|| configured_repo.map(str::to_string))
        .or_else(|| env::var(EnvVars::GITHUB_REPOSITORY));
    match &repo {
        Some(repo) => check_repo(repo)?,
        None if targets.github => {
            return Err(Error::Config(
                "no repository: pass --repo OWNER/NAME, set [github] repo in the config, or GITHUB_REPOSITORY".into(),
            ));
        }
        None => {}
    }
    let s3 = if targets.s3 {
        Some(configured_s3.resolve(targets.s3_bucket.as_deref(), targets.s3_prefix.as_deref())?)
    } else {
        None
    };
    Ok(Targets {
        repo,
        github: targets.github,
        s3,
    })
}

/// Refuses anything but `OWNER/NAME`.
pub fn check_repo(repo: &str) -> Result<()> {
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(Error::Config(format!(
            "repository {repo:?} must look like OWNER/NAME"
        )));
    }
    Ok(())
}

/// Where a reader reads from: `--repo` (GitHub) or `--base-url` (a URL prefix).
pub fn origin(repo: Option<&str>, base: Option<&str>, retry: &RetryPolicy) -> Result<Origin> {
    match (repo, base) {
        (Some(repo), None) => {
            check_repo(repo)?;
            Ok(Origin::GitHub(github_client(repo, retry)))
        }
        (None, Some(base)) => Ok(Origin::Url(base_url(base)?)),
        _ => Err(Error::Config(
            "say where the data is published: --repo OWNER/NAME or --base-url URL".into(),
        )),
    }
}

/// `fetch`'s flags and environment as [`FetchOptions`].
pub fn fetch_options(args: &FetchArgs) -> Result<FetchOptions> {
    let retry = retry_policy();
    let origin = origin(args.repo.as_deref(), args.base_url.as_deref(), &retry)?;
    let cache_root = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => dbrelease_remote::fetch::default_cache_root(
            env::var_os(EnvVars::XDG_CACHE_HOME),
            env::var_os(EnvVars::HOME),
        )?,
    };
    Ok(FetchOptions {
        origin,
        tag: args.tag.clone(),
        as_of: args.as_of.as_deref().map(as_of_day).transpose()?,
        assets: args.assets.clone(),
        cache_root,
        out: args.out.clone(),
        force: args.force,
        decompress: args.decompress,
        offline: args.offline,
        retry,
    })
}

/// `--as-of DATE` as a day.
fn as_of_day(text: &str) -> Result<dbrelease_manifest::dated::Day> {
    dbrelease_manifest::dated::Day::parse(text).ok_or_else(|| {
        Error::Config(format!(
            "--as-of {text:?} is not a date: write the UTC day as YYYY-MM-DD, e.g. --as-of 2026-12-01"
        ))
    })
}

/// An http(s) URL prefix, without its trailing slash.
pub fn base_url(base: &str) -> Result<String> {
    let parsed = url::Url::parse(base).map_err(|err| {
        Error::Config(format!(
            "--base-url {base:?} is not a URL ({err}); it looks like https://data.example.org/prefix"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "--base-url {base:?} must be an http(s) URL (for s3://bucket/prefix use the bucket's public https URL)"
        )));
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// Reads `--notes-file`, or nothing.
pub fn notes(path: Option<&PathBuf>) -> Result<String> {
    match path {
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            Error::Config(format!(
                "cannot read --notes-file {}: {err}",
                path.display()
            ))
        }),
        None => Ok(String::new()),
    }
}
