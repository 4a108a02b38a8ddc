//! How a table is laid out in Parquet — each column's encoding and the rows per row group —
//! chosen from the table's first rows.
//!
//! Row groups hold `export.row_group_rows` rows (DuckDB's 122,880 by default) but at most
//! [`ROW_GROUP_BYTES`] of values: the build keeps about two row groups in memory (one being
//! read, one being encoded), so a table of wide rows must not make them larger, or memory
//! would follow the data instead of the configuration.
//!
//! DuckDB's writer picks a dictionary from the values, not the type; this does the same and
//! then goes one step further where no dictionary pays: it writes the first rows each candidate
//! way (the same codec and level as the real file) and keeps the smallest. The candidates are
//! ones every common reader decodes (DuckDB, Polars, pyarrow, parquet-rs): PLAIN,
//! BYTE_STREAM_SPLIT for floating point, DELTA_BINARY_PACKED for integers, dates and times,
//! DELTA_BYTE_ARRAY for strings that share prefixes. Every column chunk is one page, as DuckDB
//! writes it (see [`PAGE_BYTES_LIMIT`]).
//!
//! The decision reads exactly the first [`SAMPLE_ROWS`] rows, whatever the batch sizes or the
//! number of threads, so the file stays reproducible.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Rows of a table (from its start) that decide each column's encoding.
pub const SAMPLE_ROWS: usize = 65_536;

/// A page is cut before it grows past this many uncompressed bytes, so one column chunk of
/// very long values does not become one huge page for readers to hold at once.
pub const PAGE_BYTES_LIMIT: usize = 64 << 20;

/// Values per row group at most (plain size, as estimated from the first rows). 8 MiB rather
/// than 16: peak RSS of the 151 MiB benchmark build 257–284 → 228–244 MiB (the 1 GiB one of
/// narrow rows is not cut: 243–251 MiB), files no larger, one-key remote queries read less.
pub const ROW_GROUP_BYTES: usize = 8 << 20;

/// Row groups cut by [`ROW_GROUP_BYTES`] hold a multiple of this many rows (DuckDB's vector
/// size), and at least this many.
const ROW_GROUP_ROWS_STEP: usize = 2048;

/// A table's first [`SAMPLE_ROWS`] rows, cut exactly there (so nothing below depends on how
/// they were batched), with each column's profile, computed once for every decision.
pub struct Sample {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// By column position; None for columns this does not judge (booleans, nested types).
    profiles: Vec<Option<SampleProfile>>,
}

impl Sample {
    pub fn new(first_batches: &[RecordBatch]) -> Self {
        let batches = first_rows(first_batches, SAMPLE_ROWS);
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let columns = batches.first().map_or(0, RecordBatch::num_columns);
        let profiles = (0..columns)
            .map(|index| SampleProfile::of(&column_of(&batches, index)))
            .collect();
        Sample {
            batches,
            rows,
            profiles,
        }
    }

    /// Rows per row group: `max_rows`, or fewer when that many rows would hold more than
    /// [`ROW_GROUP_BYTES`] of values.
    pub fn row_group_rows(&self, max_rows: usize) -> usize {
        if self.rows == 0 {
            return max_rows;
        }
        let bytes: usize = self
            .profiles
            .iter()
            .enumerate()
            .map(|(index, profile)| match profile {
                Some(profile) => profile.plain_bytes,
                // Booleans and nested values: their size once gathered into one array, which
                // is the same however the rows were split into batches.
                None => {
                    let arrays = column_of(&self.batches, index);
                    let arrays: Vec<&dyn Array> = arrays.iter().map(AsRef::as_ref).collect();
                    arrow::compute::concat(&arrays)
                        .map(|array| array.to_data().get_slice_memory_size().unwrap_or(0))
                        .unwrap_or(0)
                }
            })
            .sum();
        let fitting = ROW_GROUP_BYTES / bytes.div_ceil(self.rows).max(1);
        let stepped =
            (fitting / ROW_GROUP_ROWS_STEP * ROW_GROUP_ROWS_STEP).max(ROW_GROUP_ROWS_STEP);
        stepped.min(max_rows)
    }
}

/// Plain bytes of a column a trial writes at most (at least [`MIN_TRIAL_ROWS`] rows): about
/// one column chunk of 8-byte values, so zstd works at the same scale as on the real chunks.
const TRIAL_BYTES: usize = 1 << 20;

/// Rows a trial writes at least, when the sample has them.
const MIN_TRIAL_ROWS: usize = 4096;

/// What a dictionary costs beyond its values: the dictionary page's header and the index
/// page's bit-width byte, about what made tiny dictionary chunks larger than plain ones.
const DICTIONARY_OVERHEAD_BYTES: usize = 48;

/// Strings whose values share at least this share (percent) of their bytes with the value
/// before them are also tried as DELTA_BYTE_ARRAY.
const SHARED_PREFIX_PERCENT: usize = 10;

/// How one column is written: a dictionary (None; parquet-rs falls back to PLAIN if it grows
/// past its size limit) or the given encoding.
pub type ColumnEncoding = Option<Encoding>;

/// Sets `encoding` for `column` on the writer properties being built.
pub fn apply(
    builder: parquet::file::properties::WriterPropertiesBuilder,
    column: ColumnPath,
    encoding: ColumnEncoding,
) -> parquet::file::properties::WriterPropertiesBuilder {
    let builder = builder.set_column_dictionary_enabled(column.clone(), encoding.is_none());
    match encoding {
        Some(encoding) => builder.set_column_encoding(column, encoding),
        None => builder,
    }
}

/// The encoding of every top-level column of `schema` that this judges, chosen from `sample`.
/// Columns left out (booleans, nested types) keep the writer's default: a dictionary while it
/// stays small.
pub fn choose_encodings(
    schema: &Schema,
    sample: &Sample,
    compression: Compression,
) -> Vec<(usize, ColumnEncoding)> {
    // Per column: its candidates and how many rows the trials write.
    let judged: Vec<(usize, Vec<Encoding>, usize)> = schema
        .fields()
        .iter()
        .zip(&sample.profiles)
        .enumerate()
        .filter_map(|(index, (field, profile))| {
            let profile = profile.as_ref()?;
            let rows_per_byte_budget = TRIAL_BYTES / (profile.plain_bytes / profile.values).max(1);
            let trial_rows = rows_per_byte_budget.clamp(MIN_TRIAL_ROWS, SAMPLE_ROWS);
            Some((index, profile.candidates(field.data_type()), trial_rows))
        })
        .collect();
    let choose = |(index, candidates, trial_rows): &(usize, Vec<Encoding>, usize)| {
        let field = schema.field(*index);
        let arrays = column_of(&first_rows(&sample.batches, *trial_rows), *index);
        (*index, smallest(field, &arrays, candidates, compression))
    };
    let sample_bytes: usize = sample
        .batches
        .iter()
        .map(RecordBatch::get_array_memory_size)
        .sum();
    if sample_bytes < PARALLEL_TRIAL_BYTES {
        return judged.iter().map(choose).collect();
    }
    // Trials of different columns are independent: run them on every core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = judged.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = judged
            .chunks(per_thread)
            .map(|chunk| scope.spawn(|| chunk.iter().map(choose).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("encoding trial panicked"))
            .collect()
    })
}

/// Below this much sample data, starting threads costs more than the trials.
const PARALLEL_TRIAL_BYTES: usize = 1 << 20;

fn column_of(batches: &[RecordBatch], index: usize) -> Vec<ArrayRef> {
    batches.iter().map(|b| b.column(index).clone()).collect()
}

/// The first `rows` rows of `batches`, cut exactly there.
fn first_rows(batches: &[RecordBatch], rows: usize) -> Vec<RecordBatch> {
    let mut taken = Vec::new();
    let mut left = rows;
    for batch in batches {
        if left == 0 {
            break;
        }
        let take = batch.num_rows().min(left);
        taken.push(batch.slice(0, take));
        left -= take;
    }
    taken
}

/// The encoding that writes `arrays` smallest: the first candidate on a tie, or when a trial
/// cannot be written (the real file then reports the problem); a dictionary when there is no
/// candidate.
fn smallest(
    field: &Field,
    arrays: &[ArrayRef],
    candidates: &[Encoding],
    compression: Compression,
) -> ColumnEncoding {
    match candidates {
        [] => None,
        [only] => Some(*only),
        _ => {
            let trials: Vec<(Encoding, u64)> = candidates
                .iter()
                .map(|&encoding| {
                    let bytes = trial_size(field, arrays, encoding, compression);
                    (encoding, bytes.unwrap_or(u64::MAX))
                })
                .collect();
            let (chosen, _) = trials
                .iter()
                .enumerate()
                .min_by_key(|(order, (_, bytes))| (*bytes, *order))
                .map(|(_, trial)| *trial)
                .expect("at least two candidates");
            tracing::debug!(
                column = field.name(),
                ?trials,
                ?chosen,
                "encoding chosen from the first rows"
            );
            Some(chosen)
        }
    }
}

/// Compressed bytes of `arrays` written as one column chunk in `encoding`.
fn trial_size(
    field: &Field,
    arrays: &[ArrayRef],
    encoding: Encoding,
    compression: Compression,
) -> Option<u64> {
    let schema = std::sync::Arc::new(Schema::new(vec![field.clone()]));
    let path = ColumnPath::from(field.name().as_str());
    let builder = WriterProperties::builder()
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(None)
        .set_data_page_row_count_limit(usize::MAX)
        .set_data_page_size_limit(PAGE_BYTES_LIMIT);
    let properties = apply(builder, path, Some(encoding)).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties)).ok()?;
    for array in arrays {
        let batch = RecordBatch::try_new(schema.clone(), vec![array.clone()]).ok()?;
        writer.write(&batch).ok()?;
    }
    let metadata = writer.close().ok()?;
    Some(
        metadata
            .row_groups()
            .iter()
            .map(|group| group.compressed_size() as u64)
            .sum(),
    )
}

/// What a column's first rows look like to the encoder: how many values, how many distinct,
/// their plain size, and (for strings and binaries) how many leading bytes each value shares
/// with the one before it.
#[derive(Debug, Default, PartialEq)]
struct SampleProfile {
    values: usize,
    distinct: usize,
    plain_bytes: usize,
    /// Bytes of the variable-length values themselves (no length prefixes); 0 for fixed widths.
    value_bytes: usize,
    shared_prefix_bytes: usize,
}

impl SampleProfile {
    /// None for columns this does not judge (booleans, nested types) or without a value.
    fn of(arrays: &[ArrayRef]) -> Option<Self> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // A fixed hasher: the decision, and so the file, must not vary between runs.
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut seen = std::collections::HashSet::new();
        let mut profile = SampleProfile::default();
        let mut variable: Vec<&[u8]> = Vec::new();
        for array in arrays {
            let data_type = array.data_type();
            if let (Some(width), false) = (data_type.primitive_width(), data_type.is_nested()) {
                let data = array.to_data();
                let raw = &data.buffers().first()?.as_slice()[data.offset() * width..];
                for index in (0..array.len()).filter(|&i| array.is_valid(i)) {
                    seen.insert(hasher.hash_one(&raw[index * width..(index + 1) * width]));
                    profile.values += 1;
                    profile.plain_bytes += width;
                }
                continue;
            }
            match data_type {
                DataType::Utf8 => {
                    variable.extend(array.as_string::<i32>().iter().flatten().map(str::as_bytes))
                }
                DataType::LargeUtf8 => {
                    variable.extend(array.as_string::<i64>().iter().flatten().map(str::as_bytes))
                }
                DataType::Utf8View => {
                    variable.extend(array.as_string_view().iter().flatten().map(str::as_bytes))
                }
                DataType::Binary => variable.extend(array.as_binary::<i32>().iter().flatten()),
                DataType::LargeBinary => variable.extend(array.as_binary::<i64>().iter().flatten()),
                _ => return None,
            }
        }
        let mut previous: Option<&[u8]> = None;
        for value in variable {
            seen.insert(hasher.hash_one(value));
            profile.values += 1;
            // PLAIN writes a 4-byte length before each value.
            profile.plain_bytes += value.len() + 4;
            profile.value_bytes += value.len();
            if let Some(previous) = previous {
                profile.shared_prefix_bytes += previous
                    .iter()
                    .zip(value)
                    .take_while(|(a, b)| a == b)
                    .count();
            }
            previous = Some(value);
        }
        profile.distinct = seen.len();
        (profile.values > 0).then_some(profile)
    }

    /// Whether a dictionary pays, judged the way DuckDB's writer judges a column chunk: by the
    /// values, whatever their type. It is used when the dictionary page plus bit-packed indices
    /// would take at most 60% of the plain values — low cardinality (symbols, dates, prices
    /// with few distinct values) — and not on mostly distinct values (measurements,
    /// timestamps, URLs), where it costs space and time.
    fn dictionary_pays(&self) -> bool {
        let index_bits =
            (usize::BITS - self.distinct.saturating_sub(1).leading_zeros()).max(1) as usize;
        let dictionary_bytes = self.plain_bytes / self.values * self.distinct
            + self.values * index_bits / 8
            + DICTIONARY_OVERHEAD_BYTES;
        dictionary_bytes * 10 <= self.plain_bytes * 6
    }

    /// The encodings worth a trial for a column of `data_type` with these values, PLAIN
    /// first; none when a dictionary pays.
    fn candidates(&self, data_type: &DataType) -> Vec<Encoding> {
        if self.dictionary_pays() {
            return Vec::new();
        }
        let typed = match data_type {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                Some(Encoding::BYTE_STREAM_SPLIT)
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Duration(_) => Some(Encoding::DELTA_BINARY_PACKED),
            _ if self.value_bytes > 0
                && self.shared_prefix_bytes * 100 >= self.value_bytes * SHARED_PREFIX_PERCENT =>
            {
                Some(Encoding::DELTA_BYTE_ARRAY)
            }
            _ => None,
        };
        std::iter::once(Encoding::PLAIN).chain(typed).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};

    use super::*;

    fn profile(array: ArrayRef) -> Option<SampleProfile> {
        SampleProfile::of(&[array])
    }

    #[test]
    fn the_data_not_the_type_decides_the_dictionary() {
        let floats = |values: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(values)) };
        // Few distinct prices: a dictionary pays even for floats.
        let prices = floats((0..65_536).map(|i| (i % 500) as f64 / 4.0).collect());
        assert!(profile(prices).unwrap().dictionary_pays());
        // Distinct measurements: it does not.
        let measurements = floats((0..65_536).map(|i| i as f64 * 1.000_001).collect());
        assert!(!profile(measurements).unwrap().dictionary_pays());
        // Long near-unique strings: no dictionary; a handful of labels: dictionary.
        let urls: Vec<String> = (0..10_000)
            .map(|i| format!("https://example.org/{i:08}/file.csv"))
            .collect();
        assert!(
            !profile(Arc::new(StringArray::from(urls)))
                .unwrap()
                .dictionary_pays()
        );
        let labels: Vec<&str> = (0..10_000).map(|i| ["a", "bb", "ccc"][i % 3]).collect();
        assert!(
            profile(Arc::new(StringArray::from(labels)))
                .unwrap()
                .dictionary_pays()
        );
        // Sliced arrays are read at their offset; nulls do not count.
        let ids: ArrayRef = Arc::new(Int64Array::from(
            (0..1000).map(Some).chain([None]).collect::<Vec<_>>(),
        ));
        let sliced = profile(ids.slice(10, 500)).unwrap();
        assert_eq!((sliced.values, sliced.distinct), (500, 500));
        assert!(!sliced.dictionary_pays());
        // Types it does not judge keep the writer's defaults.
        assert_eq!(
            profile(Arc::new(BooleanArray::from(vec![true, false]))),
            None
        );
    }

    #[test]
    fn the_smallest_trial_wins_and_ties_keep_the_default() {
        let zstd = Compression::ZSTD(parquet::basic::ZstdLevel::try_new(3).unwrap());
        let choose = |array: ArrayRef| {
            let schema = Schema::new(vec![Field::new("c", array.data_type().clone(), true)]);
            let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![array]).unwrap();
            choose_encodings(&schema, &Sample::new(&[batch]), zstd)[0].1
        };
        // A running id: deltas of 1 pack to almost nothing.
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..65_536));
        assert_eq!(choose(ids), Some(Encoding::DELTA_BINARY_PACKED));
        // URLs under one stem: the shared prefix is written once per value as a length.
        let urls: Vec<String> = (0..20_000u64)
            .map(|i| {
                format!(
                    "https://data.example.org/futures/daily/SYM{}/{:x}.zip",
                    i / 50,
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                )
            })
            .collect();
        assert_eq!(
            choose(Arc::new(StringArray::from(urls))),
            Some(Encoding::DELTA_BYTE_ARRAY)
        );
        // Random strings share nothing: only PLAIN is tried.
        let noise: Vec<String> = (0..5_000u64)
            .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        let noise = profile(Arc::new(StringArray::from(noise))).unwrap();
        assert_eq!(noise.candidates(&DataType::Utf8), vec![Encoding::PLAIN]);
    }

    #[test]
    fn only_the_first_sample_rows_decide() {
        let batch = |from: i64, rows: i64| {
            let schema = Arc::new(Schema::new(vec![Field::new("c", DataType::Int64, false)]));
            let array: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + rows));
            RecordBatch::try_new(schema, vec![array]).unwrap()
        };
        // Cut exactly at SAMPLE_ROWS, whatever the batch sizes.
        let few_big = first_rows(&[batch(0, 50_000), batch(50_000, 50_000)], SAMPLE_ROWS);
        let many_small: Vec<RecordBatch> = (0..100).map(|i| batch(i * 1000, 1000)).collect();
        let many_small = first_rows(&many_small, SAMPLE_ROWS);
        let rows =
            |batches: &[RecordBatch]| batches.iter().map(RecordBatch::num_rows).sum::<usize>();
        assert_eq!(rows(&few_big), SAMPLE_ROWS);
        assert_eq!(rows(&many_small), SAMPLE_ROWS);
    }

    #[test]
    fn wide_rows_get_fewer_rows_per_group_however_they_were_batched() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::Utf8, false),
        ]));
        let batch = |from: usize, rows: usize, width: usize| {
            let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(
                (from..from + rows).map(|i| i as i64),
            ));
            let text: ArrayRef = Arc::new(StringArray::from_iter_values(
                (from..from + rows).map(|i| format!("{i:0width$}")),
            ));
            RecordBatch::try_new(schema.clone(), vec![ids, text]).unwrap()
        };
        // 12 bytes of values per row: the configured row count stands.
        assert_eq!(
            Sample::new(&[batch(0, 70_000, 4)]).row_group_rows(122_880),
            122_880
        );
        // 1 KiB rows: 8 MiB hold 8,192 of them (8 + 4 + 1012 bytes each, in 2048-row steps).
        let wide = Sample::new(&[batch(0, 70_000, 1012)]).row_group_rows(122_880);
        assert_eq!(wide, 8_192);
        let rebatched: Vec<RecordBatch> = (0..35).map(|i| batch(i * 2000, 2000, 1012)).collect();
        assert_eq!(Sample::new(&rebatched).row_group_rows(122_880), wide);
        // A smaller configured row count is kept.
        assert_eq!(Sample::new(&[batch(0, 100, 1012)]).row_group_rows(700), 700);
    }
}
