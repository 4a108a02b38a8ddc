//! The DuckDB edge: opens the database read-only and takes a snapshot of what it holds.
//! Everything else works on the [`Snapshot`], never on the connection's catalog directly.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use duckdb::{AccessMode, Config, Connection};

use crate::config::ExportOptions;
use crate::error::{Error, Result};

/// Size of the part of the DuckDB file header we read ourselves.
const HEADER_LEN: usize = 64;

/// Facts from the database file header, read before DuckDB opens the file.
#[derive(Debug, Clone)]
pub struct FileHeader {
    /// Storage format number (64 for DuckDB 0.10 through 1.x).
    pub storage_version: u64,
    /// DuckDB version that last wrote the file, e.g. `v1.4.5` (recorded since DuckDB 1.2).
    pub written_by: Option<String>,
}

/// One table to export.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<SourceColumn>,
    /// Row count.
    pub rows: u64,
    /// Primary key columns.
    pub primary_key: Vec<String>,
}

impl SourceTable {
    /// `schema.table`, or `table` in schema `main` (how users name tables in the config).
    pub fn display_name(&self) -> String {
        if self.schema == "main" {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }

    /// The table as a quoted SQL identifier.
    pub fn sql_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// One column of a table.
#[derive(Debug, Clone)]
pub struct SourceColumn {
    /// Name.
    pub name: String,
    /// DuckDB type as DuckDB prints it.
    pub duckdb_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// What the database holds, read once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Tables selected for export, sorted by schema and name.
    pub tables: Vec<SourceTable>,
    /// Version of the embedded DuckDB library.
    pub duckdb_version: String,
    /// DuckDB's storage compatibility name for the file, e.g. `v1.0.0+`.
    pub storage_compatibility: Option<String>,
}

/// Quotes an identifier for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Checks that `path` is a DuckDB database file and reads its header.
pub fn read_header(path: &Path) -> Result<FileHeader> {
    let metadata = std::fs::metadata(path).map_err(|err| {
        let message = if err.kind() == std::io::ErrorKind::NotFound {
            "database file not found: check `database` in the config or pass --db PATH".to_string()
        } else {
            format!("cannot read the database file: {err}")
        };
        Error::source(path, message)
    })?;
    if !metadata.is_file() {
        return Err(Error::source(
            path,
            "not a regular file: pass the DuckDB database file itself with --db PATH",
        ));
    }
    let mut header = [0u8; HEADER_LEN];
    let mut file = File::open(path)
        .map_err(|err| Error::source(path, format!("cannot open the database file: {err}")))?;
    let read = read_up_to(&mut file, &mut header)
        .map_err(|err| Error::source(path, format!("cannot read the database file: {err}")))?;
    let header = &header[..read];
    if header.len() < 20 || &header[8..12] != b"DUCK" {
        return Err(Error::source(path, not_duckdb_message(header)));
    }
    let storage_version = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    let written_by = header
        .get(52..64)
        .map(|bytes| {
            String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_string()
        })
        .filter(|text| text.starts_with('v'));
    Ok(FileHeader {
        storage_version,
        written_by,
    })
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn not_duckdb_message(header: &[u8]) -> String {
    let what = if header.starts_with(&[0x1f, 0x8b]) {
        "it is gzip-compressed: decompress it first (gzip -dk FILE)"
    } else if header.starts_with(b"SQLite format 3") {
        "it is an SQLite database: attach it in DuckDB and copy the tables into a DuckDB file"
    } else if header.starts_with(b"PAR1") {
        "it is a Parquet file: list it under [[files]] instead"
    } else if header.is_empty() {
        "the file is empty"
    } else if header.len() < 20 {
        "the file is too short to be a DuckDB database (truncated?)"
    } else {
        "the DuckDB magic bytes are missing; check the path or restore the file"
    };
    format!("not a DuckDB database file: {what}")
}

/// The write-ahead log beside `database`, if it holds anything.
pub fn pending_wal(database: &Path) -> Option<PathBuf> {
    let mut wal = database.as_os_str().to_owned();
    wal.push(".wal");
    let wal = PathBuf::from(wal);
    match std::fs::metadata(&wal) {
        Ok(metadata) if metadata.len() > 0 => Some(wal),
        _ => None,
    }
}

/// Opens the database read-only (DuckDB never writes to a file opened this way), its memory
/// bounded by `memory_limit`.
pub fn open_read_only(path: &Path, header: &FileHeader, memory_limit: &str) -> Result<Connection> {
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .and_then(|config| config.enable_autoload_extension(false))
        .map_err(|err| Error::Other(anyhow::anyhow!("configuring DuckDB: {err}")))?;
    let conn = Connection::open_with_flags(path, config).map_err(|err| {
        // DuckDB checks the header checksum before the version, so a file from a newer
        // DuckDB can look "corrupt" to it; the version in the header tells the truth.
        match bundled_storage_version() {
            Some(readable) if header.storage_version > readable => Error::source(
                path,
                format!(
                    "the file uses DuckDB storage format {} (written by {}), newer than the {} this \
                     dbrelease can read (DuckDB {}): upgrade dbrelease",
                    header.storage_version,
                    header.written_by.as_deref().unwrap_or("an unknown DuckDB version"),
                    readable,
                    duckdb_library_version(),
                ),
            ),
            _ => Error::source(path, open_error(&err)),
        }
    })?;
    // A large ORDER BY may spill; DuckDB's default spill folder is `<db>.tmp` beside the
    // source, and nothing may be written there.
    let spill = std::env::temp_dir();
    conn.execute_batch(&format!(
        "SET temp_directory = {}",
        quote_literal(&spill.to_string_lossy())
    ))
    .map_err(|err| {
        Error::Other(anyhow::anyhow!(
            "configuring DuckDB's temp directory: {err}"
        ))
    })?;
    // DuckDB's default is 80% of the machine: its buffer pool would keep every block it read
    // and the build's memory would grow with the database.
    conn.execute_batch(&format!(
        "SET memory_limit = {}",
        quote_literal(memory_limit)
    ))
    .map_err(|err| {
        Error::Config(format!(
            "export.memory_limit {memory_limit:?} is not a DuckDB memory size (e.g. \"256MB\", \"1GB\"): {err}"
        ))
    })?;
    // A scan in storage order is driven by the export's reads: DuckDB's other worker threads
    // would only contend for its result buffer (one thread was 1–13% faster on every unsorted
    // bench shape, with 7–15% less CPU time). Sorts get every core back (`AllThreads`).
    conn.execute_batch("SET threads = 1")
        .map_err(|err| Error::Other(anyhow::anyhow!("configuring DuckDB's threads: {err}")))?;
    Ok(conn)
}

/// DuckDB on every core while this lives (a sort: one thread was 11% slower on the sorted
/// benchmark), back to one thread after.
pub struct AllThreads<'conn>(&'conn Connection);

impl<'conn> AllThreads<'conn> {
    pub fn while_alive(conn: &'conn Connection) -> duckdb::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        conn.execute_batch(&format!("SET threads = {cores}"))?;
        Ok(AllThreads(conn))
    }
}

impl Drop for AllThreads<'_> {
    fn drop(&mut self) {
        // Only speed depends on it; a failure leaves DuckDB on more threads.
        let _ = self.0.execute_batch("SET threads = 1");
    }
}

/// The storage format number the embedded DuckDB writes for a new file: the newest it reads.
fn bundled_storage_version() -> Option<u64> {
    let folder = tempfile::tempdir().ok()?;
    let path = folder.path().join("probe.duckdb");
    Connection::open(&path)
        .ok()?
        .execute_batch("CHECKPOINT")
        .ok()?;
    read_header(&path).ok().map(|header| header.storage_version)
}

/// Version string of the embedded DuckDB library.
pub fn duckdb_library_version() -> String {
    Connection::open_in_memory()
        .and_then(|conn| conn.query_row("SELECT version()", [], |row| row.get(0)))
        .unwrap_or_else(|_| "unknown".into())
}

/// Opens a private copy read-write (only ever used on a temporary copy).
pub fn open_read_write(path: &Path) -> Result<Connection> {
    let config = Config::default()
        .enable_autoload_extension(false)
        .map_err(|err| Error::Other(anyhow::anyhow!("configuring DuckDB: {err}")))?;
    Connection::open_with_flags(path, config).map_err(|err| Error::source(path, open_error(&err)))
}

/// Turns DuckDB's open errors into advice.
fn open_error(err: &duckdb::Error) -> String {
    let text = err.to_string();
    let advice = if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        "the database is locked by another process that has it open for writing: \
         wait for it to finish (or close it), or release a copy of the file"
    } else if text.contains("version number") || text.contains("newer version") {
        "the file was written by a newer DuckDB storage format than this dbrelease \
         can read: upgrade dbrelease"
    } else if text.contains("not a valid DuckDB database") {
        "not a valid DuckDB database file: check the path or restore the file"
    } else {
        "the file may be truncated or corrupt: restore it from a good copy"
    };
    format!("cannot open the database ({}): {advice}", text.trim())
}

/// Reads the catalog: tables (filtered by the config), columns, row counts, primary keys.
pub fn snapshot(conn: &Connection, path: &Path, export: &ExportOptions) -> Result<Snapshot> {
    let query_error = |err: duckdb::Error| {
        Error::source(
            path,
            format!("cannot read the catalog ({err}): the file may be corrupt"),
        )
    };
    let duckdb_version: String = conn
        .query_row("SELECT version()", [], |row| row.get(0))
        .map_err(query_error)?;
    let storage_compatibility: Option<String> = conn
        .query_row(
            "SELECT CAST(tags['storage_version'] AS VARCHAR) FROM duckdb_databases() \
             WHERE database_name = current_database()",
            [],
            |row| row.get(0),
        )
        .map_err(query_error)?;

    let mut statement = conn
        .prepare(
            "SELECT schema_name, table_name FROM duckdb_tables() \
             WHERE database_name = current_database() AND NOT internal AND NOT temporary \
             ORDER BY schema_name, table_name",
        )
        .map_err(query_error)?;
    let names: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(query_error)?
        .collect::<std::result::Result<_, _>>()
        .map_err(query_error)?;
    if names.is_empty() {
        return Err(Error::source(
            path,
            "the database has no tables: nothing to release (is this the right file?)",
        ));
    }

    let selected = select_tables(&names, export)?;
    if selected.is_empty() {
        return Err(Error::Config(format!(
            "export.include/exclude leave no table to export (the database has: {})",
            list_names(&names)
        )));
    }
    for configured in export.tables.keys() {
        if !names.iter().any(|name| table_matches(name, configured)) {
            return Err(Error::Config(format!(
                "[export.tables.{configured}] names a table that is not in the database (it has: {})",
                list_names(&names)
            )));
        }
    }

    // Columns and keys of every table in one query each: the catalog functions scan the whole
    // catalog per call, so a query per table made a 200-table snapshot take a second.
    let mut all_columns = read_columns(conn).map_err(query_error)?;
    let mut all_keys = read_primary_keys(conn).map_err(query_error)?;
    let mut tables = Vec::with_capacity(selected.len());
    for (schema, name) in selected {
        let key = (schema.clone(), name.clone());
        let columns = all_columns.remove(&key).unwrap_or_default();
        let primary_key = all_keys.remove(&key).unwrap_or_default();
        tables.push(SourceTable {
            schema,
            name,
            columns,
            rows: 0,
            primary_key,
        });
    }
    count_rows(conn, &mut tables)?;
    Ok(Snapshot {
        tables,
        duckdb_version,
        storage_compatibility,
    })
}

/// Tables whose rows are counted by one query.
const TABLES_PER_COUNT: usize = 100;

/// Sets every table's row count, many tables per query (`count(*)` of a table reads its
/// metadata; a query per table was most of a 200-table snapshot's time).
fn count_rows(conn: &Connection, tables: &mut [SourceTable]) -> Result<()> {
    for batch in tables.chunks_mut(TABLES_PER_COUNT) {
        let sql = batch
            .iter()
            .enumerate()
            .map(|(index, table)| {
                format!(
                    "SELECT {index} AS i, count(*) AS n FROM {}",
                    table.sql_name()
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let counted: duckdb::Result<Vec<(usize, i64)>> =
            conn.prepare(&sql).and_then(|mut statement| {
                statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            });
        // On failure, count them one by one to name the table that cannot be read.
        let counts = match counted {
            Ok(counts) => counts,
            Err(_) => batch
                .iter()
                .enumerate()
                .map(|(index, table)| {
                    conn.query_row(
                        &format!("SELECT count(*) FROM {}", table.sql_name()),
                        [],
                        |row| row.get::<_, i64>(0),
                    )
                    .map(|rows| (index, rows))
                    .map_err(|err| Error::Table {
                        table: table.display_name(),
                        message: format!("cannot count rows ({err}): the file may be corrupt"),
                    })
                })
                .collect::<Result<_>>()?,
        };
        for (index, rows) in counts {
            batch[index].rows = rows as u64;
        }
    }
    Ok(())
}

fn table_matches((schema, name): &(String, String), configured: &str) -> bool {
    configured == format!("{schema}.{name}") || (schema == "main" && configured == name)
}

fn list_names(names: &[(String, String)]) -> String {
    names
        .iter()
        .map(|(schema, name)| {
            if schema == "main" {
                name.clone()
            } else {
                format!("{schema}.{name}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies include/exclude; every name in either list must exist, so typos are caught.
fn select_tables(
    names: &[(String, String)],
    export: &ExportOptions,
) -> Result<Vec<(String, String)>> {
    for (list, key) in [(&export.include, "include"), (&export.exclude, "exclude")] {
        for configured in list {
            if !names.iter().any(|name| table_matches(name, configured)) {
                return Err(Error::Config(format!(
                    "export.{key} names table {configured:?}, which is not in the database (it has: {})",
                    list_names(names)
                )));
            }
        }
    }
    Ok(names
        .iter()
        .filter(|name| {
            export.include.is_empty()
                || export
                    .include
                    .iter()
                    .any(|wanted| table_matches(name, wanted))
        })
        .filter(|name| {
            !export
                .exclude
                .iter()
                .any(|unwanted| table_matches(name, unwanted))
        })
        .cloned()
        .collect())
}

/// Every table's columns, in order, by (schema, table).
type ByTable<T> = std::collections::HashMap<(String, String), Vec<T>>;

fn read_columns(conn: &Connection) -> duckdb::Result<ByTable<SourceColumn>> {
    let mut statement = conn.prepare(
        "SELECT schema_name, table_name, column_name, data_type, is_nullable FROM duckdb_columns() \
         WHERE database_name = current_database() \
         ORDER BY schema_name, table_name, column_index",
    )?;
    let mut columns: ByTable<SourceColumn> = Default::default();
    let rows = statement.query_map([], |row| {
        Ok((
            (row.get(0)?, row.get(1)?),
            SourceColumn {
                name: row.get(2)?,
                duckdb_type: row.get(3)?,
                nullable: row.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (table, column) = row?;
        columns.entry(table).or_default().push(column);
    }
    Ok(columns)
}

/// Every table's primary-key columns, by (schema, table).
fn read_primary_keys(conn: &Connection) -> duckdb::Result<ByTable<String>> {
    let mut statement = conn.prepare(
        "SELECT schema_name, table_name, unnest(constraint_column_names) FROM duckdb_constraints() \
         WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY'",
    )?;
    let mut keys: ByTable<String> = Default::default();
    let rows = statement.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
    for row in rows {
        let (table, column) = row?;
        keys.entry(table).or_default().push(column);
    }
    Ok(keys)
}

/// The SQL of a `sort_by` or `partition_by` entry: a column of `table` (quoted), or else an
/// expression over its columns (parenthesized).
pub fn key_sql(table: &SourceTable, key: &str) -> String {
    if table.columns.iter().any(|column| column.name == key) {
        quote_ident(key)
    } else {
        format!("({key})")
    }
}

/// Whether an export in storage order may be checked against `keys` instead of sorted: each
/// key is an expression (its values come as DuckDB computes them) or a column that needs no
/// conversion for Parquet (a converted one would be compared in its converted type).
pub fn keys_comparable(table: &SourceTable, keys: &[String]) -> bool {
    keys.iter().all(
        |key| match table.columns.iter().find(|column| &column.name == key) {
            Some(column) => super::types::plan_column(&column.duckdb_type)
                .is_ok_and(|plan| plan.cast_to.is_none()),
            None => true,
        },
    )
}

/// Checks, batch by batch, that rows come in ascending key order (NULLs last) as DuckDB's
/// `ORDER BY … ASC NULLS LAST` would put them, ties in any order. Tables are often appended in
/// key order (by date), and sorting them again was a third of a sorted build; checking while
/// exporting costs no pass of its own.
pub struct OrderCheck {
    converter: arrow::row::RowConverter,
    last: Option<arrow::row::OwnedRow>,
}

impl OrderCheck {
    /// A check of keys of these types; `None` when a type's Arrow order could differ from
    /// DuckDB's (floating point, where DuckDB puts every NaN last; nested types).
    pub fn new(key_types: &[arrow::datatypes::DataType]) -> Option<Self> {
        use arrow::datatypes::DataType;
        use arrow::row::{RowConverter, SortField};
        let ordered_type = |data_type: &DataType| {
            data_type.is_integer()
                || matches!(
                    data_type,
                    DataType::Boolean
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                        | DataType::Date32
                        | DataType::Date64
                        | DataType::Time32(_)
                        | DataType::Time64(_)
                        | DataType::Timestamp(..)
                        | DataType::Decimal128(..)
                        | DataType::Decimal256(..)
                )
        };
        if !key_types.iter().all(ordered_type) {
            return None;
        }
        let fields = key_types
            .iter()
            .map(|data_type| {
                SortField::new_with_options(
                    data_type.clone(),
                    arrow::compute::SortOptions {
                        descending: false,
                        nulls_first: false,
                    },
                )
            })
            .collect();
        let converter = RowConverter::new(fields).ok()?;
        Some(OrderCheck {
            converter,
            last: None,
        })
    }

    /// True when the rows of `keys` (one array per key, one batch) follow each other and the
    /// rows seen before in ascending order.
    pub fn holds(
        &mut self,
        keys: &[arrow::array::ArrayRef],
    ) -> std::result::Result<bool, arrow::error::ArrowError> {
        let rows = self.converter.convert_columns(keys)?;
        let in_order = match (&self.last, rows.iter().next()) {
            (Some(previous), Some(first)) => previous.row() <= first,
            _ => true,
        } && rows.iter().zip(rows.iter().skip(1)).all(|(a, b)| a <= b);
        if let Some(last) = rows.iter().last() {
            self.last = Some(last.owned());
        }
        Ok(in_order)
    }
}
