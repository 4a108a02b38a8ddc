//! Every environment variable dbrelease reads, in one list (uv's `EnvVars` is the model). The
//! README's "Environment" table is checked against this list by a test, so neither drifts.
//! Reading happens through [`var`] and [`var_os`], which treat an empty value as unset (GitHub
//! Actions sets unset `env:` entries to the empty string).

use std::ffi::OsString;

/// The names, one constant each, with what they do.
pub struct EnvVars;

impl EnvVars {
    /// Token for GitHub (`contents: write` to publish; read access for private repositories).
    pub const GITHUB_TOKEN: &'static str = "GITHUB_TOKEN";
    /// Used when `GITHUB_TOKEN` is unset (the GitHub CLI's name for it).
    pub const GH_TOKEN: &'static str = "GH_TOKEN";
    /// GitHub REST API root (Actions sets it; GitHub Enterprise; the tests' fake).
    pub const GITHUB_API_URL: &'static str = "GITHUB_API_URL";
    /// GitHub web root, for download links in release notes.
    pub const GITHUB_SERVER_URL: &'static str = "GITHUB_SERVER_URL";
    /// `OWNER/NAME`, the repository when neither `--repo` nor `[github] repo` says.
    pub const GITHUB_REPOSITORY: &'static str = "GITHUB_REPOSITORY";
    /// The commit being released: a tag that does not exist yet is created there.
    pub const GITHUB_SHA: &'static str = "GITHUB_SHA";
    /// The Actions run, recorded in the manifest's `built_by` with the next two.
    pub const GITHUB_RUN_ID: &'static str = "GITHUB_RUN_ID";
    /// The run's attempt number.
    pub const GITHUB_RUN_ATTEMPT: &'static str = "GITHUB_RUN_ATTEMPT";
    /// The workflow file at its ref (`o/r/.github/workflows/release.yml@refs/heads/main`).
    pub const GITHUB_WORKFLOW_REF: &'static str = "GITHUB_WORKFLOW_REF";
    /// `true` inside GitHub Actions: log groups, `::error::` annotations.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    /// File that receives the Markdown step summary.
    pub const GITHUB_STEP_SUMMARY: &'static str = "GITHUB_STEP_SUMMARY";
    /// File that receives the step outputs (`tag`, `manifest-url`, …).
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    /// Unix time used for the gzip header mtime and the manifest's `created_at`.
    pub const SOURCE_DATE_EPOCH: &'static str = "SOURCE_DATE_EPOCH";
    /// Cache root of `fetch` (`$XDG_CACHE_HOME/dbrelease`).
    pub const XDG_CACHE_HOME: &'static str = "XDG_CACHE_HOME";
    /// Cache root of `fetch` when `XDG_CACHE_HOME` is unset (`$HOME/.cache/dbrelease`).
    pub const HOME: &'static str = "HOME";
    /// Log filter (tracing's syntax), overrides `-v`/`-q`.
    pub const RUST_LOG: &'static str = "RUST_LOG";
    /// Test hook: the first retry delay in milliseconds (fault-injection tests run in seconds).
    pub const DBRELEASE_RETRY_MIN_MS: &'static str = "DBRELEASE_RETRY_MIN_MS";
    /// Test hook: how long a silent connection may last, in milliseconds.
    pub const DBRELEASE_READ_TIMEOUT_MS: &'static str = "DBRELEASE_READ_TIMEOUT_MS";
    /// Test hook: the time of the run (RFC 3339, e.g. `2026-12-05T04:17:00Z`) instead of the
    /// clock; it names `--tag auto` versions and stamps `published_at` in `versions.json`.
    pub const DBRELEASE_NOW: &'static str = "DBRELEASE_NOW";
    /// S3 endpoint (MinIO, R2, test servers); read by the AWS SDK, like the rest of its
    /// standard variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`, …).
    pub const AWS_ENDPOINT_URL: &'static str = "AWS_ENDPOINT_URL";

    /// Every name above, for the README check.
    pub const ALL: &'static [&'static str] = &[
        Self::GITHUB_TOKEN,
        Self::GH_TOKEN,
        Self::GITHUB_API_URL,
        Self::GITHUB_SERVER_URL,
        Self::GITHUB_REPOSITORY,
        Self::GITHUB_SHA,
        Self::GITHUB_RUN_ID,
        Self::GITHUB_RUN_ATTEMPT,
        Self::GITHUB_WORKFLOW_REF,
        Self::GITHUB_ACTIONS,
        Self::GITHUB_STEP_SUMMARY,
        Self::GITHUB_OUTPUT,
        Self::SOURCE_DATE_EPOCH,
        Self::XDG_CACHE_HOME,
        Self::HOME,
        Self::RUST_LOG,
        Self::DBRELEASE_RETRY_MIN_MS,
        Self::DBRELEASE_READ_TIMEOUT_MS,
        Self::DBRELEASE_NOW,
        Self::AWS_ENDPOINT_URL,
    ];
}

/// The variable's value; None when unset, empty or not Unicode.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The variable's raw value; None when unset or empty.
pub fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

/// The time of the run: the clock, or `DBRELEASE_NOW` (tests).
pub fn now() -> crate::error::Result<jiff::Timestamp> {
    match var(EnvVars::DBRELEASE_NOW) {
        None => Ok(jiff::Timestamp::now()),
        Some(text) => text.parse().map_err(|err| {
            crate::error::Error::Config(format!(
                "{}={text:?} is not an RFC 3339 time such as 2026-12-05T04:17:00Z: {err}",
                EnvVars::DBRELEASE_NOW
            ))
        }),
    }
}

/// The UTC day of the run.
pub fn today() -> crate::error::Result<dbrelease_manifest::dated::Day> {
    let date = now()?.to_zoned(jiff::tz::TimeZone::UTC).date();
    Ok(dbrelease_manifest::dated::Day {
        year: date.year() as u32,
        month: date.month() as u32,
        day: date.day() as u32,
    })
}

/// The time of the run as RFC 3339 in UTC, to the second.
pub fn now_rfc3339() -> crate::error::Result<String> {
    Ok(now()?
        .round(jiff::Unit::Second)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string())
}

/// The GitHub Actions run this process is part of, for the manifest's `built_by`; None outside
/// Actions (a local build records no run).
pub fn build_run() -> Option<dbrelease_manifest::BuildRun> {
    if var(EnvVars::GITHUB_ACTIONS).as_deref() != Some("true") {
        return None;
    }
    let repository = var(EnvVars::GITHUB_REPOSITORY)?;
    let run_id = var(EnvVars::GITHUB_RUN_ID)?;
    let server = var(EnvVars::GITHUB_SERVER_URL).unwrap_or_else(|| "https://github.com".into());
    Some(dbrelease_manifest::BuildRun {
        url: format!(
            "{}/{repository}/actions/runs/{run_id}",
            server.trim_end_matches('/')
        ),
        repository,
        run_id,
        run_attempt: var(EnvVars::GITHUB_RUN_ATTEMPT),
        commit: var(EnvVars::GITHUB_SHA),
        workflow: var(EnvVars::GITHUB_WORKFLOW_REF),
    })
}
