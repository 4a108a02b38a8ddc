//! The manifest: the contract between a release and its readers. Plain data, built by pure
//! functions, rendered as manifest.json, SHA256SUMS and datapackage.json.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::names::{MEDIA_GZIP, MEDIA_PARQUET};

/// Newest version of the manifest format this crate reads and writes; bumped on changes older
/// readers cannot follow.
pub const MANIFEST_VERSION: u32 = 2;
/// The format of a release without parts: what every dbrelease reads. A manifest is written
/// as version [`MANIFEST_VERSION`] only when it needs to be (it lists parts, which a reader
/// of version 1 would take for whole files), so older readers keep reading every other
/// release and refuse a release in parts with "newer format, upgrade" instead of a bad file.
pub const MANIFEST_VERSION_WITHOUT_PARTS: u32 = 1;
/// File name of the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the checksum list.
pub const SHA256SUMS_FILE: &str = "SHA256SUMS";
/// File name of the Frictionless Data Package descriptor.
pub const DATAPACKAGE_FILE: &str = "datapackage.json";
/// `generator.name` of every manifest dbrelease writes.
pub const GENERATOR_NAME: &str = "dbrelease";

/// manifest.json: everything a reader needs to fetch and verify a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// Format version of this file (currently 1).
    pub manifest_version: u32,
    /// Machine name of the dataset.
    pub dataset: String,
    /// Human title of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Release tag, e.g. `v1.2.0`; null for an untagged local build.
    pub tag: Option<String>,
    /// Version derived from the tag (`v1.2.0` → `1.2.0`).
    pub version: Option<String>,
    /// When the release was built, RFC 3339 UTC; from SOURCE_DATE_EPOCH when set.
    pub created_at: String,
    /// What built the release.
    pub generator: Generator,
    /// The database the release was built from.
    pub source: Source,
    /// Every released artifact, in a stable order: tables, database, extra files.
    pub artifacts: Vec<Artifact>,
    /// The CI run that built the release (GitHub Actions); absent for a local build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_by: Option<BuildRun>,
}

/// The GitHub Actions run that built a release, so a reader can see the workflow, its logs and
/// the commit (and match it with the run's attestations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildRun {
    /// `OWNER/NAME` of the repository whose workflow ran.
    pub repository: String,
    /// The run's id (`GITHUB_RUN_ID`).
    pub run_id: String,
    /// The run's attempt (`GITHUB_RUN_ATTEMPT`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<String>,
    /// The commit the workflow ran on (`GITHUB_SHA`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The workflow file at its ref (`GITHUB_WORKFLOW_REF`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The run's page, e.g. `https://github.com/o/r/actions/runs/123`.
    pub url: String,
}

/// The tool versions that produced the release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Generator {
    /// Always `dbrelease`.
    pub name: String,
    /// dbrelease version.
    pub version: String,
    /// Version of the embedded DuckDB library that read the database.
    pub duckdb_version: String,
}

/// The source database file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// File name (no directories).
    pub file_name: String,
    /// Size in bytes of the file that was released.
    pub bytes: u64,
    /// SHA-256 (hex) of the file that was released.
    pub sha256: String,
    /// DuckDB storage format number from the file header (64 for DuckDB 0.10–1.x files).
    pub storage_version: u64,
    /// DuckDB's name for the storage compatibility level, e.g. `v1.0.0+`.
    pub storage_compatibility: Option<String>,
    /// DuckDB version that last wrote the file, from its header, e.g. `v1.4.5`.
    pub written_by: Option<String>,
    /// True when a write-ahead log was checkpointed into a temporary copy before release.
    pub wal_checkpointed: bool,
}

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// One table exported to Parquet.
    Table,
    /// The database file: gzipped (with `database` info), or as it is (`[database]
    /// uncompressed`, for DuckDB to ATTACH over HTTP).
    Database,
    /// `catalog.duckdb`: one view per table over this version's published Parquet URLs.
    Catalog,
    /// An extra file released as it is.
    File,
}

/// One released file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Artifact {
    /// File name, also the GitHub asset name and the last S3 key segment.
    pub name: String,
    /// What the artifact is.
    pub kind: ArtifactKind,
    /// IANA media type, e.g. `application/vnd.apache.parquet`.
    pub media_type: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex) of the bytes.
    pub sha256: String,
    /// Free text from the config (extra files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Present when `kind` is `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableInfo>,
    /// Present when `kind` is `database` and the file is gzipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
    /// Present when `kind` is `catalog`, or `database` uncompressed: which DuckDB opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duckdb_file: Option<DuckdbFileInfo>,
    /// Present when the artifact is one byte range of a file too large for one release asset:
    /// the parts, concatenated in order, are that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<PartOf>,
    /// Present when a table is written as several Parquet files (cut between row groups, each
    /// a complete Parquet file): which one this is. `table` is then the whole table's, the
    /// same in every part (total rows, statistics over all parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_part: Option<TablePart>,
}

impl Artifact {
    /// Rows in this file: a table part's own, a whole table's, none for other kinds.
    pub fn rows(&self) -> Option<u64> {
        match (&self.table_part, &self.table) {
            (Some(part), _) => Some(part.rows),
            (None, table) => table.as_ref().map(|table| table.rows),
        }
    }
}

/// One Parquet file of a table written in several (`daily-0001.parquet`, `daily-0002.parquet`,
/// …): every query engine reads the list as one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TablePart {
    /// Position of this file, from 1.
    pub index: u32,
    /// Number of files of the table.
    pub count: u32,
    /// Rows in this file (the table's total is `table.rows`).
    pub rows: u64,
    /// The values of the table's `partition_by` that every row of this file has, in the order
    /// of `table.partition_by`; empty when the table is not partitioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition: Vec<PartitionValue>,
}

/// One `partition_by` entry and the value it has in every row of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PartitionValue {
    /// The entry as configured: a column, or an SQL expression over the columns.
    pub by: String,
    /// Its value as text (DuckDB's cast to VARCHAR); null for NULL.
    pub value: Option<String>,
}

/// A table as readers see it: its information and its Parquet file, or files in order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFiles<'a> {
    /// The whole table (rows are the total).
    pub info: &'a TableInfo,
    /// Its Parquet files: one, or its parts in order.
    pub artifacts: Vec<&'a Artifact>,
}

impl TableFiles<'_> {
    /// Artifact names of the table's Parquet files, in order.
    pub fn file_names(&self) -> Vec<&str> {
        self.artifacts.iter().map(|a| a.name.as_str()).collect()
    }

    /// Bytes of all the table's files.
    pub fn bytes(&self) -> u64 {
        self.artifacts.iter().map(|a| a.bytes).sum()
    }

    /// True when the table is written as several files.
    pub fn in_parts(&self) -> bool {
        self.artifacts
            .first()
            .is_some_and(|a| a.table_part.is_some())
    }
}

/// A part of a file published in consecutive byte ranges (`x.duckdb.gz.001`, `.002`, …), so
/// `cat x.duckdb.gz.* > x.duckdb.gz` restores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PartOf {
    /// The whole file's name, e.g. `x.duckdb.gz`.
    pub file: String,
    /// Position of this part, from 1.
    pub index: u32,
    /// Number of parts.
    pub count: u32,
    /// Offset of this part's first byte in the whole file.
    pub offset: u64,
    /// Size in bytes of the whole file.
    pub bytes: u64,
    /// SHA-256 (hex) of the whole file.
    pub sha256: String,
}

/// A file as readers see it: one artifact, or the parts that make it up, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct WholeFile<'a> {
    /// The file's name (the artifact's, or the parts' `part_of.file`).
    pub name: &'a str,
    /// Size in bytes of the whole file.
    pub bytes: u64,
    /// SHA-256 (hex) of the whole file.
    pub sha256: &'a str,
    /// The artifacts to download: the file itself, or its parts in order.
    pub artifacts: Vec<&'a Artifact>,
}

impl WholeFile<'_> {
    /// True when the file is published in parts.
    pub fn in_parts(&self) -> bool {
        self.artifacts.first().is_some_and(|a| a.part_of.is_some())
    }

    /// The first artifact: kind, media type and database information are the same in every
    /// part.
    pub fn first(&self) -> &Artifact {
        self.artifacts[0]
    }
}

/// A DuckDB database file released as it is (the catalog, the uncompressed database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DuckdbFileInfo {
    /// DuckDB's storage compatibility level the file is written in, e.g. `v1.0.0`.
    pub storage_version: String,
    /// The oldest DuckDB release that opens it, e.g. `1.0.0`.
    pub opens_with: String,
    /// How to use it from any DuckDB client, e.g. `ATTACH 'https://…/catalog.duckdb' AS d`.
    pub attach: String,
}

/// A table artifact's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableInfo {
    /// Schema of the table in the database (`main` for most).
    pub schema: String,
    /// Table name in the database, unsanitized.
    pub name: String,
    /// Number of rows.
    pub rows: u64,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Columns the rows are sorted by (ascending, nulls last); empty: storage order.
    pub sort_by: Vec<String>,
    /// Primary key columns, when the table declares one.
    pub primary_key: Vec<String>,
    /// Columns or expressions whose values each have their own files (`table_part.partition`);
    /// the files are in ascending order of them. Empty: not partitioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<String>,
}

/// One column of a table artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// DuckDB type in the source database, e.g. `DECIMAL(18,3)`.
    pub duckdb_type: String,
    /// Type DuckDB reads back from the Parquet file, when it differs (a documented conversion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parquet_type: Option<String>,
    /// Whether the column allows NULL.
    pub nullable: bool,
    /// Null count and value range from the Parquet file's statistics, for scalar columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ColumnStats>,
}

/// What a table artifact's Parquet footer says about one column: read from the statistics the
/// writer recorded, not from a scan of the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ColumnStats {
    /// Number of NULL values.
    pub null_count: u64,
    /// Smallest value as DuckDB prints it (absent: all NULL, or not an orderable type, or a
    /// text longer than the statistics keep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    /// Largest value as DuckDB prints it (absent as `min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

/// The gzipped database's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatabaseInfo {
    /// Size of the decompressed database file.
    pub uncompressed_bytes: u64,
    /// SHA-256 (hex) of the decompressed database file.
    pub uncompressed_sha256: String,
}

/// The JSON Schema of manifest.json, as `dbrelease manifest-schema` prints it.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).expect("schema is valid JSON")
}

impl Manifest {
    /// The manifest version a release with these artifacts is written as (see
    /// [`MANIFEST_VERSION_WITHOUT_PARTS`]).
    pub fn version_needed(artifacts: &[Artifact]) -> u32 {
        if artifacts
            .iter()
            .any(|a| a.part_of.is_some() || a.table_part.is_some())
        {
            MANIFEST_VERSION
        } else {
            MANIFEST_VERSION_WITHOUT_PARTS
        }
    }

    /// Every file of the release as a reader sees it, in the manifest's order: an artifact, or
    /// the parts of a file published in parts grouped as one (at its first part's place).
    pub fn whole_files(&self) -> Vec<WholeFile<'_>> {
        let mut files: Vec<WholeFile<'_>> = Vec::new();
        for artifact in &self.artifacts {
            match &artifact.part_of {
                None => files.push(WholeFile {
                    name: &artifact.name,
                    bytes: artifact.bytes,
                    sha256: &artifact.sha256,
                    artifacts: vec![artifact],
                }),
                Some(part) => match files
                    .iter_mut()
                    .find(|f| f.in_parts() && f.name == part.file)
                {
                    Some(whole) => whole.artifacts.push(artifact),
                    None => files.push(WholeFile {
                        name: &part.file,
                        bytes: part.bytes,
                        sha256: &part.sha256,
                        artifacts: vec![artifact],
                    }),
                },
            }
        }
        files
    }

    /// Every table of the release, in the manifest's order, each with its Parquet file or files
    /// (the parts of a table grouped at its first part's place).
    pub fn tables(&self) -> Vec<TableFiles<'_>> {
        let mut tables: Vec<TableFiles<'_>> = Vec::new();
        for artifact in &self.artifacts {
            let Some(info) = artifact.table.as_ref() else {
                continue;
            };
            let same = |t: &&mut TableFiles<'_>| {
                artifact.table_part.is_some()
                    && t.in_parts()
                    && t.info.schema == info.schema
                    && t.info.name == info.name
            };
            match tables.iter_mut().find(|t| same(t)) {
                Some(table) => table.artifacts.push(artifact),
                None => tables.push(TableFiles {
                    info,
                    artifacts: vec![artifact],
                }),
            }
        }
        tables
    }

    /// manifest.json bytes: pretty JSON with a trailing newline, stable field order.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serializes");
        text.push('\n');
        text
    }

    /// SHA256SUMS in the format `sha256sum -c` reads: artifacts, then the extra entries given.
    pub fn sha256sums(&self, extra: &[(&str, String)]) -> String {
        let mut lines = String::new();
        let entries = self
            .artifacts
            .iter()
            .map(|artifact| (artifact.name.as_str(), artifact.sha256.as_str()))
            .chain(extra.iter().map(|(name, sha)| (*name, sha.as_str())));
        for (name, sha256) in entries {
            // Two spaces: text mode in coreutils' format; names are ASCII without newlines.
            lines.push_str(&format!("{sha256}  {name}\n"));
        }
        lines
    }

    /// datapackage.json: a Frictionless Data Package (v2 profile) describing every artifact.
    pub fn datapackage(&self, description: Option<&str>, license: Option<&str>) -> Value {
        let tables = self.tables();
        let resources: Vec<Value> = self
            .whole_files()
            .iter()
            .filter_map(|file| match &file.first().table_part {
                None => Some(datapackage_resource(file)),
                // A table in parts: one resource at its first part.
                Some(part) if part.index == 1 => tables
                    .iter()
                    .find(|t| std::ptr::eq(t.artifacts[0], file.first()))
                    .map(table_parts_resource),
                Some(_) => None,
            })
            .collect();
        let mut package = json!({
            "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
            "name": self.dataset,
            "created": self.created_at,
            "resources": resources,
        });
        let object = package.as_object_mut().expect("object");
        if let Some(title) = &self.title {
            object.insert("title".into(), json!(title));
        }
        if let Some(version) = &self.version {
            object.insert("version".into(), json!(version));
        }
        if let Some(description) = description {
            object.insert("description".into(), json!(description));
        }
        if let Some(license) = license {
            object.insert("licenses".into(), json!([{ "name": license }]));
        }
        package
    }
}

/// One resource per file; a file in parts is one resource whose `path` lists the parts (a
/// Frictionless multipart resource: its data is the parts concatenated; `bytes` and `hash` are
/// the whole file's).
fn datapackage_resource(file: &WholeFile<'_>) -> Value {
    let artifact = file.first();
    let path = if file.in_parts() {
        json!(
            file.artifacts
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
        )
    } else {
        json!(file.name)
    };
    let mut resource = json!({
        "name": datapackage_resource_name(file.name),
        "path": path,
        "mediatype": artifact.media_type,
        "bytes": file.bytes,
        "hash": format!("sha256:{}", file.sha256),
    });
    let object = resource.as_object_mut().expect("object");
    if artifact.media_type == MEDIA_PARQUET {
        object.insert("format".into(), json!("parquet"));
    } else if artifact.media_type == MEDIA_GZIP {
        object.insert("compression".into(), json!("gz"));
    }
    if let Some(description) = &artifact.description {
        object.insert("description".into(), json!(description));
    }
    if let Some(table) = &artifact.table {
        object.insert("type".into(), json!("table"));
        object.insert(
            "title".into(),
            json!(format!("{}.{}", table.schema, table.name)),
        );
        object.insert("schema".into(), table_schema(table));
    }
    resource
}

/// A table written as several Parquet files: one tabular resource whose `path` lists them
/// (each is a complete Parquet file; the table is their rows together). `bytes` is their total;
/// there is no one file to hash, so each file's sha256 is in `SHA256SUMS` and the manifest.
fn table_parts_resource(table: &TableFiles<'_>) -> Value {
    let first = table.artifacts[0];
    let stem = first
        .name
        .strip_suffix(".parquet")
        .and_then(|stem| stem.rsplit_once('-'))
        .map_or(first.name.as_str(), |(stem, _)| stem);
    json!({
        "name": datapackage_resource_name(stem),
        "path": table.file_names(),
        "mediatype": first.media_type,
        "format": "parquet",
        "bytes": table.bytes(),
        "type": "table",
        "title": format!("{}.{}", table.info.schema, table.info.name),
        "schema": table_schema(table.info),
    })
}

/// Data Package resource names are lowercase `[a-z0-9._-]`; artifact names are ASCII already.
fn datapackage_resource_name(artifact_name: &str) -> String {
    artifact_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn table_schema(table: &TableInfo) -> Value {
    let fields: Vec<Value> = table
        .columns
        .iter()
        .map(|column| {
            let read_type = column
                .parquet_type
                .as_deref()
                .unwrap_or(&column.duckdb_type);
            let (field_type, format) = table_schema_type(read_type);
            let mut field = json!({
                "name": column.name,
                "type": field_type,
                "description": format!("DuckDB type {}", column.duckdb_type),
            });
            let object = field.as_object_mut().expect("object");
            if let Some(format) = format {
                object.insert("format".into(), json!(format));
            }
            if !column.nullable {
                object.insert("constraints".into(), json!({ "required": true }));
            }
            field
        })
        .collect();
    let mut schema = json!({
        "$schema": "https://datapackage.org/profiles/2.0/tableschema.json",
        "fields": fields,
    });
    if !table.primary_key.is_empty() {
        schema
            .as_object_mut()
            .expect("object")
            .insert("primaryKey".into(), json!(table.primary_key));
    }
    schema
}

/// Maps a DuckDB type name to a Table Schema field type and format.
fn table_schema_type(duckdb_type: &str) -> (&'static str, Option<&'static str>) {
    let upper = duckdb_type.to_ascii_uppercase();
    if upper.ends_with(']') {
        return ("array", None);
    }
    let head = upper.split('(').next().unwrap_or("").trim();
    match head {
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "HUGEINT" | "UTINYINT" | "USMALLINT"
        | "UINTEGER" | "UBIGINT" | "UHUGEINT" => ("integer", None),
        "FLOAT" | "DOUBLE" | "DECIMAL" => ("number", None),
        "BOOLEAN" => ("boolean", None),
        "DATE" => ("date", None),
        "TIME" => ("time", None),
        "TIMESTAMP"
        | "TIMESTAMP_S"
        | "TIMESTAMP_MS"
        | "TIMESTAMP_NS"
        | "TIMESTAMP WITH TIME ZONE" => ("datetime", None),
        "UUID" => ("string", Some("uuid")),
        "BLOB" => ("string", Some("binary")),
        "STRUCT" | "MAP" => ("object", None),
        _ => ("string", None),
    }
}

/// Why bytes that claim to be a manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or not shaped like a manifest.
    #[error("is not a dbrelease manifest ({0})")]
    Malformed(String),
    /// Written in a format this version cannot read.
    #[error(
        "uses manifest format {found}, this dbrelease reads formats up to {MANIFEST_VERSION}: upgrade dbrelease"
    )]
    NewerFormat {
        /// The `manifest_version` found.
        found: u32,
    },
    /// A name that would become a path is not a plain file name.
    #[error("lists {field} {name:?}, which is not a plain file name; refusing to use it")]
    UnsafeName {
        /// Which field held it.
        field: &'static str,
        /// The name as published.
        name: String,
    },
    /// The parts of a file do not add up to it.
    #[error("lists the parts of {file} inconsistently: {problem}")]
    BrokenParts {
        /// The whole file's name.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

impl Manifest {
    /// Parses a published manifest and checks everything a reader will turn into a path:
    /// artifact names and the source file name must be plain file names (see
    /// [`crate::names::is_safe_file_name`]). Unknown fields are ignored (additive changes by a
    /// newer dbrelease stay readable); a newer `manifest_version` is refused.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        // Read the version first, so a newer format is reported as such, not as a shape error.
        #[derive(Deserialize)]
        struct VersionOnly {
            manifest_version: u32,
        }
        let version: VersionOnly = serde_json::from_slice(bytes)
            .map_err(|err| ManifestError::Malformed(err.to_string()))?;
        if version.manifest_version > MANIFEST_VERSION {
            return Err(ManifestError::NewerFormat {
                found: version.manifest_version,
            });
        }
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|err| ManifestError::Malformed(err.to_string()))?;
        for artifact in &manifest.artifacts {
            crate::names::check_file_name("an artifact named", &artifact.name)?;
        }
        crate::names::check_file_name("a source file named", &manifest.source.file_name)?;
        for file in manifest.whole_files().iter().filter(|f| f.in_parts()) {
            crate::names::check_file_name("a file in parts named", file.name)?;
            check_parts(file)?;
        }
        for table in manifest.tables().iter().filter(|t| t.in_parts()) {
            check_table_parts(table)?;
        }
        Ok(manifest)
    }
}

/// The parts of a file are 1..=count in order, each starting where the one before ended, and
/// together exactly the whole file: a reader may then concatenate them and check one sha256.
fn check_parts(file: &WholeFile<'_>) -> Result<(), ManifestError> {
    let broken = |problem: String| ManifestError::BrokenParts {
        file: file.name.to_string(),
        problem,
    };
    let mut offset = 0u64;
    for (position, artifact) in file.artifacts.iter().enumerate() {
        let part = artifact.part_of.as_ref().expect("a part");
        if part.count as usize != file.artifacts.len() {
            return Err(broken(format!(
                "{} parts are listed, but {} is one of {}",
                file.artifacts.len(),
                artifact.name,
                part.count
            )));
        }
        if part.index as usize != position + 1 {
            return Err(broken(format!(
                "{} is part {} but listed in place {}",
                artifact.name,
                part.index,
                position + 1
            )));
        }
        if part.offset != offset || part.bytes != file.bytes || part.sha256 != file.sha256 {
            return Err(broken(format!(
                "{} does not continue the parts before it (offset {}, expected {offset})",
                artifact.name, part.offset
            )));
        }
        offset += artifact.bytes;
    }
    if offset != file.bytes {
        return Err(broken(format!(
            "the parts hold {offset} bytes, the file {}",
            file.bytes
        )));
    }
    Ok(())
}

/// The files of a table in parts are 1..=count in order, all describe the same table, and
/// their rows add up to its total: a reader may then read the list as the table.
fn check_table_parts(table: &TableFiles<'_>) -> Result<(), ManifestError> {
    let broken = |problem: String| ManifestError::BrokenParts {
        file: format!("table {}.{}", table.info.schema, table.info.name),
        problem,
    };
    let mut rows = 0u64;
    for (position, artifact) in table.artifacts.iter().enumerate() {
        let part = artifact.table_part.as_ref().expect("a table part");
        if part.count as usize != table.artifacts.len() || part.index as usize != position + 1 {
            return Err(broken(format!(
                "{} is file {} of {}, but listed in place {} of {}",
                artifact.name,
                part.index,
                part.count,
                position + 1,
                table.artifacts.len()
            )));
        }
        if artifact.table.as_ref() != Some(table.info) {
            return Err(broken(format!(
                "{} describes the table differently from the first file",
                artifact.name
            )));
        }
        // A partitioned table's file holds one value of every entry (an empty partitioned
        // table is one file without values).
        let entries: Vec<&str> = part.partition.iter().map(|p| p.by.as_str()).collect();
        let expected: Vec<&str> = table.info.partition_by.iter().map(String::as_str).collect();
        if entries != expected && !(part.partition.is_empty() && part.rows == 0) {
            return Err(broken(format!(
                "{} has values of {entries:?}, the table is partitioned by {expected:?}",
                artifact.name
            )));
        }
        rows += part.rows;
    }
    if rows != table.info.rows {
        return Err(broken(format!(
            "the files hold {rows} rows, the table {}",
            table.info.rows
        )));
    }
    Ok(())
}

/// `v1.2.0` → `1.2.0`; other tags are their own version.
pub fn version_from_tag(tag: &str) -> String {
    match tag.strip_prefix('v') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
        _ => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION_WITHOUT_PARTS,
            dataset: "d".into(),
            title: Some("D".into()),
            tag: Some("v1.0.0".into()),
            version: Some("1.0.0".into()),
            created_at: "1970-01-01T00:00:00Z".into(),
            generator: Generator {
                name: "dbrelease".into(),
                version: "0".into(),
                duckdb_version: "v2".into(),
            },
            source: Source {
                file_name: "x.duckdb".into(),
                bytes: 3,
                sha256: "ab".into(),
                storage_version: 64,
                storage_compatibility: None,
                written_by: None,
                wal_checkpointed: false,
            },
            artifacts: vec![Artifact {
                name: "My_Table.parquet".into(),
                kind: ArtifactKind::Table,
                media_type: MEDIA_PARQUET.into(),
                bytes: 10,
                sha256: "cd".into(),
                description: None,
                table: Some(TableInfo {
                    schema: "main".into(),
                    name: "My Table".into(),
                    rows: 1,
                    columns: vec![
                        Column {
                            name: "id".into(),
                            duckdb_type: "BIGINT".into(),
                            parquet_type: None,
                            nullable: false,
                            stats: None,
                        },
                        Column {
                            name: "tags".into(),
                            duckdb_type: "VARCHAR[]".into(),
                            parquet_type: None,
                            nullable: true,
                            stats: None,
                        },
                    ],
                    sort_by: vec![],
                    primary_key: vec!["id".into()],
                    partition_by: vec![],
                }),
                database: None,
                duckdb_file: None,
                part_of: None,
                table_part: None,
            }],
            built_by: None,
        }
    }

    #[test]
    fn manifest_json_round_trips() {
        let manifest = sample();
        let parsed: Manifest = serde_json::from_str(&manifest.to_json()).unwrap();
        assert_eq!(parsed, manifest);
    }

    #[test]
    fn sha256sums_uses_coreutils_format() {
        let sums = sample().sha256sums(&[("manifest.json", "ef".into())]);
        assert_eq!(sums, "cd  My_Table.parquet\nef  manifest.json\n");
    }

    #[test]
    fn datapackage_describes_tables_with_a_table_schema() {
        let package = sample().datapackage(Some("about"), Some("CC-BY-4.0"));
        let resource = &package["resources"][0];
        assert_eq!(resource["name"], "my_table.parquet");
        assert_eq!(resource["hash"], "sha256:cd");
        assert_eq!(resource["schema"]["fields"][0]["type"], "integer");
        assert_eq!(
            resource["schema"]["fields"][0]["constraints"]["required"],
            true
        );
        assert_eq!(resource["schema"]["fields"][1]["type"], "array");
        assert_eq!(resource["schema"]["primaryKey"][0], "id");
        assert_eq!(package["licenses"][0]["name"], "CC-BY-4.0");
    }

    /// `sample()` with its database published as three parts of 10, 10 and 5 bytes.
    fn in_parts() -> Manifest {
        let mut manifest = sample();
        for (index, bytes) in [(1u32, 10u64), (2, 10), (3, 5)] {
            manifest.artifacts.push(Artifact {
                name: format!("x.duckdb.gz.{index:03}"),
                kind: ArtifactKind::Database,
                media_type: MEDIA_GZIP.into(),
                bytes,
                sha256: format!("part{index}"),
                description: None,
                table: None,
                database: Some(DatabaseInfo {
                    uncompressed_bytes: 3,
                    uncompressed_sha256: "ab".into(),
                }),
                duckdb_file: None,
                part_of: Some(PartOf {
                    file: "x.duckdb.gz".into(),
                    index,
                    count: 3,
                    offset: u64::from(index - 1) * 10,
                    bytes: 25,
                    sha256: "whole".into(),
                }),
                table_part: None,
            });
        }
        manifest.manifest_version = Manifest::version_needed(&manifest.artifacts);
        manifest
    }

    #[test]
    fn a_file_in_parts_is_one_file_for_readers_and_one_resource() {
        let manifest = in_parts();
        assert_eq!(manifest.manifest_version, 2, "parts need format 2");
        assert_eq!(Manifest::version_needed(&sample().artifacts), 1);
        let files = manifest.whole_files();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].name, "x.duckdb.gz");
        assert_eq!(files[1].bytes, 25);
        assert_eq!(files[1].artifacts.len(), 3);
        let parsed = Manifest::parse(manifest.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, manifest);
        let package = manifest.datapackage(None, None);
        let resource = &package["resources"][1];
        assert_eq!(resource["name"], "x.duckdb.gz");
        assert_eq!(
            resource["path"],
            json!(["x.duckdb.gz.001", "x.duckdb.gz.002", "x.duckdb.gz.003"])
        );
        assert_eq!(resource["hash"], "sha256:whole");
        assert_eq!(resource["bytes"], 25);
        // SHA256SUMS lists the files that exist: the parts.
        assert!(
            manifest
                .sha256sums(&[])
                .contains("part2  x.duckdb.gz.002\n")
        );
    }

    #[test]
    fn parts_that_do_not_add_up_are_refused() {
        let mut gap = in_parts();
        gap.artifacts[2].part_of.as_mut().unwrap().offset = 11;
        let err = Manifest::parse(gap.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("x.duckdb.gz.002 does not continue"),
            "{err}"
        );
        let mut missing = in_parts();
        missing.artifacts.remove(3);
        let err = Manifest::parse(missing.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("2 parts are listed, but x.duckdb.gz.001 is one of 3"),
            "{err}"
        );
        let mut short = in_parts();
        for artifact in &mut short.artifacts[1..] {
            artifact.part_of.as_mut().unwrap().bytes = 26;
        }
        let err = Manifest::parse(short.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("the parts hold 25 bytes, the file 26"),
            "{err}"
        );
    }

    /// `sample()` with its table written as three Parquet files of 2, 2 and 1 rows.
    fn table_in_parts() -> Manifest {
        let mut manifest = sample();
        let mut first = manifest.artifacts.remove(0);
        first.table.as_mut().unwrap().rows = 5;
        for (index, rows) in [(1u32, 2u64), (2, 2), (3, 1)] {
            let mut part = first.clone();
            part.name = format!("My_Table-{index:04}.parquet");
            part.sha256 = format!("part{index}");
            part.table_part = Some(TablePart {
                index,
                count: 3,
                rows,
                partition: Vec::new(),
            });
            manifest.artifacts.push(part);
        }
        manifest.manifest_version = Manifest::version_needed(&manifest.artifacts);
        manifest
    }

    #[test]
    fn a_table_in_parts_is_one_table_for_readers_and_one_resource() {
        let manifest = table_in_parts();
        assert_eq!(manifest.manifest_version, 2, "table parts need format 2");
        let tables = manifest.tables();
        assert_eq!(tables.len(), 1, "{tables:?}");
        assert_eq!(tables[0].info.rows, 5);
        assert_eq!(
            tables[0].file_names(),
            [
                "My_Table-0001.parquet",
                "My_Table-0002.parquet",
                "My_Table-0003.parquet"
            ]
        );
        assert_eq!(tables[0].bytes(), 30);
        assert_eq!(
            Manifest::parse(manifest.to_json().as_bytes()).unwrap(),
            manifest
        );
        let package = manifest.datapackage(None, None);
        let resources = package["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 1, "{resources:?}");
        assert_eq!(resources[0]["name"], "my_table");
        assert_eq!(resources[0]["path"][2], "My_Table-0003.parquet");
        assert_eq!(resources[0]["bytes"], 30);
        assert_eq!(resources[0]["schema"]["primaryKey"][0], "id");
        assert!(
            manifest
                .sha256sums(&[])
                .contains("part3  My_Table-0003.parquet\n")
        );
        // A table in one file is one table too.
        assert_eq!(sample().tables()[0].file_names(), ["My_Table.parquet"]);
    }

    #[test]
    fn table_parts_that_do_not_add_up_are_refused() {
        let mut rows = table_in_parts();
        rows.artifacts[2].table_part.as_mut().unwrap().rows = 3;
        let err = Manifest::parse(rows.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("table main.My Table inconsistently: the files hold 7 rows, the table 5"),
            "{err}"
        );
        let mut missing = table_in_parts();
        missing.artifacts.remove(1);
        let err = Manifest::parse(missing.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("My_Table-0001.parquet is file 1 of 3, but listed in place 1 of 2"),
            "{err}"
        );
        let mut differs = table_in_parts();
        differs.artifacts[1].table.as_mut().unwrap().columns.pop();
        let err = Manifest::parse(differs.to_json().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains(
                "My_Table-0002.parquet describes the table differently from the first file"
            ),
            "{err}"
        );
    }

    #[test]
    fn versions_come_from_tags() {
        assert_eq!(version_from_tag("v1.2.0"), "1.2.0");
        assert_eq!(version_from_tag("latest"), "latest");
        assert_eq!(version_from_tag("vendor"), "vendor");
    }
}
