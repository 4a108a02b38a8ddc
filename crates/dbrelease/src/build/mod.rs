//! `dbrelease build`: snapshot → artifacts → manifest, all offline.
//!
//! Everything is written into a hidden staging folder inside the output directory and moved
//! into place only when every artifact is complete, `manifest.json` last: a directory that
//! has a manifest.json always holds exactly what that manifest lists.

pub mod catalog;
pub mod gzip;
pub mod layout;
pub mod parquet;
pub mod parts;
pub mod source;
pub mod types;
pub mod writeback;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::config::BuildConfig;
use crate::error::{Error, Result};
use dbrelease_manifest::names::{
    MEDIA_GZIP, MEDIA_PARQUET, sanitize_artifact_name, table_artifact_stem, unique_name,
};
use dbrelease_manifest::{
    Artifact, ArtifactKind, DATAPACKAGE_FILE, DatabaseInfo, DuckdbFileInfo, GENERATOR_NAME,
    Generator, MANIFEST_FILE, Manifest, PartOf, SHA256SUMS_FILE, Source, TableInfo, TablePart,
    version_from_tag,
};
use dbrelease_remote::hashing::{Digested, HashingWriter, digest_bytes};
use dbrelease_remote::progress::Progress;
use source::{FileHeader, Snapshot};

/// Prefix of the staging folders inside the output directory.
const STAGING_PREFIX: &str = ".dbrelease-staging-";

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The manifest that was written.
    pub manifest: Manifest,
    /// Where the artifacts are.
    pub out_dir: PathBuf,
    /// Wall time of the build.
    pub elapsed: Duration,
    /// datapackage.json, SHA256SUMS and manifest.json: name, bytes, sha256.
    pub metadata: Vec<(&'static str, u64, String)>,
}

/// One built artifact before it is described in the manifest.
struct Built {
    name: String,
    kind: ArtifactKind,
    media_type: String,
    digest: Digested,
    description: Option<String>,
    table: Option<TableInfo>,
    database: Option<DatabaseInfo>,
    duckdb_file: Option<DuckdbFileInfo>,
    part_of: Option<PartOf>,
    table_part: Option<TablePart>,
}

/// Runs the whole build; on error nothing in the output directory looks finished.
pub fn run_build(config: &BuildConfig, progress: &Progress) -> Result<BuildOutcome> {
    let started = Instant::now();
    // The source as it is on disk: header, pending WAL, file name. Refused before any write.
    let source = check_source(config)?;
    // The file to release: the database itself, or a checkpointed copy of it and its WAL
    // (which needs the staging folder first).
    let mut staging = None;
    let release_source = match &source.wal {
        Some(wal) => {
            let folder = create_staging(&config.out_dir)?;
            let copy = checkpointed_copy(&config.database, wal, folder.path(), &source.file_name)?;
            staging = Some(folder);
            copy
        }
        None => config.database.clone(),
    };
    // One read-only snapshot: tables, schemas, row counts; every table's export checked.
    let conn =
        source::open_read_only(&release_source, &source.header, &config.export.memory_limit)?;
    let snapshot = source::snapshot(&conn, &config.database, &config.export)?;
    debug!(tables = snapshot.tables.len(), duckdb = %snapshot.duckdb_version, "snapshot taken");
    for table in &snapshot.tables {
        parquet::check_table(&conn, table, &config.export)?;
    }
    // Artifact names, unique and plain; extra files checked. Still nothing written.
    let catalog_prefix = config.catalog_prefix()?;
    let names = name_artifacts(
        config,
        &snapshot,
        &source.file_name,
        catalog_prefix.is_some(),
    )?;
    let staging = match staging {
        Some(folder) => folder,
        None => create_staging(&config.out_dir)?,
    };
    // The artifacts, hashed while written: tables to Parquet beside the gzip of the database.
    let exported = export_all(
        config,
        progress,
        &conn,
        &snapshot,
        &names,
        &release_source,
        &source.file_name,
        staging.path(),
    );
    drop(conn);
    let (mut built, uncompressed) = collect_built(
        config,
        &snapshot,
        names,
        exported,
        &release_source,
        staging.path(),
    )?;
    if let Some(prefix) = &catalog_prefix {
        built.push(build_catalog(&built, prefix, staging.path())?);
    }
    // The manifest, then the metadata files and the move into --out, manifest last.
    let manifest = assemble_manifest(
        config,
        &source.header,
        &snapshot,
        &source.file_name,
        &uncompressed,
        source.wal.is_some(),
        built,
    );
    let metadata = commit(config, &manifest, staging.path())?;
    Ok(BuildOutcome {
        manifest,
        out_dir: config.out_dir.clone(),
        elapsed: started.elapsed(),
        metadata,
    })
}

/// The source database as found on disk.
struct CheckedSource {
    header: FileHeader,
    wal: Option<PathBuf>,
    file_name: String,
}

/// Reads the header and refuses a pending WAL unless `--checkpoint-wal`.
fn check_source(config: &BuildConfig) -> Result<CheckedSource> {
    let header = source::read_header(&config.database)?;
    let wal = source::pending_wal(&config.database);
    if let (Some(wal), false) = (&wal, config.checkpoint_wal) {
        return Err(Error::source(
            &config.database,
            format!(
                "a write-ahead log ({}) holds changes that are not in the database file yet, \
                 so the Parquet files and the .gz would disagree. Checkpoint it with the program \
                 that writes the database (run `CHECKPOINT;` or close it cleanly), or pass \
                 --checkpoint-wal to release a checkpointed temporary copy",
                wal.display()
            ),
        ));
    }
    let file_name = config
        .database
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| Error::source(&config.database, "the path has no file name"))?;
    Ok(CheckedSource {
        header,
        wal,
        file_name,
    })
}

/// The artifact names of one build.
struct ArtifactNames {
    database: String,
    /// The database file as it is, when `[database] uncompressed`.
    uncompressed: Option<String>,
    tables: Vec<String>,
}

/// Unique, plain names for the database and every table, each table's from its own name only;
/// extra files must not collide and must be readable.
fn name_artifacts(
    config: &BuildConfig,
    snapshot: &Snapshot,
    source_file_name: &str,
    with_catalog: bool,
) -> Result<ArtifactNames> {
    let mut taken: BTreeSet<String> = [MANIFEST_FILE, SHA256SUMS_FILE, DATAPACKAGE_FILE]
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    if with_catalog {
        taken.insert(catalog::CATALOG_FILE.into());
    }
    let database = unique_name(&sanitize_artifact_name(source_file_name), ".gz", &mut taken);
    let uncompressed = config
        .uncompressed_database
        .then(|| unique_name(&sanitize_artifact_name(source_file_name), "", &mut taken));
    let tables: Vec<String> = snapshot
        .tables
        .iter()
        .map(|table| {
            // Each table's name decides its file alone (see `table_artifact_stem`); the
            // counter of `unique_name` only guards against a digest clash.
            unique_name(
                &table_artifact_stem(&table.display_name()),
                ".parquet",
                &mut taken,
            )
        })
        .collect();
    for extra in &config.files {
        if !taken.insert(extra.name.to_ascii_lowercase()) {
            return Err(Error::Config(format!(
                "files: artifact name {:?} is already used by a generated artifact; set another `name`",
                extra.name
            )));
        }
        if !extra.path.is_file() {
            return Err(Error::Config(format!(
                "files: {} is not a readable file (check `path` under [[files]] in the config)",
                extra.path.display()
            )));
        }
    }
    Ok(ArtifactNames {
        database,
        uncompressed,
        tables,
    })
}

/// The database's `.gz` as written: the digests of the whole stream and of its input, and the
/// files it is in (the one `.gz`, or its parts in order), by name.
struct GzippedDatabase {
    outcome: gzip::GzipOutcome,
    files: Vec<(String, Digested)>,
}

/// What the exports returned: the gzip (with its time) and each table's export, in order (the
/// first failure stops the tables).
struct Exported {
    gzip: Result<(GzippedDatabase, Duration)>,
    tables: Vec<Result<parquet::TableExport>>,
}

/// Exports every table while the database is gzipped on the side: together they keep both
/// cores busy for the whole build (the gzip is parallel itself).
#[allow(clippy::too_many_arguments)]
fn export_all(
    config: &BuildConfig,
    progress: &Progress,
    conn: &duckdb::Connection,
    snapshot: &Snapshot,
    names: &ArtifactNames,
    release_source: &Path,
    source_file_name: &str,
    staging: &Path,
) -> Exported {
    let provenance = &parquet::ParquetProvenance {
        source_file: source_file_name.to_string(),
    };
    let gzip_path = staging.join(&names.database);
    let mtime = config
        .source_date_epoch
        .map(|epoch| epoch.clamp(0, u32::MAX as i64) as u32)
        .unwrap_or(0);
    std::thread::scope(|scope| {
        let gzip_bar = progress.bytes(&names.database, header_len(release_source));
        let gzip_path = &gzip_path;
        let gzip_task = scope.spawn(move || {
            let started = Instant::now();
            let result = gzip_file(
                release_source,
                gzip_path,
                config.gzip_level,
                mtime,
                config.database_part_size,
                &|done| gzip_bar.set(done),
            );
            gzip_bar.finish();
            result.map(|outcome| (outcome, started.elapsed()))
        });
        let checker = parquet::Checker::start(scope, conn);
        let mut failed = None;
        for (table, artifact) in snapshot.tables.iter().zip(&names.tables) {
            let Ok(checker) = &checker else { break };
            let bar = progress.rows(artifact, table.rows);
            let result = parquet::write_table(
                scope,
                conn,
                table,
                &config.export,
                provenance,
                staging.join(artifact),
                &|rows| bar.set(rows),
            );
            bar.finish();
            match result {
                Ok(pending) => checker.check(pending),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        // Checked tables first, in order; then the one that failed to be written.
        let mut tables = match checker {
            Ok(checker) => checker.finish(),
            Err(err) => vec![Err(err)],
        };
        tables.extend(failed.map(Err));
        let gzip = gzip_task.join().expect("gzip thread panicked");
        Exported { gzip, tables }
    })
}

/// The built artifacts in manifest order (tables, database, extra files, copied now), and the
/// digest of the uncompressed database.
fn collect_built(
    config: &BuildConfig,
    snapshot: &Snapshot,
    names: ArtifactNames,
    exported: Exported,
    release_source: &Path,
    staging: &Path,
) -> Result<(Vec<Built>, Digested)> {
    let mut built = Vec::new();
    for ((table, artifact), result) in snapshot
        .tables
        .iter()
        .zip(names.tables)
        .zip(exported.tables)
    {
        let export = result?;
        let info = TableInfo {
            schema: table.schema.clone(),
            name: table.name.clone(),
            rows: export.rows,
            columns: export.columns,
            sort_by: export.sort_by,
            primary_key: table.primary_key.clone(),
            partition_by: export.partition_by,
        };
        let count = export.files.len() as u32;
        // A partitioned table's files are named by their values even when there is one, so
        // that a partition keeps its name (and, unchanged, its bytes) when others are added.
        let in_parts = count > 1 || !info.partition_by.is_empty();
        if count > 1 {
            info!(
                artifact = %artifact,
                files = count,
                part_size = config.export.part_size,
                "table written in parts"
            );
        }
        for (file, index) in export.files.into_iter().zip(1..) {
            built.push(Built {
                name: file.name,
                kind: ArtifactKind::Table,
                media_type: MEDIA_PARQUET.into(),
                digest: file.digest,
                description: None,
                table: Some(info.clone()),
                database: None,
                duckdb_file: None,
                part_of: None,
                table_part: in_parts.then_some(TablePart {
                    index,
                    count,
                    rows: file.rows,
                    partition: file.partition,
                }),
            });
        }
    }
    let (gzipped, gzip_elapsed) = exported.gzip?;
    let gzip_outcome = gzipped.outcome;
    info!(
        artifact = %names.database,
        bytes = gzip_outcome.compressed.bytes,
        seconds = format_args!("{:.2}", gzip_elapsed.as_secs_f64()),
        "database compressed"
    );
    let database = DatabaseInfo {
        uncompressed_bytes: gzip_outcome.uncompressed.bytes,
        uncompressed_sha256: gzip_outcome.uncompressed.sha256.clone(),
    };
    let count = gzipped.files.len() as u32;
    if count > 1 {
        info!(
            artifact = %names.database,
            parts = count,
            part_size = config.database_part_size,
            "database published in parts"
        );
    }
    let mut offset = 0u64;
    for ((name, digest), index) in gzipped.files.into_iter().zip(1..) {
        let part_of = (count > 1).then(|| PartOf {
            file: names.database.clone(),
            index,
            count,
            offset,
            bytes: gzip_outcome.compressed.bytes,
            sha256: gzip_outcome.compressed.sha256.clone(),
        });
        offset += digest.bytes;
        built.push(Built {
            name,
            kind: ArtifactKind::Database,
            media_type: MEDIA_GZIP.into(),
            digest,
            description: None,
            table: None,
            database: Some(database.clone()),
            duckdb_file: None,
            part_of,
            table_part: None,
        });
    }
    if let Some(name) = names.uncompressed {
        let dest = staging.join(&name);
        let digest = copy_hashed(release_source, &dest)?;
        // The copy and the gzip each read the file once: the same bytes, or it changed.
        if digest != gzip_outcome.uncompressed {
            return Err(Error::source(
                release_source,
                "the database file changed while it was released (the copy and the .gz differ): stop the program writing it, or release a copy",
            ));
        }
        // DuckDB names the level `v1.0.0+` (v1.0.0 and later): the level is v1.0.0.
        let storage_version = snapshot
            .storage_compatibility
            .as_deref()
            .unwrap_or("v1.0.0")
            .trim_end_matches('+')
            .to_string();
        built.push(Built {
            name: name.clone(),
            kind: ArtifactKind::Database,
            media_type: MEDIA_DUCKDB.into(),
            digest,
            description: None,
            table: None,
            database: None,
            duckdb_file: Some(DuckdbFileInfo {
                opens_with: oldest_duckdb(&storage_version),
                storage_version,
                attach: format!("ATTACH '{name}' (READ_ONLY)"),
            }),
            part_of: None,
            table_part: None,
        });
    }
    for extra in &config.files {
        let digest = copy_hashed(&extra.path, &staging.join(&extra.name))?;
        built.push(Built {
            name: extra.name.clone(),
            kind: ArtifactKind::File,
            media_type: extra.media_type.clone(),
            digest,
            description: extra.description.clone(),
            table: None,
            database: None,
            duckdb_file: None,
            part_of: None,
            table_part: None,
        });
    }
    refuse_clashing_names(&built)?;
    Ok((built, gzip_outcome.uncompressed))
}

/// Names are chosen before the export, but the files of a table in parts (`t-0001.parquet`)
/// are known only after it: one may be the name of another table (`t-0001`) or of an extra
/// file. Two artifacts of one name would overwrite each other on every host.
fn refuse_clashing_names(built: &[Built]) -> Result<()> {
    let mut seen: BTreeSet<String> = [MANIFEST_FILE, SHA256SUMS_FILE, DATAPACKAGE_FILE]
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    for artifact in built {
        if !seen.insert(artifact.name.to_ascii_lowercase()) {
            let whose = match &artifact.table {
                Some(table) if artifact.table_part.is_some() => {
                    format!("a file of table {}.{} in parts", table.schema, table.name)
                }
                _ => "an artifact".into(),
            };
            return Err(Error::Config(format!(
                "{whose} is named {:?}, like another artifact of this release: rename the table or the extra file, or raise [export] part_size",
                artifact.name
            )));
        }
    }
    Ok(())
}

/// Media type of a DuckDB database file (not registered with IANA; DuckDB's own docs use it).
const MEDIA_DUCKDB: &str = "application/vnd.duckdb";

/// The oldest DuckDB release that opens a file of storage compatibility `storage_version`
/// (`v1.0.0+`, `v1.2.0`): the version itself, as DuckDB names levels by the first release
/// that writes them.
fn oldest_duckdb(storage_version: &str) -> String {
    storage_version
        .trim_start_matches('v')
        .trim_end_matches('+')
        .to_string()
}

/// Writes `catalog.duckdb` into `staging` over the staged tables and describes it.
fn build_catalog(built: &[Built], prefix: &str, staging: &Path) -> Result<Built> {
    // One view per table, over all its files (a table in parts is consecutive artifacts).
    let mut views: Vec<catalog::CatalogView> = Vec::new();
    for (artifact, table) in built
        .iter()
        .filter_map(|b| b.table.as_ref().map(|table| (b, table)))
    {
        match views.last_mut() {
            Some(view)
                if artifact
                    .table_part
                    .as_ref()
                    .is_some_and(|part| part.index > 1)
                    && view.schema == table.schema
                    && view.name == table.name =>
            {
                view.files.push(artifact.name.clone())
            }
            _ => views.push(catalog::CatalogView {
                schema: table.schema.clone(),
                name: table.name.clone(),
                files: vec![artifact.name.clone()],
            }),
        }
    }
    let dest = staging.join(catalog::CATALOG_FILE);
    let started = Instant::now();
    catalog::write_catalog(&dest, staging, prefix, &views)?;
    let digest =
        dbrelease_remote::hashing::hash_file(&dest).map_err(|err| Error::output(&dest, &err))?;
    info!(
        artifact = catalog::CATALOG_FILE,
        views = views.len(),
        bytes = digest.bytes,
        seconds = format_args!("{:.2}", started.elapsed().as_secs_f64()),
        "catalog written"
    );
    let url = format!("{prefix}{}", catalog::CATALOG_FILE);
    Ok(Built {
        name: catalog::CATALOG_FILE.into(),
        kind: ArtifactKind::Catalog,
        media_type: MEDIA_DUCKDB.into(),
        digest,
        description: Some(format!(
            "One view per table over this version's Parquet files at {prefix}"
        )),
        table: None,
        database: None,
        duckdb_file: Some(DuckdbFileInfo {
            storage_version: catalog::CATALOG_STORAGE_VERSION.into(),
            opens_with: oldest_duckdb(catalog::CATALOG_STORAGE_VERSION),
            attach: format!("ATTACH '{url}' AS data (READ_ONLY)"),
        }),
        part_of: None,
        table_part: None,
    })
}

/// Creates the output directory and a hidden staging folder inside it (same file system, so
/// the final moves are atomic renames).
fn create_staging(out_dir: &Path) -> Result<tempfile::TempDir> {
    refuse_foreign_link(out_dir)?;
    std::fs::create_dir_all(out_dir).map_err(|err| Error::output(out_dir, &err))?;
    // tempfile makes the folder owner-only (0700) under a random name.
    tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(out_dir)
        .map_err(|err| Error::output(out_dir, &err))
}

fn header_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Pure: the manifest from what was built.
fn assemble_manifest(
    config: &BuildConfig,
    header: &FileHeader,
    snapshot: &Snapshot,
    source_file_name: &str,
    source_digest: &Digested,
    wal_checkpointed: bool,
    built: Vec<Built>,
) -> Manifest {
    let artifacts: Vec<Artifact> = built
        .into_iter()
        .map(|built| Artifact {
            name: built.name,
            kind: built.kind,
            media_type: built.media_type,
            bytes: built.digest.bytes,
            sha256: built.digest.sha256,
            description: built.description,
            table: built.table,
            database: built.database,
            duckdb_file: built.duckdb_file,
            part_of: built.part_of,
            table_part: built.table_part,
        })
        .collect();
    Manifest {
        manifest_version: Manifest::version_needed(&artifacts),
        dataset: config.name.clone(),
        title: config.title.clone(),
        tag: config.tag.clone(),
        version: config.tag.as_deref().map(version_from_tag),
        created_at: created_at(config.source_date_epoch),
        generator: Generator {
            name: GENERATOR_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            duckdb_version: snapshot.duckdb_version.clone(),
        },
        source: Source {
            file_name: source_file_name.to_string(),
            bytes: source_digest.bytes,
            sha256: source_digest.sha256.clone(),
            storage_version: header.storage_version,
            storage_compatibility: snapshot.storage_compatibility.clone(),
            written_by: header.written_by.clone(),
            wal_checkpointed,
        },
        artifacts,
        built_by: config.built_by.clone(),
    }
}

/// RFC 3339 UTC from SOURCE_DATE_EPOCH, or now.
fn created_at(source_date_epoch: Option<i64>) -> String {
    let timestamp = source_date_epoch
        .and_then(|epoch| jiff::Timestamp::from_second(epoch).ok())
        .unwrap_or_else(|| {
            // Whole seconds: sub-second noise in a manifest helps nobody.
            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                .expect("now is in range")
        });
    timestamp.to_string()
}

/// Copies the database and its WAL into `staging` and checkpoints the copy there.
fn checkpointed_copy(
    database: &Path,
    wal: &Path,
    staging: &Path,
    file_name: &str,
) -> Result<PathBuf> {
    let folder = staging.join(".source");
    std::fs::create_dir(&folder).map_err(|err| Error::output(&folder, &err))?;
    let copy = folder.join(file_name);
    let mut copy_wal = copy.as_os_str().to_owned();
    copy_wal.push(".wal");
    std::fs::copy(database, &copy).map_err(|err| Error::output(&copy, &err))?;
    std::fs::copy(wal, PathBuf::from(&copy_wal)).map_err(|err| Error::output(&copy, &err))?;
    let conn = source::open_read_write(&copy)?;
    conn.execute_batch("CHECKPOINT")
        .map_err(|err| Error::source(database, format!("cannot checkpoint the copy: {err}")))?;
    drop(conn);
    info!(wal = %wal.display(), "released a checkpointed copy; the source files are untouched");
    Ok(copy)
}

/// Gzips `source` into `dest`, cut into `dest.001`, `.002`, … of `part_size` bytes while it is
/// written when it is larger (see [`parts`]); a `.gz` that fits in one part gets `dest`'s name.
fn gzip_file(
    source: &Path,
    dest: &Path,
    level: u32,
    mtime: u32,
    part_size: u64,
    progress: &dyn Fn(u64),
) -> Result<GzippedDatabase> {
    let input =
        File::open(source).map_err(|err| Error::source(source, format!("cannot read: {err}")))?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let output_error = |err: std::io::Error| match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<parts::TooManyParts>())
    {
        Some(too_many) => Error::Config(format!(
            "{name} needs {too_many} ([database] part_size); set a larger part_size (default 1.5 GiB)"
        )),
        None => Error::output(dest, &err),
    };
    let mut output = parts::PartedFile::create(dest, part_size).map_err(output_error)?;
    let outcome = gzip::gzip_parallel(
        BufReader::new(input),
        &mut output,
        level,
        mtime,
        threads,
        progress,
    )
    .map_err(output_error)?;
    let mut written = output.finish().map_err(output_error)?.parts;
    if let [(path, _)] = written.as_mut_slice() {
        std::fs::rename(&*path, dest).map_err(|err| Error::output(dest, &err))?;
        *path = dest.to_path_buf();
    }
    let files = written
        .into_iter()
        .map(|(path, digest)| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, digest)
        })
        .collect();
    Ok(GzippedDatabase { outcome, files })
}

/// Copies an extra file, hashing the bytes as they are written.
fn copy_hashed(source: &Path, dest: &Path) -> Result<Digested> {
    let mut input = File::open(source).map_err(|err| {
        Error::Config(format!(
            "files: cannot read {}: {err} (check `path` under [[files]] in the config)",
            source.display()
        ))
    })?;
    let output = File::create(dest).map_err(|err| Error::output(dest, &err))?;
    let mut writer = HashingWriter::new(BufWriter::with_capacity(1 << 20, output));
    std::io::copy(&mut input, &mut writer).map_err(|err| Error::output(dest, &err))?;
    let (buffered, digest) = writer.finish().map_err(|err| Error::output(dest, &err))?;
    let file = buffered
        .into_inner()
        .map_err(|err| Error::output(dest, err.error()))?;
    file.sync_all().map_err(|err| Error::output(dest, &err))?;
    Ok(digest)
}

/// Writes the metadata files and moves everything into the output directory, manifest last.
/// Returns the metadata files' names, sizes and digests.
fn commit(
    config: &BuildConfig,
    manifest: &Manifest,
    staging: &Path,
) -> Result<Vec<(&'static str, u64, String)>> {
    let out = &config.out_dir;
    let manifest_json = manifest.to_json();
    let datapackage = serde_json::to_string_pretty(
        &manifest.datapackage(config.description.as_deref(), config.license.as_deref()),
    )
    .expect("datapackage serializes")
        + "\n";
    let datapackage_digest = digest_bytes(datapackage.as_bytes());
    let manifest_digest = digest_bytes(manifest_json.as_bytes());
    let sums = manifest.sha256sums(&[
        (DATAPACKAGE_FILE, datapackage_digest.sha256.clone()),
        (MANIFEST_FILE, manifest_digest.sha256.clone()),
    ]);
    let sums_digest = digest_bytes(sums.as_bytes());
    for (name, text) in [
        (DATAPACKAGE_FILE, &datapackage),
        (SHA256SUMS_FILE, &sums),
        (MANIFEST_FILE, &manifest_json),
    ] {
        write_synced(&staging.join(name), text.as_bytes())?;
    }
    let metadata = vec![
        (
            DATAPACKAGE_FILE,
            datapackage_digest.bytes,
            datapackage_digest.sha256,
        ),
        (SHA256SUMS_FILE, sums_digest.bytes, sums_digest.sha256),
        (MANIFEST_FILE, manifest_digest.bytes, manifest_digest.sha256),
    ];

    // Whatever an earlier build left is ours to replace; first withdraw its manifest so the
    // directory never pairs an old manifest with new files.
    let previous = read_previous_manifest(out);
    let old_manifest = out.join(MANIFEST_FILE);
    match std::fs::remove_file(&old_manifest) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::output(&old_manifest, &err)),
    }
    let names = manifest
        .artifacts
        .iter()
        .map(|artifact| artifact.name.as_str())
        .chain([DATAPACKAGE_FILE, SHA256SUMS_FILE, MANIFEST_FILE]);
    for name in names {
        let target = out.join(name);
        std::fs::rename(staging.join(name), &target).map_err(|err| Error::output(&target, &err))?;
    }
    if let Some(previous) = previous {
        for stale in previous.artifacts {
            if !manifest
                .artifacts
                .iter()
                .any(|artifact| artifact.name == stale.name)
            {
                remove_stale(&out.join(&stale.name), &stale);
            }
        }
    }
    // Make the renames durable before anyone (a publish step) trusts the directory.
    if let Ok(dir) = File::open(out) {
        let _ = dir.sync_all();
    }
    Ok(metadata)
}

/// `--out` may be a link the user made (it is followed), but not one another account planted
/// (in a shared folder such as `/tmp`): the build would write into whatever folder it points to.
pub(crate) fn refuse_foreign_link(out_dir: &Path) -> Result<()> {
    if let Ok(metadata) = std::fs::symlink_metadata(out_dir)
        && metadata.is_symlink()
        && !dbrelease_remote::localfs::owned_by_user(&metadata)
    {
        return Err(Error::Output {
            path: out_dir.to_path_buf(),
            message: "is a symbolic link made by another account; dbrelease does not write through it: pass the folder it points to, or another --out".into(),
        });
    }
    Ok(())
}

/// Removes an artifact of the previous build, but only what that build wrote: a link (the link
/// itself), or a regular file with the size and sha256 its manifest recorded. Anything else is a
/// file someone put there under that name, and stays.
fn remove_stale(path: &Path, artifact: &dbrelease_manifest::Artifact) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    let ours = metadata.is_symlink()
        || (metadata.is_file()
            && metadata.len() == artifact.bytes
            && dbrelease_remote::hashing::hash_file(path)
                .is_ok_and(|digest| digest.sha256 == artifact.sha256));
    if !ours {
        warn!(path = %path.display(), "left in place: listed by the previous build's manifest, but not the file that build wrote");
        return;
    }
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), %err, "could not remove an artifact of the previous build");
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|err| Error::output(path, &err))?;
    file.write_all(bytes)
        .map_err(|err| Error::output(path, &err))?;
    file.sync_all().map_err(|err| Error::output(path, &err))
}

/// The manifest an earlier build left in `out`, when dbrelease wrote it: only then are the files
/// it lists ours to remove. `Manifest::parse` has checked that every name is a plain file name,
/// so a planted `manifest.json` listing `../notes.txt` removes nothing outside `out`.
fn read_previous_manifest(out: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(out.join(MANIFEST_FILE)).ok()?;
    let manifest = Manifest::parse(&bytes).ok()?;
    (manifest.generator.name == GENERATOR_NAME).then_some(manifest)
}
