//! Table → Arrow record batches (streamed out of DuckDB) → Parquet, hashed while written.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::io::Write;
use std::sync::mpsc::Receiver;

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
use super::source::{SourceTable, quote_ident, quote_literal};
use super::types::plan_column;
use super::writeback::Writeback;
use crate::config::{Codec, ExportOptions, TableSection};
use crate::error::{Error, Result};
use dbrelease_manifest::{Column, ColumnStats};
use dbrelease_remote::hashing::{Digested, HashingWriter};

/// One Parquet file of a table: its name in the staging directory, digest and rows.
#[derive(Debug, Clone)]
pub struct ExportedFile {
    pub name: String,
    pub digest: Digested,
    pub rows: u64,
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
    for (key, columns) in [
        ("sort_by", &options.sort_by),
        ("bloom_filter", &options.bloom_filter),
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

/// Builds the export query: casts for the documented conversions, ORDER BY for `sort_by`.
pub fn export_query(table: &SourceTable, sort_by: &[String]) -> Result<(String, Vec<Column>)> {
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
    let mut sql = format!("SELECT {} FROM {}", projection.join(", "), table.sql_name());
    if !sort_by.is_empty() {
        let keys: Vec<String> = sort_by
            .iter()
            .map(|key| format!("{} ASC NULLS LAST", quote_ident(key)))
            .collect();
        sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    Ok((sql, columns))
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

/// A table's Parquet file or files, completely written but not yet synced to disk nor read
/// back.
pub struct WrittenTable {
    table: String,
    /// Each file's path, in order, beside `export.files`.
    paths: Vec<PathBuf>,
    files: Vec<File>,
    export: TableExport,
    started: Instant,
    /// The file's Parquet schema (names, physical and logical types, nesting), as written.
    parquet_schema: String,
}

/// How DuckDB read back each Parquet schema already checked in this build: which column names
/// and types. DuckDB's reading of a file's types depends on its Parquet schema only, so a file
/// with a schema already read is compared with that answer instead of being read again (200
/// tables of one schema: one DESCRIBE, not 200).
pub type ReadBack = std::collections::HashMap<String, Vec<(String, String)>>;

impl WrittenTable {
    /// Syncs the file and checks that DuckDB reads every column back as the source type or
    /// its documented conversion.
    pub fn check(mut self, conn: &Connection, read_back: &mut ReadBack) -> Result<TableExport> {
        for (file, path) in self.files.iter().zip(&self.paths) {
            file.sync_all().map_err(|err| Error::output(path, &err))?;
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

/// A table whose rows have all been read from DuckDB; its encoder may still be running.
pub struct PendingTable<'scope> {
    table: String,
    expected_rows: u64,
    /// The file's path when the table fits in one; parts are named from it ([`part_path`]).
    dest: PathBuf,
    columns: Vec<Column>,
    sort_by: Vec<String>,
    started: Instant,
    /// Rows handed to the encoder, or why reading stopped.
    read: Result<u64>,
    /// The encoder's files with their rows, and the Parquet schema it wrote.
    encoder: std::thread::ScopedJoinHandle<'scope, Result<Encoded<TableSink>>>,
}

/// What an encoder wrote: each file's sink with its rows, in order, and the Parquet schema.
type Encoded<W> = (Vec<(W, u64)>, String);

/// Where a table's Parquet bytes go: hashed, buffered, written back to disk as they come.
type TableSink = HashingWriter<BufWriter<Writeback>>;

/// The path of file `index` (from 1) of a table in parts: `daily.parquet` → `daily-0001.parquet`.
/// Four digits keep the names sortable (a GitHub release holds at most 1,000 assets).
pub fn part_path(dest: &Path, index: u32) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    dest.with_file_name(format!("{stem}-{index:04}.parquet"))
}

impl PendingTable<'_> {
    /// Waits for the encoder: the written file, or the first thing that went wrong (reading
    /// first: a failed encoder is often only its consequence).
    pub fn finish(self) -> Result<WrittenTable> {
        let encoded = self.encoder.join().expect("Parquet encoder panicked");
        let rows = self.read?;
        let (sinks, parquet_schema) = encoded?;
        let count = sinks.len() as u32;
        let mut export_files = Vec::new();
        let (mut paths, mut files) = (Vec::new(), Vec::new());
        for ((sink, part_rows), index) in sinks.into_iter().zip(1..) {
            // A table that fits in one file keeps its plain name.
            let path = if count == 1 {
                self.dest.clone()
            } else {
                part_path(&self.dest, index)
            };
            let (buffered, digest) = sink.finish().map_err(|err| Error::output(&path, &err))?;
            let file = buffered
                .into_inner()
                .map_err(|err| Error::output(&path, err.error()))?
                .into_inner();
            export_files.push(ExportedFile {
                name: path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                digest,
                rows: part_rows,
            });
            paths.push(path);
            files.push(file);
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
            files,
            export: TableExport {
                files: export_files,
                rows,
                columns: self.columns,
                sort_by: self.sort_by,
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

/// Streams `table` into a Parquet file at `dest`, hashing the bytes as they are written.
/// Returns once DuckDB has handed out every row: an encoder thread in `scope` chooses the
/// layout from the first rows, then cuts row groups whose columns are encoded in parallel,
/// and may still be running ([`PendingTable::finish`] waits for it).
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
    // A table already stored in key order is exported in storage order, without a sort.
    let sort = !options.sort_by.is_empty()
        && !super::source::stored_in_order(conn, table, &options.sort_by)?;
    if !options.sort_by.is_empty() && !sort {
        tracing::debug!(table = %table.display_name(), "stored in sort_by order: not sorting");
    }
    let order_by: &[String] = if sort { &options.sort_by } else { &[] };
    let (sql, columns) = export_query(table, order_by)?;
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
    let schema = stream.get_schema();
    // Each file of the table is created when the encoder reaches it.
    // The first file is written under the table's plain name: a table that fits never has
    // another name (a temporary `-0001` could be the plain name of a table exported next). When
    // a second file is opened, the first (still open, still being written) is renamed.
    let open_part = {
        let dest = dest.clone();
        move |index: u32| -> std::io::Result<TableSink> {
            if index == 2 {
                std::fs::rename(&dest, part_path(&dest, 1))?;
            }
            let path = if index == 1 {
                dest.clone()
            } else {
                part_path(&dest, index)
            };
            Ok(HashingWriter::new(BufWriter::with_capacity(
                1 << 20,
                Writeback::new(File::create(path)?),
            )))
        }
    };
    let first_sink = open_part(1).map_err(|err| Error::output(&dest, &err))?;

    // DuckDB hands out batches on this thread (its statement cannot move).
    let (sender, batches) = std::sync::mpsc::sync_channel::<RecordBatch>(16);
    let encoder = {
        let (options, columns, dest) = (options.clone(), columns.clone(), dest.clone());
        scope.spawn(move || {
            let sinks = Sinks {
                first: first_sink,
                open: Box::new(open_part),
                part_size: export.part_size,
            };
            encode_table(sinks, table, export, provenance, &options, &schema, batches).map_err(
                |err| match err {
                    EncodeError::Setup(err) => err,
                    EncodeError::Write(err) => write_error(table, &dest, &columns, err),
                },
            )
        })
    };
    let mut rows = 0u64;
    let mut read = Ok(());
    for batch in stream {
        match batch {
            Ok(batch) => {
                rows += batch.num_rows() as u64;
                // A closed channel means the encoder failed; `finish` reports its error.
                if sender.send(batch).is_err() {
                    break;
                }
                progress(rows);
            }
            Err(err) => {
                read = Err(table_error(format!("reading rows failed: {err}")));
                break;
            }
        }
    }
    drop(sender);
    Ok(PendingTable {
        table: table.display_name(),
        expected_rows: table.rows,
        dest,
        columns,
        sort_by: options.sort_by,
        started,
        read: read.map(|()| rows),
        encoder,
    })
}

/// The files an encoder writes a table into: the first, opened already, and how to open the
/// next one once `part_size` bytes are written.
struct Sinks<'a, W> {
    first: W,
    open: Box<dyn Fn(u32) -> std::io::Result<W> + Send + 'a>,
    part_size: u64,
}

/// Why encoding a table stopped: its set-up (options, layout) or writing Parquet.
enum EncodeError {
    Setup(Error),
    Write(parquet::errors::ParquetError),
}

/// The encoder thread of [`write_table`]: gathers the first rows, chooses the layout from
/// them, then writes every row group.
fn encode_table<W: Write + Send>(
    sinks: Sinks<'_, W>,
    table: &SourceTable,
    export: &ExportOptions,
    provenance: &ParquetProvenance,
    options: &TableSection,
    schema: &SchemaRef,
    batches: Receiver<RecordBatch>,
) -> std::result::Result<Encoded<W>, EncodeError> {
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
/// with its own footer; the first row group of a file always goes in, however large).
struct PartWriter<'a, W: Write + Send> {
    current: SerializedFileWriter<W>,
    open: Box<dyn Fn(u32) -> std::io::Result<W> + Send + 'a>,
    part_size: u64,
    current_rows: u64,
    done: Vec<(W, u64)>,
}

impl<W: Write + Send> PartWriter<'_, W> {
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
            self.done.push((full.into_inner()?, self.current_rows));
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
    fn finish(mut self) -> parquet::errors::Result<Vec<(W, u64)>> {
        self.done
            .push((self.current.into_inner()?, self.current_rows));
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
fn encode_row_groups<W: Write + Send>(
    mut file_writer: PartWriter<'_, W>,
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    batches: impl Iterator<Item = RecordBatch>,
    row_group_rows: usize,
) -> parquet::errors::Result<Encoded<W>> {
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
                     file_writer: &mut PartWriter<'_, W>|
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
    fn drain<W: Write + Send>(
        &mut self,
        done: &Receiver<ColumnDone>,
        file_writer: &mut PartWriter<'_, W>,
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
