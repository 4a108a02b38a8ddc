//! Command-line definitions only: parsing lives here, behaviour lives in the modules it calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Publish a DuckDB database as a versioned, checksummed data release.
///
/// dbrelease exports every table to Parquet, gzips the database file reproducibly and
/// writes manifest.json, SHA256SUMS and datapackage.json describing every artifact.
#[derive(Debug, Parser)]
#[command(name = "dbrelease", version, propagate_version = true)]
#[command(
    after_help = format!(
        "Start with `dbrelease build --help`; consumers start with `dbrelease fetch --help`.\n\n{}",
        crate::error::exit_codes_help()
    )
)]
pub struct Cli {
    /// More log detail (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only print errors and the final result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented dbrelease.toml for a database: its tables, a sort order from each
    /// primary key, the GitHub repository from the git remote. Reads the database read-only.
    Init(InitArgs),

    /// Build the release artifacts into the output directory, offline.
    ///
    /// Opens the database read-only, writes one zstd Parquet file per table, a reproducible
    /// gzip of the database file, and manifest.json, SHA256SUMS and datapackage.json.
    /// Nothing outside the output directory is touched.
    Build(BuildArgs),

    /// Build, then publish to GitHub Releases and/or S3: draft → upload → verify → publish.
    ///
    /// First compares the data with the previous release and refuses a table that lost rows
    /// or disappeared, or a column dropped or retyped (--allow-regression to override).
    /// Re-running converges: identical files are skipped by sha256, leftovers of failed
    /// uploads are cleaned up, and published files that differ are refused unless --replace.
    /// manifest.json is always uploaded last. In GitHub Actions it writes a step summary and
    /// step outputs (tag, release-url, manifest-url, artifacts).
    Publish(PublishArgs),

    /// Download a published release's files, verified against its manifest, into a cache.
    ///
    /// Prints the local path of each file, so `duckdb "$(dbrelease fetch --repo o/r
    /// --tag v1.2.0 --decompress)"` opens the released database. A pinned tag already in the
    /// cache needs no network; `latest` costs one conditional request. Interrupted downloads
    /// resume; a file whose sha256 differs from the manifest is deleted and reported.
    Fetch(FetchArgs),

    /// Repair or mirror a release that is already published, from its own manifest.
    ///
    /// Verifies each target against the published manifest.json, gathers files identical to
    /// it (already in --out, else downloaded from a target where they are intact, else rebuilt
    /// from the database and used only if byte-identical), then uploads what is missing: a
    /// GitHub release that lost assets, or an S3 mirror added after the release. Published
    /// bytes are never changed without --replace, and a second run does nothing.
    Republish(RepublishArgs),

    /// Check a published release against its own manifest, byte for byte.
    ///
    /// Streams every artifact listed in the release's manifest.json and compares size and
    /// sha256; checks that nothing listed is missing, that SHA256SUMS agrees, and (GitHub) that
    /// downloads answer Range requests. Exit 1 with every mismatch listed.
    Verify(VerifyArgs),

    /// Show a published version's data card: per table its rows, its columns with type, null
    /// count and min/max (from the Parquet statistics recorded in the manifest), and what
    /// changed since the version before it (rows, columns, the new range of the sort key).
    ///
    /// Reads only manifests, never the data: `dbrelease describe --repo o/r` describes the
    /// latest version; `--json` prints the card as JSON.
    Describe(DescribeArgs),

    /// Downloads of a repository's releases, from GitHub's per-asset download counts.
    ///
    /// Totals per version, per file and per month of publication, a bar chart, and whether the
    /// last month passed the threshold where a CDN or S3 pays (500 downloads a month). GitHub's
    /// counts are cumulative and have no dates: `--record FILE` appends today's snapshot as one
    /// JSON line, so a history builds up across runs (S3 has no counts without access logs).
    Stats(StatsArgs),

    /// Print the JSON Schema of manifest.json.
    ManifestSchema,
}

/// Options of `dbrelease describe`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("origin").required(true).args(["repo", "base_url"])))]
pub struct DescribeArgs {
    /// GitHub repository whose releases to read.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// URL prefix holding versions.json and {tag}/{file}: the S3 bucket's public URL or a CDN.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// The version to describe, or `latest`.
    #[arg(long, value_name = "TAG", default_value = "latest")]
    pub tag: String,

    /// Print the card as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dbrelease stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// GitHub repository (default: GITHUB_REPOSITORY).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// Also draw the chart as an SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Append this run's counts as one dated JSON line to FILE (created when missing).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Months drawn in the --svg chart, the newest (every version is counted either way).
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub months: usize,

    /// Print the statistics as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dbrelease republish`.
#[derive(Debug, Args)]
pub struct RepublishArgs {
    /// Config, database (only read if a file must be rebuilt), output folder, and the tag.
    #[command(flatten)]
    pub build: BuildArgs,

    /// What to repair or mirror to (with --s3 alone, a configured repository is where the
    /// files are mirrored from).
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Verify and print the plan; change nothing on the targets (files are still gathered
    /// into --out).
    #[arg(long)]
    pub dry_run: bool,

    /// Also overwrite published files whose bytes differ from the manifest.
    #[arg(long)]
    pub replace: bool,
}

/// Options of `dbrelease verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The release to check, e.g. v1.2.0.
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    /// What to check: GitHub (anonymously unless a token is set) and/or S3 (through the S3
    /// API, so private buckets work).
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Check a copy served under this URL prefix (holding {tag}/{file}, e.g. a CDN).
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,

    /// Configuration file to read [github] and [s3] from (optional for verify).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dbrelease fetch`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("origin").required(true).args(["repo", "base_url"])))]
pub struct FetchArgs {
    /// Files to fetch: artifact names (`trades.parquet`), table names (`trades`), or `all`.
    /// Default: the gzipped database.
    #[arg(value_name = "ASSET")]
    pub assets: Vec<String>,

    /// GitHub repository whose releases to read (API from GITHUB_API_URL; GITHUB_TOKEN or
    /// GH_TOKEN is used when set, and needed for private repositories).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// URL prefix holding versions.json and {tag}/{file}: the S3 bucket's public URL or a CDN.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Version to fetch: a tag such as v1.2.0, or `latest` (newest published, not a pre-release).
    #[arg(long, value_name = "TAG", default_value = "latest")]
    pub tag: String,

    /// Version as of a day: the one that was the newest release at the end of DATE (UTC,
    /// YYYY-MM-DD), e.g. the data a paper used on 2026-12-01. Resolved once, then cached like
    /// a pinned tag (works with --offline). Not with --tag.
    #[arg(long, value_name = "DATE", conflicts_with = "tag")]
    pub as_of: Option<String>,

    /// Cache root (default: $XDG_CACHE_HOME/dbrelease, else ~/.cache/dbrelease).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Also copy the files here: a file path for one file, a folder for several.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Replace files in --out that this fetch did not put there (by default such a file is
    /// left alone and the fetch fails).
    #[arg(long)]
    pub force: bool,

    /// Gunzip the database into the cache (checked against the manifest) and print that path.
    #[arg(long)]
    pub decompress: bool,

    /// Never use the network; fail naming what is not cached.
    #[arg(long)]
    pub offline: bool,

    /// List published versions (or, with --tag, that version's files) instead of fetching.
    #[arg(long)]
    pub list: bool,

    /// Print JSON on stdout instead of paths.
    #[arg(long)]
    pub json: bool,
}

/// Where a release lives: GitHub Releases and/or S3 (publish, republish, verify).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// GitHub Releases (token from GITHUB_TOKEN or GH_TOKEN, API from GITHUB_API_URL).
    #[arg(long)]
    pub github: bool,

    /// S3 under {prefix}/{tag}/ (credentials from the AWS default chain).
    #[arg(long)]
    pub s3: bool,

    /// S3 bucket (default: [s3] bucket in the config).
    #[arg(long, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,

    /// S3 key prefix (default: [s3] prefix in the config).
    #[arg(long, value_name = "PREFIX")]
    pub s3_prefix: Option<String>,

    /// Repository OWNER/NAME (default: [github] repo in the config, then GITHUB_REPOSITORY).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
}

/// Options of `dbrelease publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Build options (the tag is required here).
    #[command(flatten)]
    pub build: BuildArgs,

    /// Where to publish.
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Read the remote state and print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Replace published assets whose bytes differ (a rolling tag such as `latest`).
    #[arg(long)]
    pub replace: bool,

    /// Release notes for a new release (e.g. semantic-release's notes).
    #[arg(long, value_name = "FILE")]
    pub notes_file: Option<PathBuf>,

    /// Title of a new release (default: the tag).
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,

    /// Mark a new release as a pre-release.
    #[arg(long)]
    pub prerelease: bool,

    /// Upload and verify, but leave the release a draft.
    #[arg(long)]
    pub draft: bool,

    /// Publish even though, compared with the previous release, a table lost rows or
    /// disappeared or a column was dropped or changed type (by default that is refused:
    /// it is how a failed restore would publish a shrunken database).
    #[arg(long)]
    pub allow_regression: bool,
}

/// Options of `dbrelease init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The DuckDB database to release.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,

    /// Where to write the config.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "dbrelease.toml"
    )]
    pub config: PathBuf,

    /// Replace an existing config file.
    #[arg(long)]
    pub force: bool,
}

/// Options of `dbrelease build` (and of every command that builds first).
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Configuration file. Relative paths inside it are relative to its folder.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "dbrelease.toml"
    )]
    pub config: PathBuf,

    /// DuckDB database to release (overrides `dataset.database` in the config).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Output directory. Artifacts from an earlier build there are replaced.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "dist")]
    pub out: PathBuf,

    /// Release tag recorded in the manifest and the Parquet metadata, e.g. v1.2.0.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// When <db>.wal exists, release a checkpointed temporary copy of the database instead
    /// of refusing. The source files are never modified.
    #[arg(long)]
    pub checkpoint_wal: bool,

    /// Print the summary as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}
