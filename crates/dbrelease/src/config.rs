//! `dbrelease.toml` + flags + environment → one validated [`BuildConfig`], built once up front.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::BuildArgs;
use crate::error::{Error, Result};

/// The configuration file as written by the user. Unknown keys are errors, so typos surface.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// What the release is called and which database it comes from.
    pub dataset: DatasetSection,
    /// Which tables become Parquet files and how they are written.
    #[serde(default)]
    pub export: ExportSection,
    /// How the database file itself is compressed.
    #[serde(default)]
    pub gzip: GzipSection,
    /// Files released as they are, next to the generated artifacts.
    #[serde(default)]
    pub files: Vec<ExtraFileSection>,
    /// Where `publish --github` releases to.
    #[serde(default)]
    pub github: GithubSection,
    /// Where `publish --s3` releases to.
    #[serde(default)]
    pub s3: S3Section,
    /// How versions are named.
    #[serde(default)]
    pub release: ReleaseSection,
    /// `catalog.duckdb`: one view per table over the version's Parquet URLs.
    #[serde(default)]
    pub catalog: CatalogSection,
    /// The database file beside its `.gz`.
    #[serde(default)]
    pub database: DatabaseSection,
}

/// `[catalog]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// Release a `catalog.duckdb` with every tagged build (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// URL of a version's folder, with `{tag}` in it, that the views read from, e.g.
    /// `https://cdn.example.org/data/{tag}/`. Default: the GitHub release's download URL when
    /// the repository is known, else `[s3] public_base_url` with the prefix.
    pub url: Option<String>,
}

impl Default for CatalogSection {
    fn default() -> Self {
        CatalogSection {
            enabled: true,
            url: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// `[database]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// Also release the database file uncompressed, so DuckDB can ATTACH it over HTTP and read
    /// only the blocks a query needs (default false: the `.gz` alone).
    #[serde(default)]
    pub uncompressed: bool,
    /// A `.gz` larger than this many bytes is published in parts of this size (`x.duckdb.gz.001`,
    /// `.002`, …; `cat` restores it): GitHub refuses assets of 2 GiB. Default 1.5 GiB; at least
    /// 4 KiB.
    pub part_size: Option<u64>,
}

/// Default `part_size` of the database and of tables: under GitHub's 2 GiB per asset with a
/// margin (a table part's footer comes on top of its row groups).
pub const DEFAULT_PART_SIZE: u64 = 1536 * MIB;
/// Smallest `part_size`: smaller parts only multiply requests.
const MIN_PART_SIZE: u64 = 4 * 1024;

/// `setting` (`database.part_size`, `export.part_size`) checked, or the default.
fn checked_part_size(setting: &str, size: Option<u64>) -> Result<u64> {
    let size = size.unwrap_or(DEFAULT_PART_SIZE);
    // GitHub's limit is "under 2 GiB": the largest part allowed is one byte less.
    let most = dbrelease_remote::github::MAX_ASSET_BYTES - 1;
    if !(MIN_PART_SIZE..=most).contains(&size) {
        return Err(Error::Config(format!(
            "{setting} {size} is outside {MIN_PART_SIZE}..={most} bytes (4 KiB to just under GitHub's 2 GiB per asset; default {DEFAULT_PART_SIZE}, 1.5 GiB)"
        )));
    }
    Ok(size)
}

/// `[release]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSection {
    /// `"auto"`: every `publish` names a date version (`v2026.1205.0`) unless the data is
    /// unchanged, as `--tag auto` does.
    pub tag: Option<String>,
}

/// The tag that asks `publish` to name a date version.
pub const AUTO_TAG: &str = "auto";

/// `[s3]`: the config's values, completed by the flags in [`S3Section::resolve`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// Bucket name (`--s3-bucket` overrides).
    pub bucket: Option<String>,
    /// Key prefix; versions go to `{prefix}/{tag}/` (`--s3-prefix` overrides).
    pub prefix: Option<String>,
    /// Region; the AWS default chain when unset.
    pub region: Option<String>,
    /// Endpoint of an S3-compatible store (MinIO, R2); AWS_ENDPOINT_URL works too.
    pub endpoint: Option<String>,
    /// Path-style requests (always on with a custom endpoint).
    #[serde(default)]
    pub force_path_style: bool,
    /// Public URL of the bucket (e.g. a CDN) used in versions.json.
    pub public_base_url: Option<String>,
    /// Also update `{prefix}/latest/` (default true).
    pub latest: Option<bool>,
    /// Files of at least this many bytes go multipart (default 100 MiB).
    pub multipart_threshold: Option<u64>,
    /// Multipart part size in bytes (default 16 MiB; S3 allows 5 MiB to 5 GiB).
    pub part_size: Option<u64>,
    /// Only send checksums S3 requires (for stores that reject aws-chunked trailers).
    #[serde(default)]
    pub checksum_when_required: bool,
}

const MIB: u64 = 1024 * 1024;

impl S3Section {
    /// Checks what can be checked without the flags (so a bad value fails every command
    /// that reads the config, not only `--s3` runs).
    fn validated(self) -> Result<Self> {
        if let Some(part_size) = self.part_size
            && !(5 * MIB..=5 * 1024 * MIB).contains(&part_size)
        {
            return Err(Error::Config(format!(
                "s3.part_size {part_size} is outside S3's limits: use 5 MiB (5242880) to 5 GiB"
            )));
        }
        // Above 5 GiB a single PUT (and a CopyObject for latest/) is refused by S3.
        if let Some(threshold) = self.multipart_threshold
            && !(1..=5 * 1024 * MIB).contains(&threshold)
        {
            return Err(Error::Config(format!(
                "s3.multipart_threshold {threshold} is outside S3's limits: a single PUT takes at most 5 GiB (5368709120)"
            )));
        }
        Ok(self)
    }

    /// Completes the settings with the flags and the defaults; the bucket must be known by now.
    pub fn resolve(&self, bucket: Option<&str>, prefix: Option<&str>) -> Result<S3Options> {
        let bucket = bucket
            .map(str::to_string)
            .or_else(|| self.bucket.clone())
            .ok_or_else(|| {
                Error::Config("no S3 bucket: pass --s3-bucket B or set `bucket` under [s3]".into())
            })?;
        Ok(S3Options {
            bucket,
            prefix: prefix
                .map(str::to_string)
                .or_else(|| self.prefix.clone())
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            force_path_style: self.force_path_style,
            public_base_url: self.public_base_url.clone(),
            latest: self.latest.unwrap_or(true),
            multipart_threshold: self.multipart_threshold.unwrap_or(100 * MIB),
            part_size: self.part_size.unwrap_or(16 * MIB),
            checksum_when_required: self.checksum_when_required,
        })
    }
}

/// Validated S3 settings for one publish (flags applied).
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Bucket.
    pub bucket: String,
    /// Prefix without surrounding slashes.
    pub prefix: String,
    /// Region.
    pub region: Option<String>,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Path style.
    pub force_path_style: bool,
    /// Public base URL.
    pub public_base_url: Option<String>,
    /// Update `latest/`.
    pub latest: bool,
    /// Multipart threshold in bytes.
    pub multipart_threshold: u64,
    /// Part size in bytes.
    pub part_size: u64,
    /// Checksums only when required.
    pub checksum_when_required: bool,
}

impl S3Options {
    /// The public URL of the bucket's root, without a trailing `/`: `public_base_url`, else
    /// the endpoint's path-style URL, else AWS's virtual-hosted one.
    pub fn public_base(&self) -> String {
        match (&self.public_base_url, &self.endpoint) {
            (Some(base), _) => base.trim_end_matches('/').to_string(),
            (None, Some(endpoint)) => {
                format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket)
            }
            (None, None) => format!("https://{}.s3.amazonaws.com", self.bucket),
        }
    }
}

/// `[github]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSection {
    /// `owner/name`; `--repo` and GITHUB_REPOSITORY override it.
    pub repo: Option<String>,
}

/// `[dataset]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSection {
    /// Machine name of the dataset (datapackage.json `name`): lowercase letters, digits, `-_.`.
    pub name: String,
    /// Human title.
    pub title: Option<String>,
    /// One paragraph on what the data is.
    pub description: Option<String>,
    /// SPDX identifier of the data licence, e.g. `CC-BY-4.0`.
    pub license: Option<String>,
    /// The DuckDB database file, relative to the config file.
    pub database: Option<PathBuf>,
}

/// `[export]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSection {
    /// Tables to export (`schema.table` or `table` for schema `main`); empty means all.
    #[serde(default)]
    pub include: Vec<String>,
    /// Tables to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Parquet compression codec.
    #[serde(default)]
    pub compression: Codec,
    /// Codec level; the codec's default when unset.
    pub compression_level: Option<i32>,
    /// Maximum rows per row group. Smaller groups let remote readers skip more. Tables of
    /// wide rows get fewer, so that a row group holds at most 8 MiB of values (memory stays
    /// bounded whatever the row width).
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
    /// DuckDB's memory limit while exporting (its syntax: `128MB`, `1GB`): a sort larger than
    /// this spills to the temp directory instead of growing with the database.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: String,
    /// A table whose Parquet would pass this many bytes is written as several files,
    /// `<table>-0001.parquet`, `-0002`, …, each cut before the row group that would pass it
    /// (GitHub refuses assets of 2 GiB; smaller parts download in parallel). Default 1.5 GiB;
    /// at least 4 KiB.
    pub part_size: Option<u64>,
    /// Per-table options, keyed like `include`.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSection>,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            include: Vec::new(),
            exclude: Vec::new(),
            compression: Codec::default(),
            compression_level: None,
            row_group_rows: default_row_group_rows(),
            memory_limit: default_memory_limit(),
            part_size: None,
            tables: BTreeMap::new(),
        }
    }
}

/// Enough for DuckDB to scan, and to sort the benchmark's 1.3 M rows with 3% more time than at
/// 256MB; small enough that a build's memory stays flat in the database's size (measured: 243 MiB
/// peak for 151 MiB, 232 MiB for 1 GiB; larger sorts spill to the temp directory).
fn default_memory_limit() -> String {
    "128MB".into()
}

/// DuckDB's own row-group size: a good balance of pruning and per-group overhead.
fn default_row_group_rows() -> usize {
    122_880
}

/// `[export.tables.<name>]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSection {
    /// Columns to order rows by, so min/max statistics let readers skip row groups. A table
    /// already stored in that order is exported as stored, without a sort.
    #[serde(default)]
    pub sort_by: Vec<String>,
    /// Columns that get a Parquet bloom filter (point lookups on unsorted columns).
    #[serde(default)]
    pub bloom_filter: Vec<String>,
    /// Columns or SQL expressions over the table's columns (e.g. `"strftime(date, '%Y-%m')"`)
    /// whose values each get their own Parquet file, `<table>.<value>.parquet`: a query for
    /// one value reads one file, and a new day changes only its own partition's file, which
    /// the next version then copies on S3 instead of uploading.
    #[serde(default)]
    pub partition_by: Vec<String>,
}

/// Parquet compression codecs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Zstandard: best size for the speed; readable by every modern reader.
    #[default]
    Zstd,
    /// Snappy: fastest, larger files.
    Snappy,
    /// Gzip: widest compatibility.
    Gzip,
    /// LZ4 (raw).
    Lz4,
    /// Brotli: smallest, slow to write.
    Brotli,
    /// No compression.
    None,
}

impl Codec {
    /// Allowed level range, when the codec has levels.
    fn level_range(self) -> Option<(i32, i32)> {
        match self {
            Codec::Zstd => Some((1, 22)),
            Codec::Gzip => Some((0, 9)),
            Codec::Brotli => Some((0, 11)),
            Codec::Snappy | Codec::Lz4 | Codec::None => None,
        }
    }
}

/// `[gzip]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GzipSection {
    /// Deflate level 1–9 for the database's `.gz`.
    #[serde(default = "default_gzip_level")]
    pub level: u32,
}

impl Default for GzipSection {
    fn default() -> Self {
        GzipSection {
            level: default_gzip_level(),
        }
    }
}

/// gzip's own default: the size users expect from `gzip`.
fn default_gzip_level() -> u32 {
    6
}

/// `[[files]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraFileSection {
    /// File to release, relative to the config file.
    pub path: PathBuf,
    /// Artifact name; the file name when unset.
    pub name: Option<String>,
    /// Media type; guessed from the extension when unset.
    pub media_type: Option<String>,
    /// What the file is, for datapackage.json.
    pub description: Option<String>,
}

/// Everything `build` needs, validated.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Dataset name (validated).
    pub name: String,
    /// Human title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Licence identifier.
    pub license: Option<String>,
    /// Database file.
    pub database: PathBuf,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Release tag, when known.
    pub tag: Option<String>,
    /// Table selection and Parquet options.
    pub export: ExportOptions,
    /// gzip level.
    pub gzip_level: u32,
    /// Extra files, paths resolved.
    pub files: Vec<ExtraFile>,
    /// Release a checkpointed copy when a WAL is present.
    pub checkpoint_wal: bool,
    /// Seconds since the epoch for `created_at` and the gzip header (SOURCE_DATE_EPOCH).
    pub source_date_epoch: Option<i64>,
    /// `[github] repo`.
    pub github_repo: Option<String>,
    /// `[s3]` as written.
    pub s3: S3Section,
    /// `[release] tag = "auto"`: versions are date versions.
    pub auto_tag: bool,
    /// `[catalog]` as written; [`BuildConfig::catalog_prefix`] resolves it.
    pub catalog: CatalogSection,
    /// `[database] uncompressed`.
    pub uncompressed_database: bool,
    /// `[database] part_size`, checked.
    pub database_part_size: u64,
    /// The Actions run building this release (from the environment), for the manifest.
    pub built_by: Option<dbrelease_manifest::BuildRun>,
}

impl BuildConfig {
    /// The URL prefix the catalog's views read from (ending in `/`), or None when this build
    /// makes no catalog: untagged, `[catalog] enabled = false`, or no public URL known.
    pub fn catalog_prefix(&self) -> Result<Option<String>> {
        let Some(tag) = self.tag.as_deref().filter(|_| self.catalog.enabled) else {
            return Ok(None);
        };
        let segment = dbrelease_remote::http::url_segment(tag);
        if let Some(template) = &self.catalog.url {
            if !template.contains("{tag}") {
                return Err(Error::Config(format!(
                    "catalog.url {template:?} has no {{tag}}: each version's catalog must read that version's files, e.g. \"https://cdn.example.org/data/{{tag}}/\""
                )));
            }
            let url = template.replace("{tag}", &segment);
            return Ok(Some(format!("{}/", url.trim_end_matches('/'))));
        }
        let repo = self
            .github_repo
            .clone()
            .or_else(|| crate::env::var(crate::env::EnvVars::GITHUB_REPOSITORY));
        if let Some(repo) = repo {
            let server = crate::env::var(crate::env::EnvVars::GITHUB_SERVER_URL)
                .unwrap_or_else(|| "https://github.com".into());
            return Ok(Some(format!(
                "{}/{repo}/releases/download/{segment}/",
                server.trim_end_matches('/')
            )));
        }
        Ok(self.s3.public_base_url.as_ref().map(|base| {
            let prefix = self.s3.prefix.as_deref().unwrap_or("").trim_matches('/');
            let base = base.trim_end_matches('/');
            if prefix.is_empty() {
                format!("{base}/{segment}/")
            } else {
                format!("{base}/{prefix}/{segment}/")
            }
        }))
    }
}

/// Table selection and Parquet writer options.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Tables to export; empty: all.
    pub include: Vec<String>,
    /// Tables to skip.
    pub exclude: Vec<String>,
    /// Codec.
    pub compression: Codec,
    /// Codec level.
    pub compression_level: Option<i32>,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// DuckDB's memory limit.
    pub memory_limit: String,
    /// Bytes after which a table's Parquet continues in its next file.
    pub part_size: u64,
    /// Per-table options.
    pub tables: BTreeMap<String, TableSection>,
}

/// The export options of a config that says nothing about `[export]`: every table.
pub fn default_export_options() -> ExportOptions {
    let export = ExportSection::default();
    ExportOptions {
        include: export.include,
        exclude: export.exclude,
        compression: export.compression,
        compression_level: export.compression_level,
        row_group_rows: export.row_group_rows,
        memory_limit: export.memory_limit.clone(),
        part_size: DEFAULT_PART_SIZE,
        tables: export.tables,
    }
}

/// An extra file to release as it is.
#[derive(Debug, Clone)]
pub struct ExtraFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its artifact name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its description.
    pub description: Option<String>,
}

/// The config file `--config` names by default.
pub const DEFAULT_CONFIG: &str = "dbrelease.toml";

/// The config file, or, when there is none at the default path and `--db` names the database,
/// the defaults for that database (dataset named after the file, every table): `dbrelease build
/// --db my.duckdb` works in a folder without a config, as `gzip my.duckdb` would.
fn config_file_or_defaults(args: &BuildArgs) -> Result<ConfigFile> {
    if let Some(db) = &args.db
        && args.config == Path::new(DEFAULT_CONFIG)
        && !args.config.exists()
    {
        return Ok(ConfigFile::for_database(db));
    }
    read_config_file(&args.config)
}

impl ConfigFile {
    /// Defaults for releasing `db` without a config file.
    pub fn for_database(db: &Path) -> ConfigFile {
        let stem = db
            .file_stem()
            .map(|stem| stem.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        ConfigFile {
            dataset: DatasetSection {
                name: if name.is_empty() {
                    "dataset".into()
                } else {
                    name
                },
                ..DatasetSection::default()
            },
            ..ConfigFile::default()
        }
    }
}

/// Reads and validates the configuration for `build`.
pub fn load_build_config(args: &BuildArgs) -> Result<BuildConfig> {
    let file = config_file_or_defaults(args)?;
    let base = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let source_date_epoch = source_date_epoch_from_env()?;
    let mut config = resolve(file, &base, args, source_date_epoch)?;
    config.built_by = crate::env::build_run();
    Ok(config)
}

/// Where a release is published, per the config: for `verify`, which needs no database.
#[derive(Debug, Clone, Default)]
pub struct TargetConfig {
    /// `[github] repo`.
    pub github_repo: Option<String>,
    /// `[s3]`.
    pub s3: S3Section,
}

/// Reads the publish targets of the config at `path`; a missing file is fine unless
/// `required` (the user named it with --config).
pub fn load_target_config(path: &Path, required: bool) -> Result<TargetConfig> {
    if !required && !path.exists() {
        return Ok(TargetConfig::default());
    }
    let file = read_config_file(path)?;
    Ok(TargetConfig {
        github_repo: file.github.repo,
        s3: file.s3.validated()?,
    })
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::NotFound {
            " (create one: see the dbrelease.toml in the dbrelease repository, or pass --config FILE)"
        } else {
            ""
        };
        Error::Config(format!(
            "cannot read config file {}: {err}{hint}",
            path.display()
        ))
    })?;
    toml::from_str(&text)
        .map_err(|err| Error::Config(format!("invalid config file {}: {err}", path.display())))
}

fn source_date_epoch_from_env() -> Result<Option<i64>> {
    match crate::env::var(crate::env::EnvVars::SOURCE_DATE_EPOCH) {
        Some(value) if !value.trim().is_empty() => value.trim().parse::<i64>().map(Some).map_err(|_| {
            Error::Config(format!(
                "SOURCE_DATE_EPOCH must be whole seconds since 1970 (e.g. `git log -1 --format=%ct`), got {value:?}"
            ))
        }),
        _ => Ok(None),
    }
}

/// Pure: combines the parsed file, its folder, the flags and the epoch into a [`BuildConfig`].
pub fn resolve(
    file: ConfigFile,
    base: &Path,
    args: &BuildArgs,
    source_date_epoch: Option<i64>,
) -> Result<BuildConfig> {
    resolve_with(file, base, args, source_date_epoch, Database::Required)
}

/// Whether a command needs the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// `build`, `publish`: refuse a config without one.
    Required,
    /// `republish`: only read when a file must be rebuilt; an empty path when none is given.
    IfNeeded,
}

/// Reads and validates the configuration for `republish`, which opens the database only when
/// a file must be rebuilt (mirroring GitHub to S3 needs none).
pub fn load_republish_config(args: &BuildArgs) -> Result<BuildConfig> {
    let file = config_file_or_defaults(args)?;
    let base = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut config = resolve_with(
        file,
        &base,
        args,
        source_date_epoch_from_env()?,
        Database::IfNeeded,
    )?;
    config.built_by = crate::env::build_run();
    Ok(config)
}

fn resolve_with(
    file: ConfigFile,
    base: &Path,
    args: &BuildArgs,
    source_date_epoch: Option<i64>,
    need: Database,
) -> Result<BuildConfig> {
    let dataset = file.dataset;
    validate_dataset_name(&dataset.name)?;
    let database = match (&args.db, &dataset.database) {
        (Some(flag), _) => flag.clone(),
        (None, Some(configured)) => base.join(configured),
        (None, None) if need == Database::IfNeeded => PathBuf::new(),
        (None, None) => {
            return Err(Error::Config(
                "no database given: set `database` under [dataset] in the config or pass --db PATH"
                    .into(),
            ));
        }
    };
    if let Some(tag) = &args.tag {
        validate_tag(tag)?;
    }
    let auto_tag = match file.release.tag.as_deref() {
        None => false,
        Some(AUTO_TAG) => true,
        Some(other) => {
            return Err(Error::Config(format!(
                "release.tag = {other:?}: the only value is \"auto\" (date versions, e.g. v2026.1205.0); give other tags with --tag"
            )));
        }
    };
    let export = file.export;
    if let Some(level) = export.compression_level {
        match export.compression.level_range() {
            Some((low, high)) if (low..=high).contains(&level) => {}
            Some((low, high)) => {
                return Err(Error::Config(format!(
                    "export.compression_level {level} is out of range for {:?}: use {low}..={high}",
                    export.compression
                )));
            }
            None => {
                return Err(Error::Config(format!(
                    "export.compression_level is set but {:?} has no levels: remove it",
                    export.compression
                )));
            }
        }
    }
    if export.row_group_rows == 0 {
        return Err(Error::Config(
            "export.row_group_rows must be at least 1 (default 122880)".into(),
        ));
    }
    if !(1..=9).contains(&file.gzip.level) {
        return Err(Error::Config(format!(
            "gzip.level {} is out of range: use 1..=9 (default 6)",
            file.gzip.level
        )));
    }
    let files = file
        .files
        .into_iter()
        .map(|extra| resolve_extra_file(extra, base))
        .collect::<Result<Vec<_>>>()?;
    Ok(BuildConfig {
        name: dataset.name,
        title: dataset.title,
        description: dataset.description,
        license: dataset.license,
        database,
        out_dir: args.out.clone(),
        tag: args.tag.clone(),
        export: ExportOptions {
            include: export.include,
            exclude: export.exclude,
            compression: export.compression,
            compression_level: export.compression_level,
            row_group_rows: export.row_group_rows,
            memory_limit: export.memory_limit.clone(),
            part_size: checked_part_size("export.part_size", export.part_size)?,
            tables: export.tables,
        },
        gzip_level: file.gzip.level,
        files,
        checkpoint_wal: args.checkpoint_wal,
        source_date_epoch,
        github_repo: file.github.repo,
        s3: file.s3.validated()?,
        auto_tag,
        catalog: file.catalog,
        uncompressed_database: file.database.uncompressed,
        database_part_size: checked_part_size("database.part_size", file.database.part_size)?,
        // Filled in by the loaders from the environment; resolving stays pure.
        built_by: None,
    })
}

fn validate_dataset_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "dataset.name {name:?} must be non-empty and use only lowercase letters, digits, '-', '_' and '.' (it becomes the datapackage name)"
        )))
    }
}

fn validate_tag(tag: &str) -> Result<()> {
    let valid = !tag.is_empty()
        && !tag.starts_with('.')
        && !tag.contains("..")
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "tag {tag:?} is not usable as a release tag and path segment: use letters, digits and '-_.+', e.g. v1.2.0"
        )))
    }
}

fn resolve_extra_file(extra: ExtraFileSection, base: &Path) -> Result<ExtraFile> {
    let path = base.join(&extra.path);
    let name = match extra.name {
        Some(name) => name,
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::Config(format!("files: {} has no file name", extra.path.display()))
            })?,
    };
    if !dbrelease_manifest::names::is_safe_file_name(&name) {
        return Err(Error::Config(format!(
            "files: artifact name {name:?} is not a safe file name: use letters, digits and '-_.' (set `name`)"
        )));
    }
    let media_type = extra
        .media_type
        .unwrap_or_else(|| dbrelease_manifest::names::media_type_for(&name).to_string());
    Ok(ExtraFile {
        path,
        name,
        media_type,
        description: extra.description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> BuildArgs {
        BuildArgs {
            config: PathBuf::from("dbrelease.toml"),
            db: None,
            out: PathBuf::from("dist"),
            tag: Some("v1.0.0".into()),
            checkpoint_wal: false,
            json: false,
        }
    }

    fn parse(text: &str) -> Result<BuildConfig> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|err| Error::Config(err.to_string()))?;
        resolve(file, Path::new("cfg"), &args(), None)
    }

    #[test]
    fn minimal_config_gets_sane_defaults_and_relative_paths() {
        let config = parse("[dataset]\nname = \"d\"\ndatabase = \"x.duckdb\"\n").unwrap();
        assert_eq!(config.database, Path::new("cfg/x.duckdb"));
        assert_eq!(config.export.compression, Codec::Zstd);
        assert_eq!(config.export.row_group_rows, 122_880);
        assert_eq!(config.gzip_level, 6);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = parse("[dataset]\nname = \"d\"\ndatabase = \"x\"\ncompresion = 1\n").unwrap_err();
        assert!(err.to_string().contains("compresion"), "{err}");
    }

    #[test]
    fn out_of_range_levels_and_bad_names_are_rejected() {
        let err = parse("[dataset]\nname = \"d\"\ndatabase = \"x\"\n[export]\ncompression = \"zstd\"\ncompression_level = 40\n").unwrap_err();
        assert!(err.to_string().contains("1..=22"), "{err}");
        let err = parse("[dataset]\nname = \"Bad Name\"\ndatabase = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
        let err = parse("[dataset]\nname = \"d\"\n").unwrap_err();
        assert!(err.to_string().contains("--db"), "{err}");
    }

    #[test]
    fn unsafe_tags_are_rejected() {
        for bad in ["../x", "", "a/b", "v1 2"] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
        validate_tag("v1.2.0-rc.1+build").unwrap();
    }
}
