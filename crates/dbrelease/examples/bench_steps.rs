//! Benchmark helper for `scripts/bench.sh`: runs one step of a build, or DuckDB's own
//! `COPY ... (FORMAT parquet)` for the same queries, with the same embedded DuckDB.
//!
//! Usage:
//!   bench_steps parquet-ours   CONFIG DB OUT_DIR   # dbrelease's Parquet export of every table
//!   bench_steps parquet-duckdb CONFIG DB OUT_DIR   # DuckDB COPY of the same SELECTs, zstd
//!   bench_steps scan-only      CONFIG DB OUT_DIR   # DuckDB scan + Arrow conversion only
//!   bench_steps gzip-ours      FILE OUT            # dbrelease's parallel gzip, level 6

use std::path::PathBuf;

use dbrelease::build::{gzip, parquet, source};
use dbrelease::cli::BuildArgs;
use dbrelease::config::load_build_config;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    dbrelease::allocator::tune_for_build();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(mode @ ("parquet-ours" | "parquet-duckdb" | "scan-only")) => {
            let build_args = BuildArgs {
                config: PathBuf::from(&args[2]),
                db: Some(PathBuf::from(&args[3])),
                out: PathBuf::from(&args[4]),
                tag: None,
                checkpoint_wal: false,
                json: false,
            };
            let config = load_build_config(&build_args)?;
            std::fs::create_dir_all(&config.out_dir)?;
            let header = source::read_header(&config.database)?;
            let conn =
                source::open_read_only(&config.database, &header, &config.export.memory_limit)?;
            let snapshot = source::snapshot(&conn, &config.database, &config.export)?;
            let provenance = parquet::ParquetProvenance {
                source_file: "bench.duckdb".into(),
            };
            if mode == "parquet-ours" {
                // As `dbrelease build` does it: each table is finished, synced and read back on
                // a second connection while the next one is read.
                return std::thread::scope(|scope| -> Result<(), Box<dyn std::error::Error>> {
                    let checker = parquet::Checker::start(scope, &conn)?;
                    for table in &snapshot.tables {
                        let dest = config.out_dir.join(format!("{}.parquet", table.name));
                        let pending = parquet::write_table(
                            scope,
                            &conn,
                            table,
                            &config.export,
                            &provenance,
                            dest,
                            &|_| {},
                        )?;
                        checker.check(pending);
                    }
                    for result in checker.finish() {
                        result?;
                    }
                    Ok(())
                });
            }
            for table in &snapshot.tables {
                let dest = config.out_dir.join(format!("{}.parquet", table.name));
                if mode == "scan-only" {
                    // The floor: DuckDB's scan + Arrow conversion of the same query, no Parquet.
                    let options = parquet::table_options(table, &config.export)?;
                    let query = parquet::export_query(table, &options.sort_by, &[], &[])?.sql;
                    let mut statement = conn.prepare(&query)?;
                    let rows: usize = statement
                        .stream_arrow([])?
                        .map(|batch| batch.map(|b| b.num_rows()))
                        .sum::<Result<usize, _>>()?;
                    eprintln!("{}: {rows} rows", table.name);
                } else {
                    let options = parquet::table_options(table, &config.export)?;
                    let query = parquet::export_query(table, &options.sort_by, &[], &[])?.sql;
                    conn.execute_batch(&format!(
                        "COPY ({query}) TO {} (FORMAT parquet, COMPRESSION zstd)",
                        source::quote_literal(&dest.to_string_lossy())
                    ))?;
                }
            }
        }
        Some("gzip-ours") => {
            let input = std::io::BufReader::new(std::fs::File::open(&args[2])?);
            let output = std::io::BufWriter::new(std::fs::File::create(&args[3])?);
            let threads = std::thread::available_parallelism()?.get();
            gzip::gzip_parallel(input, output, 6, 0, threads, &|_| {})?;
        }
        _ => {
            eprintln!(
                "usage: bench_steps parquet-ours|parquet-duckdb CONFIG DB OUT | gzip-ours FILE OUT"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
