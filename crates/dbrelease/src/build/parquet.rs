//! Table → Arrow record batches (streamed out of DuckDB) → Parquet, hashed while written.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::layout::{self, PAGE_BYTES_LIMIT, SAMPLE_ROWS};
use super::source::{SourceTable, key_sql, quote_ident, quote_literal};
use super::types::plan_column;
use super::writeback::{HashedFile, create_hashed, finish_hashed};
use crate::config::{Codec, ExportOptions, TableSection};
use crate::error::{Error, Result};
use dbrelease_manifest::{Column, ColumnStats, PartitionValue};
use dbrelease_remote::hashing::Digested;

/// One Parquet file of a table: its name in the staging directory, digest and rows, and the
/// `partition_by` values of its rows.
#[derive(Debug, Clone)]
pub struct ExportedFile {
    pub name: String,
    pub digest: Digested,
    pub rows: u64,
    pub partition: Vec<PartitionValue>,
}

/// What was written for one table.
#[derive(Debug, Clone)]
pub struct TableExport {
    /// Its Parquet file, or its files in order when it passed `part_size`.
    pub files: Vec<ExportedFile>,
    /// Rows written, in all files.
    pub rows: u64,
    /// Columns with their read-back types.
    pub columns: Vec<Column>,
    /// Sort keys applied.
    pub sort_by: Vec<String>,
    /// The `partition_by` entries each file has one value of.
    pub partition_by: Vec<String>,
}

/// Values recorded in every Parquet file's key-value metadata. The release tag is not one of
/// them (the manifest records it): a table's file depends on its data alone, so unchanged data
/// gives the same bytes in every version, which is how `publish --tag auto` knows a day brought
/// nothing new.
#[derive(Debug, Clone)]
pub struct ParquetProvenance {
    /// Source database file name.
    pub source_file: String,
}

/// Validates the per-table options against the table's columns.
pub fn table_options(table: &SourceTable, export: &ExportOptions) -> Result<TableSection> {
    let options = export
        .tables
        .get(&table.display_name())
        .or_else(|| {
            export
                .tables
                .get(&format!("{}.{}", table.schema, table.name))
        })
        .cloned()
        .unwrap_or_default();
    // A `partition_by` entry that is a plain name must be a column; anything else is an
    // expression, which DuckDB checks ([`check_table`]).
    let plain_names: Vec<String> = options
        .partition_by
        .iter()
        .filter(|entry| entry.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .cloned()
        .collect();
    for (key, columns) in [
        ("sort_by", &options.sort_by),
        ("bloom_filter", &options.bloom_filter),
        ("partition_by", &plain_names),
    ] {
        for wanted in columns {
            if !table.columns.iter().any(|column| &column.name == wanted) {
                return Err(Error::Config(format!(
                    "[export.tables.{}] {key} names column {wanted:?}, which table {} does not have (columns: {})",
                    table.display_name(),
                    table.display_name(),
                    table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(options)
}

/// Checks, before anything is written, that `table` can be exported with its options: its
/// columns' types, its `sort_by` and `bloom_filter` columns, and that DuckDB can compute its
/// `partition_by` expressions.
pub fn check_table(conn: &Connection, table: &SourceTable, export: &ExportOptions) -> Result<()> {
    let options = table_options(table, export)?;
    let query = export_query(table, &[], &options.partition_by, &[])?;
    if !options.partition_by.is_empty()
        && let Err(err) = conn.prepare(&format!("{} LIMIT 0", query.sql))
    {
        return Err(Error::Config(format!(
            "[export.tables.{}] partition_by = {:?}: DuckDB cannot compute it over the table ({err}); give columns, or expressions over them such as \"strftime(date, '%Y-%m')\"",
            table.display_name(),
            options.partition_by
        )));
    }
    Ok(())
}

/// The name of the query column that holds partition entry `index`'s value as text.
fn partition_column(index: usize) -> String {
    quote_ident(&format!("__dbrelease_partition_{index}"))
}

/// The name of the query column that holds order key `index`'s value when the key is an
/// expression (a key that is a column is checked in the table's own column).
fn order_column(index: usize) -> String {
    quote_ident(&format!("__dbrelease_order_{index}"))
}

/// The export query of a table and the layout of its columns: the table's columns first, then
/// one text column per `partition_by` entry, then the order keys' values that are not columns.
pub struct ExportQuery {
    pub sql: String,
    /// The table's columns, as the Parquet files will hold them.
    pub columns: Vec<Column>,
    /// Where each checked order key's values are in a batch.
    pub key_columns: Vec<usize>,
}

/// Builds the export query: casts for the documented conversions, ORDER BY `order_by` (columns
/// or expressions), then one text column per `partition_by` entry after the table's columns, and
/// a column for each expression of `checked_keys` (keys whose order a stored-order export checks).
pub fn export_query(
    table: &SourceTable,
    order_by: &[String],
    partition_by: &[String],
    checked_keys: &[String],
) -> Result<ExportQuery> {
    let mut projection = Vec::with_capacity(table.columns.len());
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let plan = plan_column(&column.duckdb_type).map_err(|message| Error::Table {
            table: table.display_name(),
            message: format!(
                "column {:?} has type {} that dbrelease cannot export ({message}); exclude the table with export.exclude",
                column.name, column.duckdb_type
            ),
        })?;
        let ident = quote_ident(&column.name);
        projection.push(match &plan.cast_to {
            Some(target) => format!("CAST({ident} AS {target}) AS {ident}"),
            None => ident,
        });
        columns.push(Column {
            name: column.name.clone(),
            duckdb_type: column.duckdb_type.clone(),
            parquet_type: (plan.read_back_type != column.duckdb_type)
                .then_some(plan.read_back_type),
            nullable: column.nullable,
            stats: None,
        });
    }
    for (index, entry) in partition_by.iter().enumerate() {
        projection.push(format!(
            "CAST({} AS VARCHAR) AS {}",
            key_sql(table, entry),
            partition_column(index)
        ));
    }
    let mut key_columns = Vec::with_capacity(checked_keys.len());
    for (index, key) in checked_keys.iter().enumerate() {
        match table.columns.iter().position(|column| &column.name == key) {
            Some(position) => key_columns.push(position),
            None => {
                key_columns.push(projection.len());
                projection.push(format!(
                    "{} AS {}",
                    key_sql(table, key),
                    order_column(index)
                ));
            }
        }
    }
    let mut sql = format!("SELECT {} FROM {}", projection.join(", "), table.sql_name());
    if !order_by.is_empty() {
        let keys: Vec<String> = order_by
            .iter()
            .map(|key| format!("{} ASC NULLS LAST", key_sql(table, key)))
            .collect();
        sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    Ok(ExportQuery {
        sql,
        columns,
        key_columns,
    })
}

fn writer_properties(
    export: &ExportOptions,
    options: &TableSection,
    provenance: &ParquetProvenance,
    table: &SourceTable,
    schema: &Schema,
    sample: &layout::Sample,
    row_group_rows: usize,
) -> Result<WriterProperties> {
    let level_error = |err: parquet::errors::ParquetError| {
        Error::Config(format!("export.compression_level: {err}"))
    };
    let compression = match export.compression {
        Codec::Zstd => Compression::ZSTD(
            ZstdLevel::try_new(export.compression_level.unwrap_or(3)).map_err(level_error)?,
        ),
        Codec::Gzip => Compression::GZIP(
            GzipLevel::try_new(export.compression_level.unwrap_or(6) as u32)
                .map_err(level_error)?,
        ),
        Codec::Brotli => Compression::BROTLI(
            BrotliLevel::try_new(export.compression_level.unwrap_or(4) as u32)
                .map_err(level_error)?,
        ),
        Codec::Snappy => Compression::SNAPPY,
        Codec::Lz4 => Compression::LZ4_RAW,
        Codec::None => Compression::UNCOMPRESSED,
    };
    let metadata = vec![
        KeyValue::new(
            "dbrelease.version".into(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        KeyValue::new("dbrelease.source".into(), provenance.source_file.clone()),
        KeyValue::new("dbrelease.table".into(), table.display_name()),
    ];
    let mut builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(row_group_rows))
        // One data page per column chunk, as DuckDB writes them: zstd sees the whole chunk at
        // once (parquet-rs's default page of 20,000 rows or 1 MiB cost 0.8% of the origin
        // schema's size, 13% on URLs). Range readers fetch whole column chunks anyway.
        .set_data_page_row_count_limit(row_group_rows)
        .set_data_page_size_limit(PAGE_BYTES_LIMIT)
        // With one page per chunk a page index would only repeat the chunk's own statistics.
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_offset_index_disabled(true)
        .set_key_value_metadata(Some(metadata));
    // Each column's encoding is chosen from its first rows, not its type.
    for (index, encoding) in layout::choose_encodings(schema, sample, compression) {
        let name = schema.field(index).name();
        if !options.bloom_filter.contains(name) {
            builder = layout::apply(builder, ColumnPath::from(name.as_str()), encoding);
        }
    }
    for column in &options.bloom_filter {
        builder = builder.set_column_bloom_filter_enabled(ColumnPath::from(column.as_str()), true);
    }
    Ok(builder.build())
}

/// A table's Parquet file or files, completely written and closed but not yet synced to disk
/// nor read back.
pub struct WrittenTable {
    table: String,
    /// Each file's path, in order, beside `export.files`.
    paths: Vec<PathBuf>,
    export: TableExport,
    started: Instant,
    /// The files' Parquet schema (names, physical and logical types, nesting), as written.
    parquet_schema: String,
}

/// How DuckDB read back each Parquet schema already checked in this build: which column names
/// and types. DuckDB's reading of a file's types depends on its Parquet schema only, so a file
/// with a schema already read is compared with that answer instead of being read again (200
/// tables of one schema: one DESCRIBE, not 200).
pub type ReadBack = std::collections::HashMap<String, Vec<(String, String)>>;

impl WrittenTable {
    /// Syncs the files and checks that DuckDB reads every column back as the source type or
    /// its documented conversion.
    pub fn check(mut self, conn: &Connection, read_back: &mut ReadBack) -> Result<TableExport> {
        for path in &self.paths {
            // The encoder closed the file (a table of thousands of partitions would otherwise
            // hold thousands of descriptors); fsync through a new one syncs the same data.
            File::open(path)
                .and_then(|file| file.sync_all())
                .map_err(|err| Error::output(path, &err))?;
            verify_read_back(conn, read_back, &self.table, &self, path)?;
        }
        column_stats(conn, &self.paths, &mut self.export.columns).map_err(|err| Error::Table {
            table: self.table.clone(),
            message: format!("DuckDB cannot read the Parquet file's statistics back: {err}"),
        })?;
        tracing::info!(
            artifact = %self.export.files[0].name,
            files = self.export.files.len(),
            rows = self.export.rows,
            bytes = self.export.files.iter().map(|f| f.digest.bytes).sum::<u64>(),
            seconds = format_args!("{:.2}", self.started.elapsed().as_secs_f64()),
            "table exported"
        );
        Ok(self.export)
    }
}

/// What one encoder wrote: its files in order (named, hashed, closed) and their Parquet schema.
#[derive(Default)]
struct EncodedFiles {
    files: Vec<(PathBuf, ExportedFile)>,
    parquet_schema: String,
}

/// The encoder of one partition of a table (the whole table when it has no `partition_by`).
enum Encoding<'scope> {
    Running(std::thread::ScopedJoinHandle<'scope, Result<EncodedFiles>>),
    Done(Result<EncodedFiles>),
}

impl Encoding<'_> {
    fn join(self) -> Result<EncodedFiles> {
        match self {
            Encoding::Running(handle) => handle.join().expect("Parquet encoder panicked"),
            Encoding::Done(result) => result,
        }
    }

    fn is_running(&self) -> bool {
        matches!(self, Encoding::Running(_))
    }

    /// Waits for a running encoder and keeps its result; false when it failed.
    fn settle(&mut self) -> bool {
        if self.is_running() {
            let running = std::mem::replace(self, Encoding::Done(Ok(EncodedFiles::default())));
            *self = Encoding::Done(running.join());
        }
        matches!(self, Encoding::Done(Ok(_)))
    }
}

/// One partition's values and its encoder.
struct PartitionEncoding<'scope> {
    partition: Vec<PartitionValue>,
    encoding: Encoding<'scope>,
}

/// Partition encoders running at once: the next partition's starts while the last row group
/// of the previous one is encoded, and memory stays bounded however many partitions there are.
const PARTITIONS_ENCODING: usize = 2;

/// Most files one table may be partitioned into: a `partition_by` over a near-unique column
/// would otherwise write millions of files before the asset limit stops the publish.
const MAX_PARTITIONS: usize = 10_000;

/// A table whose rows have all been read from DuckDB; its encoders may still be running.
pub struct PendingTable<'scope> {
    table: String,
    expected_rows: u64,
    columns: Vec<Column>,
    sort_by: Vec<String>,
    partition_by: Vec<String>,
    started: Instant,
    /// Rows handed to the encoders, or why reading stopped.
    read: Result<u64>,
    /// Each partition's encoder, in the order of the partitions (one for a table without any).
    partitions: Vec<PartitionEncoding<'scope>>,
}

/// The path of file `index` (from 1) of a table in parts: `daily.parquet` → `daily-0001.parquet`.
/// Four digits keep the names sortable (a GitHub release holds at most 1,000 assets).
pub fn part_path(dest: &Path, index: u32) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    dest.with_file_name(format!("{stem}-{index:04}.parquet"))
}

/// The path of a partition's file: `klines.parquet` with values `2024-01` →
/// `klines.2024-01.parquet`. Each value keeps its text when that is a plain file name, and is
/// otherwise made one with a short digest of the real text (as table names are), so the name
/// depends on the value alone and stays the same in every version.
pub fn partition_path(dest: &Path, partition: &[PartitionValue]) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    let segments: Vec<String> = partition
        .iter()
        .map(|value| match &value.value {
            Some(text) => dbrelease_manifest::names::table_artifact_stem(text),
            None => "null".into(),
        })
        .collect();
    dest.with_file_name(format!("{stem}.{}.parquet", segments.join(".")))
}

impl PendingTable<'_> {
    /// Waits for the encoders: the written files, or the first thing that went wrong (reading
    /// first: a failed encoder is often only its consequence).
    pub fn finish(self) -> Result<WrittenTable> {
        let encoded: Vec<_> = self
            .partitions
            .into_iter()
            .map(|partition| (partition.partition, partition.encoding.join()))
            .collect();
        let rows = self.read?;
        let mut export_files = Vec::new();
        let mut paths = Vec::new();
        let mut parquet_schema = String::new();
        for (partition, result) in encoded {
            let written = result?;
            parquet_schema = written.parquet_schema;
            for (path, mut file) in written.files {
                file.partition = partition.clone();
                paths.push(path);
                export_files.push(file);
            }
        }
        if rows != self.expected_rows {
            return Err(Error::Table {
                table: self.table,
                message: format!(
                    "wrote {rows} rows but the table has {}: was it modified during the export?",
                    self.expected_rows
                ),
            });
        }
        Ok(WrittenTable {
            table: self.table,
            paths,
            export: TableExport {
                files: export_files,
                rows,
                columns: self.columns,
                sort_by: self.sort_by,
                partition_by: self.partition_by,
            },
            started: self.started,
            parquet_schema,
        })
    }
}

/// Finishes and checks tables on a second connection to the same database while the next
/// table is read: DuckDB's reads then follow each other, and on many small tables the
/// encoding, the sync and the read-back no longer add to them.
pub struct Checker<'scope> {
    sender: std::sync::mpsc::SyncSender<PendingTable<'scope>>,
    checked: std::thread::ScopedJoinHandle<'scope, Vec<Result<TableExport>>>,
}

/// Tables read but not yet checked (each holds its file open).
const TABLES_AWAITING_CHECK: usize = 4;

impl<'scope> Checker<'scope> {
    pub fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        conn: &Connection,
    ) -> Result<Self> {
        let conn = conn.try_clone().map_err(|err| {
            Error::Other(anyhow::anyhow!(
                "cannot open a second connection to the database: {err}"
            ))
        })?;
        let (sender, pending) =
            std::sync::mpsc::sync_channel::<PendingTable<'scope>>(TABLES_AWAITING_CHECK);
        let checked = scope.spawn(move || {
            let mut read_back = ReadBack::new();
            pending
                .into_iter()
                .map(|table| table.finish()?.check(&conn, &mut read_back))
                .collect()
        });
        Ok(Checker { sender, checked })
    }

    pub fn check(&self, table: PendingTable<'scope>) {
        self.sender
            .send(table)
            .expect("the checker runs until finish()");
    }

    /// Every submitted table's result, in submission order.
    pub fn finish(self) -> Vec<Result<TableExport>> {
        drop(self.sender);
        self.checked.join().expect("Parquet checker panicked")
    }
}

/// Streams `table` into Parquet at `dest` (or, with `partition_by`, one file per partition
/// beside it), hashing the bytes as they are written. Returns once DuckDB has handed out every
/// row: an encoder thread per partition chooses the layout from its first rows, then cuts row
/// groups whose columns are encoded in parallel, and may still be running
/// ([`PendingTable::finish`] waits for it).
pub fn write_table<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    conn: &Connection,
    table: &'scope SourceTable,
    export: &'scope ExportOptions,
    provenance: &'scope ParquetProvenance,
    dest: PathBuf,
    progress: &dyn Fn(u64),
) -> Result<PendingTable<'scope>> {
    let started = Instant::now();
    let options = table_options(table, export)?;
    // Partitions come out of one query in order, each one's rows together; within them the
    // rows follow `sort_by`. A table already stored in that order (daily rows appended by date)
    // is exported as stored, its order checked as it is read; at the first row out of order that
    // attempt is abandoned and the table is sorted.
    let order_keys: Vec<String> = options
        .partition_by
        .iter()
        .chain(&options.sort_by)
        .cloned()
        .collect();
    let order = if order_keys.is_empty() {
        RowOrder::Stored
    } else if super::source::keys_comparable(table, &order_keys) {
        RowOrder::StoredIfInOrder
    } else {
        RowOrder::Sorted
    };
    let attempt = |order| {
        export_rows(
            scope,
            conn,
            table,
            export,
            provenance,
            &options,
            &order_keys,
            order,
            &dest,
            started,
            progress,
        )
    };
    match attempt(order)? {
        Attempt::Read(pending) => Ok(pending),
        Attempt::OutOfOrder(abandoned) => {
            discard(abandoned)?;
            tracing::debug!(table = %table.display_name(), "not stored in partition and sort_by order: sorting");
            match attempt(RowOrder::Sorted)? {
                Attempt::Read(pending) => Ok(pending),
                Attempt::OutOfOrder(_) => unreachable!("a sorted export is not checked"),
            }
        }
    }
}

/// How an export attempt orders a table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowOrder {
    /// As stored: the table has no `partition_by` nor `sort_by`.
    Stored,
    /// As stored, each batch checked against the keys before it is written.
    StoredIfInOrder,
    /// `ORDER BY` the keys.
    Sorted,
}

/// How an export attempt ended.
enum Attempt<'scope> {
    /// Every row was handed to the encoders (or reading failed, which `finish` reports).
    Read(PendingTable<'scope>),
    /// A row came out of key order (or the keys' types cannot be checked): the attempt stopped,
    /// and its encoders' files are to be removed before the table is sorted.
    OutOfOrder(Vec<PartitionEncoding<'scope>>),
}

/// Waits for an abandoned attempt's encoders and removes every file they wrote before the sorted
/// export writes its own: a large table's would otherwise take its disk space twice. An encoder
/// that failed fails the table: the sorted export would meet the same error.
fn discard(abandoned: Vec<PartitionEncoding<'_>>) -> Result<()> {
    let mut failed = None;
    for partition in abandoned {
        match partition.encoding.join() {
            Ok(encoded) => {
                for (path, _) in encoded.files {
                    std::fs::remove_file(&path).map_err(|err| Error::output(&path, &err))?;
                }
            }
            Err(err) => {
                failed.get_or_insert(err);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// One attempt at exporting `table` in `order` (see [`write_table`]).
#[allow(clippy::too_many_arguments)]
fn export_rows<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    conn: &Connection,
    table: &'scope SourceTable,
    export: &'scope ExportOptions,
    provenance: &'scope ParquetProvenance,
    options: &TableSection,
    order_keys: &[String],
    order: RowOrder,
    dest: &Path,
    started: Instant,
    progress: &dyn Fn(u64),
) -> Result<Attempt<'scope>> {
    let (order_by, checked_keys): (&[String], &[String]) = match order {
        RowOrder::Stored => (&[], &[]),
        RowOrder::StoredIfInOrder => (&[], order_keys),
        RowOrder::Sorted => (order_keys, &[]),
    };
    let ExportQuery {
        sql,
        columns,
        key_columns,
    } = export_query(table, order_by, &options.partition_by, checked_keys)?;
    let sort = order == RowOrder::Sorted;
    let table_error = |message: String| Error::Table {
        table: table.display_name(),
        message,
    };
    // DuckDB runs on one thread (see `source::open_read_only`) except for a sort, which uses
    // every core while it runs.
    let _sort_threads = sort
        .then(|| super::source::AllThreads::while_alive(conn))
        .transpose()
        .map_err(|err| table_error(format!("cannot set DuckDB's thread count: {err}")))?;
    let mut statement = conn
        .prepare(&sql)
        .map_err(|err| table_error(format!("cannot prepare the export query: {err}")))?;
    let stream = statement
        .stream_arrow([])
        .map_err(|err| table_error(format!("cannot read the table: {err}")))?;
    // The table's columns, without the partition values and order keys that follow them.
    let data_columns: Vec<usize> = (0..columns.len()).collect();
    let partition_columns = columns.len()..columns.len() + options.partition_by.len();
    let query_schema = stream.get_schema();
    let mut order_check = match order {
        RowOrder::StoredIfInOrder => {
            let key_types: Vec<_> = key_columns
                .iter()
                .map(|&index| query_schema.field(index).data_type().clone())
                .collect();
            match super::source::OrderCheck::new(&key_types) {
                Some(check) => Some(check),
                // A key whose Arrow order may not be DuckDB's: sorted, before any file exists.
                None => return Ok(Attempt::OutOfOrder(Vec::new())),
            }
        }
        RowOrder::Stored | RowOrder::Sorted => None,
    };
    let schema = Arc::new(
        query_schema
            .project(&data_columns)
            .map_err(|err| table_error(format!("cannot read the table's schema: {err}")))?,
    );
    let encoder = |dest: PathBuf| {
        spawn_encoder(
            scope,
            table,
            export,
            provenance,
            options.clone(),
            schema.clone(),
            columns.clone(),
            dest,
        )
    };
    let partitioned = !options.partition_by.is_empty();
    let mut partitions: Vec<PartitionEncoding<'scope>> = Vec::new();
    // The partition being read and its encoder's channel.
    let mut current: Option<(Vec<Option<String>>, SyncSender<RecordBatch>)> = None;
    if !partitioned {
        let (sender, encoding) = encoder(dest.to_path_buf());
        partitions.push(PartitionEncoding {
            partition: Vec::new(),
            encoding,
        });
        current = Some((Vec::new(), sender));
    }
    let mut rows = 0u64;
    let mut read = Ok(());
    'batches: for batch in stream {
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => {
                read = Err(table_error(format!("reading rows failed: {err}")));
                break;
            }
        };
        if let Some(check) = &mut order_check {
            let keys: Vec<_> = key_columns
                .iter()
                .map(|&index| batch.column(index).clone())
                .collect();
            match check.holds(&keys) {
                Ok(true) => {}
                Ok(false) => {
                    drop(current);
                    return Ok(Attempt::OutOfOrder(partitions));
                }
                Err(err) => {
                    read = Err(table_error(format!("reading the sort keys failed: {err}")));
                    break;
                }
            }
        }
        rows += batch.num_rows() as u64;
        let keys = match PartitionKeys::of(&batch, partition_columns.clone()) {
            Ok(keys) => keys,
            Err(err) => {
                read = Err(table_error(format!(
                    "reading partition values failed: {err}"
                )));
                break;
            }
        };
        let data = batch
            .project(&data_columns)
            .expect("the query's first columns are the table's");
        let mut start = 0;
        while start < data.num_rows() {
            let is_current = current
                .as_ref()
                .is_some_and(|(values, _)| keys.equal(start, values));
            if !is_current {
                if partitions.len() == MAX_PARTITIONS {
                    read = Err(Error::Config(format!(
                        "[export.tables.{}] partition_by = {:?} gives more than {MAX_PARTITIONS} partitions: partition by something coarser, e.g. \"strftime(date, '%Y-%m')\"",
                        table.display_name(),
                        options.partition_by
                    )));
                    break 'batches;
                }
                // The previous partition is complete: its encoder finishes on its own.
                drop(current.take());
                let values = keys.values(start);
                let partition: Vec<PartitionValue> = options
                    .partition_by
                    .iter()
                    .zip(&values)
                    .map(|(by, value)| PartitionValue {
                        by: by.clone(),
                        value: value.clone(),
                    })
                    .collect();
                let running = partitions
                    .iter()
                    .filter(|p| p.encoding.is_running())
                    .count();
                if running >= PARTITIONS_ENCODING
                    && let Some(oldest) = partitions.iter_mut().find(|p| p.encoding.is_running())
                    && !oldest.encoding.settle()
                {
                    break 'batches;
                }
                let (sender, encoding) = encoder(partition_path(dest, &partition));
                partitions.push(PartitionEncoding {
                    partition,
                    encoding,
                });
                current = Some((values, sender));
            }
            let (values, sender) = current.as_ref().expect("a partition is open");
            let end = keys.end_of(start, values);
            // A closed channel means the encoder failed; `finish` reports its error.
            if sender.send(data.slice(start, end - start)).is_err() {
                break 'batches;
            }
            start = end;
        }
        progress(rows);
    }
    drop(current);
    if order_check.is_some() && read.is_ok() {
        tracing::debug!(table = %table.display_name(), "stored in partition and sort_by order: not sorting");
    }
    if partitions.is_empty() {
        // A partitioned table without rows is one empty file under its plain name.
        let (sender, encoding) = encoder(dest.to_path_buf());
        drop(sender);
        partitions.push(PartitionEncoding {
            partition: Vec::new(),
            encoding,
        });
    }
    Ok(Attempt::Read(PendingTable {
        table: table.display_name(),
        expected_rows: table.rows,
        columns,
        sort_by: options.sort_by.clone(),
        partition_by: options.partition_by.clone(),
        started,
        read: read.map(|()| rows),
        partitions,
    }))
}

/// The partition values of one batch: the text columns after the table's own.
struct PartitionKeys {
    columns: Vec<arrow::array::StringArray>,
    rows: usize,
}

impl PartitionKeys {
    fn of(
        batch: &RecordBatch,
        positions: std::ops::Range<usize>,
    ) -> std::result::Result<Self, arrow::error::ArrowError> {
        use arrow::array::AsArray;
        let columns = positions
            .map(|index| {
                let text =
                    arrow::compute::cast(batch.column(index), &arrow::datatypes::DataType::Utf8)?;
                Ok(text.as_string::<i32>().clone())
            })
            .collect::<std::result::Result<_, arrow::error::ArrowError>>()?;
        Ok(PartitionKeys {
            columns,
            rows: batch.num_rows(),
        })
    }

    /// The values of row `row`.
    fn values(&self, row: usize) -> Vec<Option<String>> {
        use arrow::array::Array;
        self.columns
            .iter()
            .map(|column| column.is_valid(row).then(|| column.value(row).to_string()))
            .collect()
    }

    /// True when row `row` has `values`.
    fn equal(&self, row: usize, values: &[Option<String>]) -> bool {
        use arrow::array::Array;
        self.columns
            .iter()
            .zip(values)
            .all(|(column, value)| match value {
                Some(text) => column.is_valid(row) && column.value(row) == text,
                None => column.is_null(row),
            })
    }

    /// The end of the run of rows from `start` that have `values` (row `start` has them).
    fn end_of(&self, start: usize, values: &[Option<String>]) -> usize {
        let rows = self.rows;
        // A partition's rows are together: when the last row has its values, so has every row
        // between (and a table without partitions is one run).
        if self.equal(rows - 1, values) {
            return rows;
        }
        (start + 1..rows)
            .find(|&row| !self.equal(row, values))
            .unwrap_or(rows)
    }
}

/// Starts the encoder of one partition (or of the whole table) writing `dest`, and its
/// channel: the batches sent are its rows; dropping the sender ends the file.
#[allow(clippy::too_many_arguments)]
fn spawn_encoder<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    table: &'scope SourceTable,
    export: &'scope ExportOptions,
    provenance: &'scope ParquetProvenance,
    options: TableSection,
    schema: SchemaRef,
    columns: Vec<Column>,
    dest: PathBuf,
) -> (SyncSender<RecordBatch>, Encoding<'scope>) {
    let (sender, batches) = std::sync::mpsc::sync_channel::<RecordBatch>(16);
    let handle = scope.spawn(move || {
        // Each file is created when the encoder reaches it. The first is written under the
        // plain name: a table that fits never has another name (a temporary `-0001` could be
        // the plain name of a table exported next). When a second file is opened, the first
        // (still open, still being written) is renamed.
        let open_part = {
            let dest = dest.clone();
            move |index: u32| -> std::io::Result<HashedFile> {
                if index == 2 {
                    std::fs::rename(&dest, part_path(&dest, 1))?;
                }
                let path = if index == 1 {
                    dest.clone()
                } else {
                    part_path(&dest, index)
                };
                create_hashed(&path)
            }
        };
        let first = open_part(1).map_err(|err| Error::output(&dest, &err))?;
        let sinks = Sinks {
            first,
            open: Box::new(open_part),
            part_size: export.part_size,
        };
        let (sinks, parquet_schema) = encode_table(
            sinks, table, export, provenance, &options, &schema, batches,
        )
        .map_err(|err| match err {
            EncodeError::Setup(err) => err,
            EncodeError::Write(err) => write_error(table, &dest, &columns, err),
        })?;
        let count = sinks.len();
        let mut files = Vec::with_capacity(count);
        for ((digest, rows), index) in sinks.into_iter().zip(1..) {
            let path = if count == 1 {
                dest.clone()
            } else {
                part_path(&dest, index)
            };
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let file = ExportedFile {
                name,
                digest,
                rows,
                partition: Vec::new(),
            };
            files.push((path, file));
        }
        Ok(EncodedFiles {
            files,
            parquet_schema,
        })
    });
    (sender, Encoding::Running(handle))
}

/// The files an encoder writes a table into: the first, opened already, and how to open the
/// next one once `part_size` bytes are written.
struct Sinks<'a> {
    first: HashedFile,
    open: Box<dyn Fn(u32) -> std::io::Result<HashedFile> + Send + 'a>,
    part_size: u64,
}

/// What an encoder wrote: each file's digest with its rows, in order, and the Parquet schema.
type Encoded = (Vec<(Digested, u64)>, String);

/// Why encoding a table stopped: its set-up (options, layout) or writing Parquet.
enum EncodeError {
    Setup(Error),
    Write(parquet::errors::ParquetError),
}

/// The encoder thread of [`write_table`]: gathers the first rows, chooses the layout from
/// them, then writes every row group.
fn encode_table(
    sinks: Sinks<'_>,
    table: &SourceTable,
    export: &ExportOptions,
    provenance: &ParquetProvenance,
    options: &TableSection,
    schema: &SchemaRef,
    batches: Receiver<RecordBatch>,
) -> std::result::Result<Encoded, EncodeError> {
    // The first rows decide the layout; they are written first, as they came.
    let mut first_batches: Vec<RecordBatch> = Vec::new();
    let mut sampled = 0usize;
    while sampled < SAMPLE_ROWS {
        let Ok(batch) = batches.recv() else { break };
        sampled += batch.num_rows();
        first_batches.push(batch);
    }
    let first_rows = layout::Sample::new(&first_batches);
    let row_group_rows = first_rows.row_group_rows(export.row_group_rows);
    // The encoding trials run beside this thread, which keeps taking batches meanwhile (up to
    // the first row group, which it would hold anyway) so that DuckDB keeps reading: with
    // the reader waiting on a full channel instead, random doubles took 8% longer.
    let mut early: Vec<RecordBatch> = Vec::new();
    let properties = std::thread::scope(|scope| {
        let trials = scope.spawn(|| {
            writer_properties(
                export,
                options,
                provenance,
                table,
                schema,
                &first_rows,
                row_group_rows,
            )
        });
        let mut taken = sampled;
        while !trials.is_finished() && taken < row_group_rows {
            let Ok(batch) = batches.recv() else { break };
            taken += batch.num_rows();
            early.push(batch);
        }
        trials.join().expect("encoding trials panicked")
    })
    .map_err(EncodeError::Setup)?;
    // No `ARROW:schema` key: readers take the types from Parquet's own logical types (which
    // the read-back check vouches for), and on small tables the base64 schema was the largest
    // part of the footer.
    let writer_options = ArrowWriterOptions::new()
        .with_properties(properties)
        .with_skip_arrow_metadata(true);
    let writer = ArrowWriter::try_new_with_options(sinks.first, schema.clone(), writer_options)
        .map_err(EncodeError::Write)?;
    let batches = first_batches.into_iter().chain(early).chain(batches);
    let (file_writer, factory) = writer
        .into_serialized_writer()
        .map_err(EncodeError::Write)?;
    let parts = PartWriter {
        current: file_writer,
        open: sinks.open,
        part_size: sinks.part_size,
        current_rows: 0,
        done: Vec::new(),
    };
    encode_row_groups(parts, &factory, schema, batches, row_group_rows).map_err(EncodeError::Write)
}

/// The Parquet file being written, and the ones finished before it: a row group that would
/// take the current file past `part_size` starts the next file instead (each file is complete,
/// with its own footer; the first row group of a file always goes in, however large). A file
/// is closed as soon as the next one starts, so memory does not grow with the number of parts.
struct PartWriter<'a> {
    current: SerializedFileWriter<HashedFile>,
    open: Box<dyn Fn(u32) -> std::io::Result<HashedFile> + Send + 'a>,
    part_size: u64,
    current_rows: u64,
    done: Vec<(Digested, u64)>,
}

impl PartWriter<'_> {
    /// Flushes and closes a finished file, freeing its buffer and descriptor: a table in 40
    /// parts kept 40 MiB of buffers until its last part was written (the checker syncs the file
    /// by path).
    fn close(file: SerializedFileWriter<HashedFile>) -> parquet::errors::Result<Digested> {
        let (_closed, digest) = finish_hashed(file.into_inner()?)?;
        Ok(digest)
    }

    /// Appends one encoded row group, in a new file when it does not fit in this one.
    fn append(&mut self, group: Vec<ArrowColumnChunk>) -> parquet::errors::Result<()> {
        let group_bytes: u64 = group
            .iter()
            .map(|chunk| chunk.close().metadata.compressed_size().max(0) as u64)
            .sum();
        let rows = group.first().map_or(0, |chunk| chunk.close().rows_written);
        if !self.current.flushed_row_groups().is_empty()
            && self.current.bytes_written() as u64 + group_bytes > self.part_size
        {
            let index = self.done.len() as u32 + 2;
            let next = SerializedFileWriter::new(
                (self.open)(index)?,
                self.current.schema_descr().root_schema_ptr(),
                self.current.properties().clone(),
            )?;
            let full = std::mem::replace(&mut self.current, next);
            self.done.push((Self::close(full)?, self.current_rows));
            self.current_rows = 0;
        }
        let mut row_group = self.current.next_row_group()?;
        for chunk in group {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.current_rows += rows;
        Ok(())
    }

    /// Closes the last file: every file with its rows, in order.
    fn finish(mut self) -> parquet::errors::Result<Vec<(Digested, u64)>> {
        self.done
            .push((Self::close(self.current)?, self.current_rows));
        Ok(self.done)
    }
}

/// Row groups whose columns may still be encoding when the next one is handed out: the next
/// one's columns start while the last column of the previous one finishes, so every core stays
/// busy. 1 was as fast as 2 on every benchmark shape and kept 40–50 MiB less in memory.
const ROW_GROUPS_IN_FLIGHT: usize = 1;

/// One column chunk to encode: row group, column position, its writer and its slices.
type ColumnJob = (usize, usize, ArrowColumnWriter, Vec<ArrowLeafColumn>);
/// An encoded column chunk, by row group and column position.
type ColumnDone = (usize, usize, parquet::errors::Result<ArrowColumnChunk>);

/// Cuts the incoming batches into row groups of `row_group_rows` and encodes their column
/// chunks on a pool of workers, with [`ROW_GROUPS_IN_FLIGHT`] row groups overlapping. Chunks are
/// appended in row-group and schema order, so the bytes do not depend on the number of threads.
fn encode_row_groups(
    mut file_writer: PartWriter<'_>,
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    batches: impl Iterator<Item = RecordBatch>,
    row_group_rows: usize,
) -> parquet::errors::Result<Encoded> {
    let parquet_schema = format!("{:?}", file_writer.current.schema_descr().root_schema());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let (job_sender, jobs) = std::sync::mpsc::channel::<ColumnJob>();
    let jobs = std::sync::Mutex::new(jobs);
    let (done_sender, done) = std::sync::mpsc::channel::<ColumnDone>();
    std::thread::scope(|scope| -> parquet::errors::Result<()> {
        // Owned here, so any early return closes the queue and the workers stop before the
        // scope waits for them.
        let job_sender = job_sender;
        for _ in 0..threads {
            let (jobs, done_sender) = (&jobs, done_sender.clone());
            scope.spawn(move || {
                loop {
                    let job = jobs.lock().expect("job queue").recv();
                    let Ok((group, column, mut writer, leaves)) = job else {
                        return;
                    };
                    let encoded = leaves
                        .iter()
                        .try_for_each(|leaf| writer.write(leaf))
                        .and_then(|()| writer.close());
                    if done_sender.send((group, column, encoded)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_sender);
        let mut pipeline = Pipeline::default();
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut pending_rows = 0usize;
        let flush = |group: Vec<RecordBatch>,
                     pipeline: &mut Pipeline,
                     file_writer: &mut PartWriter<'_>|
         -> parquet::errors::Result<()> {
            let index = pipeline.next_index();
            let column_jobs = column_jobs(factory, schema, index, &group)?;
            pipeline.start(column_jobs.len());
            for (column, (writer, leaves)) in column_jobs.into_iter().enumerate() {
                job_sender
                    .send((index, column, writer, leaves))
                    .expect("encoder workers run until the end");
            }
            pipeline.drain(&done, file_writer, ROW_GROUPS_IN_FLIGHT)
        };
        for mut batch in batches {
            while pending_rows + batch.num_rows() >= row_group_rows {
                let take = row_group_rows - pending_rows;
                pending.push(batch.slice(0, take));
                batch = batch.slice(take, batch.num_rows() - take);
                flush(
                    std::mem::take(&mut pending),
                    &mut pipeline,
                    &mut file_writer,
                )?;
                pending_rows = 0;
            }
            if batch.num_rows() > 0 {
                pending_rows += batch.num_rows();
                pending.push(batch);
            }
        }
        if pending_rows > 0 {
            flush(pending, &mut pipeline, &mut file_writer)?;
        }
        drop(job_sender);
        pipeline.drain(&done, &mut file_writer, 0)
    })?;
    Ok((file_writer.finish()?, parquet_schema))
}

/// The row groups being encoded, oldest first, each with its chunks as they arrive.
#[derive(Default)]
struct Pipeline {
    first_index: usize,
    groups: std::collections::VecDeque<Vec<Option<ArrowColumnChunk>>>,
}

impl Pipeline {
    fn next_index(&self) -> usize {
        self.first_index + self.groups.len()
    }

    fn start(&mut self, columns: usize) {
        self.groups.push_back((0..columns).map(|_| None).collect());
    }

    /// Appends finished row groups in order, waiting for chunks until at most `keep` remain.
    fn drain(
        &mut self,
        done: &Receiver<ColumnDone>,
        file_writer: &mut PartWriter<'_>,
        keep: usize,
    ) -> parquet::errors::Result<()> {
        loop {
            while self
                .groups
                .front()
                .is_some_and(|group| group.iter().all(Option::is_some))
            {
                let group = self.groups.pop_front().expect("checked");
                file_writer.append(group.into_iter().map(|c| c.expect("checked")).collect())?;
                self.first_index += 1;
            }
            if self.groups.len() <= keep {
                return Ok(());
            }
            let (group, column, chunk) = done
                .recv()
                .expect("an encoder worker stopped before its row group was done");
            self.groups[group - self.first_index][column] = Some(chunk?);
        }
    }
}

/// One job per Parquet leaf column of row group `index`: its writer and its slices from every
/// batch, in schema order.
fn column_jobs(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    index: usize,
    batches: &[RecordBatch],
) -> parquet::errors::Result<Vec<(ArrowColumnWriter, Vec<ArrowLeafColumn>)>> {
    let mut writers = factory.create_column_writers(index)?.into_iter();
    let mut jobs = Vec::new();
    for (field_index, field) in schema.fields().iter().enumerate() {
        let mut per_leaf: Vec<Vec<ArrowLeafColumn>> = Vec::new();
        for batch in batches {
            for (leaf_index, leaf) in compute_leaves(field, batch.column(field_index))?
                .into_iter()
                .enumerate()
            {
                if per_leaf.len() <= leaf_index {
                    per_leaf.push(Vec::new());
                }
                per_leaf[leaf_index].push(leaf);
            }
        }
        for leaves in per_leaf {
            let writer = writers.next().ok_or_else(|| {
                parquet::errors::ParquetError::General("fewer column writers than leaves".into())
            })?;
            jobs.push((writer, leaves));
        }
    }
    Ok(jobs)
}

fn write_error(
    table: &SourceTable,
    dest: &Path,
    columns: &[Column],
    err: parquet::errors::ParquetError,
) -> Error {
    match err {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::output(dest, &io),
                Err(other) => unsupported(table, columns, &other.to_string()),
            }
        }
        other => unsupported(table, columns, &other.to_string()),
    }
}

fn unsupported(table: &SourceTable, columns: &[Column], detail: &str) -> Error {
    let types: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.duckdb_type))
        .collect();
    Error::Table {
        table: table.display_name(),
        message: format!(
            "cannot write Parquet ({detail}); columns: {}. Exclude the table with export.exclude, or report the type",
            types.join(", ")
        ),
    }
}

/// Reads the written file's schema back with DuckDB and checks every column's type is the
/// source type or its documented conversion, so a silent type change can never be released.
fn verify_read_back(
    conn: &Connection,
    read_back: &mut ReadBack,
    table: &str,
    written: &WrittenTable,
    path: &Path,
) -> Result<()> {
    let columns = &written.export.columns;
    let described = match read_back.get(&written.parquet_schema) {
        Some(described) => described,
        None => {
            let sql = format!(
                "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet({}))",
                quote_literal(&path.to_string_lossy())
            );
            let described: Vec<(String, String)> = conn
                .prepare(&sql)
                .and_then(|mut statement| {
                    statement
                        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect()
                })
                .map_err(|err| Error::Table {
                    table: table.to_string(),
                    message: format!("DuckDB cannot read the Parquet file back: {err}"),
                })?;
            read_back
                .entry(written.parquet_schema.clone())
                .or_insert(described)
        }
    };
    for (column, (name, read_type)) in columns.iter().zip(described.iter()) {
        let expected = column
            .parquet_type
            .as_deref()
            .unwrap_or(&column.duckdb_type);
        if &column.name != name || expected != read_type {
            return Err(Error::Table {
                table: table.to_string(),
                message: format!(
                    "column {:?} of type {} reads back from Parquet as {name:?} {read_type} (expected {expected}); \
                     dbrelease does not release inexact data: exclude the table or report the type",
                    column.name, column.duckdb_type
                ),
            });
        }
    }
    if described.len() != columns.len() {
        return Err(Error::Table {
            table: table.to_string(),
            message: format!(
                "Parquet file has {} columns, table has {}",
                described.len(),
                columns.len()
            ),
        });
    }
    Ok(())
}

/// The writer's statistics truncation (the parquet crate's default, 64 bytes): a text of this
/// length may be a cut bound rather than a value, so only shorter ones are kept as min/max.
const STATS_TEXT_BYTES: usize = 64;

/// The type to compare a column's statistics in, or None when min/max mean nothing to a reader
/// (nested values, bytes) — those get a null count only, or nothing when nested.
fn stats_type(column: &Column) -> Option<Option<String>> {
    let read_type = column
        .parquet_type
        .as_deref()
        .unwrap_or(&column.duckdb_type);
    let nested = ["STRUCT", "MAP", "UNION", "LIST"]
        .iter()
        .any(|prefix| read_type.starts_with(prefix))
        || read_type.ends_with(']');
    if nested {
        return None;
    }
    if ["BLOB", "BIT", "GEOMETRY"]
        .iter()
        .any(|prefix| read_type.starts_with(prefix))
    {
        return Some(None);
    }
    // An ENUM is stored as text; comparing as text is what a reader sees.
    if read_type.starts_with("ENUM") {
        return Some(Some("VARCHAR".into()));
    }
    Some(Some(read_type.to_string()))
}

/// Fills each column's null count and min/max from the file's footer (DuckDB's
/// `parquet_metadata`, which reads no data pages): one query per table, the row groups' values
/// compared in the column's own type (dates as dates, not as text).
fn column_stats(
    conn: &Connection,
    paths: &[PathBuf],
    columns: &mut [Column],
) -> duckdb::Result<()> {
    let mut selects = Vec::new();
    let mut wanted = Vec::new();
    for (index, column) in columns.iter().enumerate() {
        let Some(compare_as) = stats_type(column) else {
            continue;
        };
        let only = format!(
            "FILTER (WHERE path_in_schema = {})",
            quote_literal(&column.name)
        );
        selects.push(format!("CAST(sum(stats_null_count) {only} AS UBIGINT)"));
        match &compare_as {
            Some(sql_type) => {
                // The footer's own text of the smallest (largest) value, compared in the
                // column's type: no session setting (a time zone) changes what is recorded.
                for (aggregate, field) in [
                    ("arg_min", "stats_min_value"),
                    ("arg_max", "stats_max_value"),
                ] {
                    selects.push(format!(
                        "{aggregate}({field}, TRY_CAST({field} AS {sql_type})) {only}"
                    ));
                }
            }
            None => selects.push("CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)".into()),
        }
        wanted.push(index);
    }
    if wanted.is_empty() {
        return Ok(());
    }
    // Every file of a table in parts: the statistics are the whole table's.
    let files: Vec<String> = paths
        .iter()
        .map(|path| quote_literal(&path.to_string_lossy()))
        .collect();
    let sql = format!(
        "SELECT {} FROM parquet_metadata([{}])",
        selects.join(", "),
        files.join(", ")
    );
    let values: Vec<(Option<u64>, Option<String>, Option<String>)> =
        conn.query_row(&sql, [], |row| {
            (0..wanted.len())
                .map(|at| Ok((row.get(at * 3)?, row.get(at * 3 + 1)?, row.get(at * 3 + 2)?)))
                .collect()
        })?;
    let keep = |text: Option<String>| text.filter(|t| t.len() < STATS_TEXT_BYTES);
    for (index, (nulls, min, max)) in wanted.into_iter().zip(values) {
        columns[index].stats = nulls.map(|nulls| ColumnStats {
            null_count: nulls,
            min: keep(min),
            max: keep(max),
        });
    }
    Ok(())
}
