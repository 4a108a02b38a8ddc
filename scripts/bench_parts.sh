#!/usr/bin/env bash
# Tables in parts at scale: `dbrelease build` with [export] part_size, side by side in one run
# with the newest DuckDB's `COPY … (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES …)` of the
# same tables. Per shape: wall time, peak RSS, Parquet bytes, number of files, and the ratios
# (dbrelease / DuckDB); the last line is the worst shape.
# Usage: scripts/bench_parts.sh [WORKDIR]
#   BENCH_GIB=10 (default 1): rows are scaled so each shape's table is about this many GiB of
#   DuckDB storage; BENCH_PART_MIB=256 (default): the part size of both writers.
# Shapes are generated here (deterministic, hash of the row number), none tuned on:
#   klines    1-minute OHLCV bars of many symbols, in time order (the origin's largest data)
#   events    random doubles and timestamps, unsorted (the worst case for encodings)
#   logs      medium-length text with a low-cardinality label
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
work="${1:-${TMPDIR:-/tmp}/dbrelease-bench-parts}"
gib="${BENCH_GIB:-1}"
part_mib="${BENCH_PART_MIB:-256}"
mkdir -p "$work"
cargo build --release --quiet --bin dbrelease --example bench_steps
# dbrelease's Parquet export of every table as `build` runs it (encode, sync, read back, stats),
# without the database's gzip, so both sides write the same thing.
steps="$CARGO_TARGET_DIR/release/examples/bench_steps"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test"
. scripts/venv.sh
writer_py="$(venv_for scripts/requirements-test.txt)/bin/python"   # duckdb 1.4: writes the shapes
newest_py="$(venv_for scripts/requirements-bench.txt)/bin/python"  # duckdb 2.0: the reference

# Rows per GiB of DuckDB storage, measured once per shape on 1 M rows of it.
"$writer_py" - "$work" "$gib" <<'PY'
import os, sys, duckdb
work, gib = sys.argv[1], float(sys.argv[2])
shapes = {
    "klines": """SELECT
        'SYM' || (range % 400) AS symbol,
        TIMESTAMP '2019-01-01' + INTERVAL 1 MINUTE * (range // 400) AS open_time,
        round(100 + (hash(range) % 100000) / 1000.0, 3) AS open,
        round(100 + (hash(range * 3) % 100000) / 1000.0, 3) AS high,
        round(100 + (hash(range * 5) % 100000) / 1000.0, 3) AS low,
        round(100 + (hash(range * 7) % 100000) / 1000.0, 3) AS close,
        (hash(range * 11) % 1000000) / 100.0 AS volume,
        CAST(hash(range * 13) % 5000 AS INTEGER) AS trades
      FROM range({rows})""",
    "events": """SELECT
        range AS id,
        hash(range) / 18446744073709551615.0 AS x,
        (hash(range * 31) % 1000000007) * 1.000001 AS y,
        TIMESTAMP '2020-01-01' + to_microseconds(CAST(hash(range * 13) % 100000000000000 AS BIGINT)) AS at
      FROM range({rows})""",
    "logs": """SELECT
        range AS id,
        ['INFO', 'WARN', 'ERROR', 'DEBUG'][CAST(1 + hash(range) % 4 AS BIGINT)] AS level,
        'request ' || hash(range * 17) % 100000 || ' served /api/v1/items/' || hash(range * 19) % 1000000 || ' in ' || hash(range) % 900 || ' ms' AS message
      FROM range({rows})""",
}
for shape, select in shapes.items():
    path = os.path.join(work, f"{shape}.duckdb")
    marker = path + f".{gib}gib"
    if os.path.exists(marker):
        continue
    for stale in (path, path + ".wal"):
        if os.path.exists(stale):
            os.remove(stale)
    probe = duckdb.connect()
    probe.execute("ATTACH ':memory:' AS m")
    sample = os.path.join(work, "probe.duckdb")
    if os.path.exists(sample):
        os.remove(sample)
    con = duckdb.connect(sample)
    con.execute(f"CREATE TABLE t AS {select.format(rows=1_000_000)}")
    con.execute("CHECKPOINT")
    con.close()
    per_million = os.path.getsize(sample)
    os.remove(sample)
    rows = int(gib * 2**30 / per_million * 1_000_000)
    con = duckdb.connect(path)
    con.execute(f"CREATE TABLE {shape} AS {select.format(rows=rows)}")
    con.execute("CHECKPOINT")
    con.close()
    open(marker, "w").close()
    print(f"{shape}: {rows} rows, {os.path.getsize(path) / 2**30:.2f} GiB", file=sys.stderr)
PY

cat > "$work/copy_parts.py" <<'PY'
import sys, duckdb
db, out, table, part_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = duckdb.connect(db, read_only=True)
conn.execute(f"""COPY (SELECT * FROM "{table}") TO '{out}' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES {part_bytes})""")
PY

part_bytes=$((part_mib * 1024 * 1024))
# /usr/bin/time: wall seconds and peak RSS (KiB) of the command.
measure() { /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt"; exit 1; }; cat "$work/time.txt"; }
echo "database size ~${gib} GiB per shape, part size ${part_mib} MiB, $(nproc) cores"
echo "| shape | database | dbrelease time | dbrelease RSS | dbrelease bytes (files) | DuckDB $("$newest_py" -c 'import duckdb; print(duckdb.__version__)') COPY time | COPY RSS | COPY bytes (files) | size ratio | time ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
worst_size=0; worst_time=0
for shape in klines events logs; do
  db="$work/$shape.duckdb"
  printf '[dataset]\nname = "%s"\ndatabase = "%s"\n[export]\npart_size = %s\n' "$shape" "$db" "$part_bytes" > "$work/$shape.toml"
  rm -rf "$work/ours-$shape" "$work/copy-$shape"
  read -r our_s our_kb < <(measure "$steps" parquet-ours "$work/$shape.toml" "$db" "$work/ours-$shape")
  read -r copy_s copy_kb < <(measure "$newest_py" "$work/copy_parts.py" "$db" "$work/copy-$shape" "$shape" "$part_bytes")
  our_bytes=$(cat "$work/ours-$shape"/*.parquet | wc -c); our_files=$(ls "$work/ours-$shape"/*.parquet | wc -l)
  copy_bytes=$(cat "$work/copy-$shape"/*.parquet | wc -c); copy_files=$(ls "$work/copy-$shape"/*.parquet | wc -l)
  size_ratio=$(python3 -c "print(f'{$our_bytes / $copy_bytes:.3f}')")
  time_ratio=$(python3 -c "print(f'{$our_s / $copy_s:.3f}')")
  worst_size=$(python3 -c "print(max($worst_size, $size_ratio))")
  worst_time=$(python3 -c "print(max($worst_time, $time_ratio))")
  echo "| $shape | $(du -m "$db" | cut -f1) MiB | ${our_s} s | $((our_kb / 1024)) MiB | $((our_bytes / 1048576)) MiB ($our_files) | ${copy_s} s | $((copy_kb / 1024)) MiB | $((copy_bytes / 1048576)) MiB ($copy_files) | $size_ratio | $time_ratio |"
  rm -rf "$work/ours-$shape" "$work/copy-$shape"
done
echo
echo "worst shape: size ratio $worst_size, time ratio $worst_time (dbrelease / DuckDB COPY; dbrelease's time includes its read-back check and statistics)"
