#!/usr/bin/env bash
# Parquet export across data shapes, side by side with the newest DuckDB's `COPY … (FORMAT
# parquet, COMPRESSION zstd)` of the same tables: size, time, the bytes a one-key remote query
# reads (Polars over HTTP ranges), and peak memory of a whole build.
# Usage: scripts/bench_parquet.sh [WORKDIR]   (BENCH_BIG=1 adds the ~1 GB database; BENCH_RUNS=5)
# Shapes: the origin-schema benchmark database (scripts/make_fixture_db.py), the committed
# fixture, and the generated ones of scripts/make_shape_dbs.py. Default options, no sort keys.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
work="${1:-${TMPDIR:-/tmp}/dbrelease-bench}"
mkdir -p "$work/shapes"
cargo build --release --quiet --bin dbrelease --example bench_steps
bin="$CARGO_TARGET_DIR/release/dbrelease"
steps="$CARGO_TARGET_DIR/release/examples/bench_steps"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test"
. scripts/venv.sh
writer_py="$(venv_for scripts/requirements-test.txt)/bin/python"   # duckdb 1.4: writes the shapes
newest_py="$(venv_for scripts/requirements-bench.txt)/bin/python"  # duckdb 2.0: the reference
[ -f "$work/bench.duckdb" ] || "$writer_py" scripts/make_fixture_db.py --out "$work/bench.duckdb" --days 2500 --symbols 700
cp -n fixtures/binance_futures_availability.duckdb "$work/shapes/fixture.duckdb" 2>/dev/null || true
ln -sf "$work/bench.duckdb" "$work/shapes/origin_schema.duckdb"
"$writer_py" scripts/make_shape_dbs.py --out "$work/shapes" ${BENCH_BIG:+--big}

# Times: hyperfine, the two writers alternating in one run, mean of BENCH_RUNS (default 5)
# after a warm-up; the COPY side includes Python's start and `import duckdb`.
runs="${BENCH_RUNS:-5}"
cat > "$work/copy_all.py" <<'PY'
import sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
for schema, table in conn.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal").fetchall():
    conn.execute(f"""COPY (SELECT * FROM "{schema}"."{table}") TO '{sys.argv[2]}/{table}.parquet' (FORMAT parquet, COMPRESSION zstd)""")
PY
mean() { "$newest_py" -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"])' "$@"; }
echo "| shape | database | dbrelease size | DuckDB $("$newest_py" -c 'import duckdb; print(duckdb.__version__)') COPY size | size ratio | dbrelease time | COPY time | time ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for db in "$work"/shapes/*.duckdb; do
  shape=$(basename "$db" .duckdb)
  [ "$shape" = big_doubles ] && continue
  printf '[dataset]\nname = "%s"\ndatabase = "%s"\n' "$shape" "$db" > "$work/$shape.toml"
  # Each side starts from an empty folder, and keeps its files for the sizes below.
  for side in ours copy; do
    printf 'rm -rf "%s"; mkdir -p "%s"\n' "$work/$side-$shape" "$work/$side-$shape" > "$work/prepare-$side-$shape.sh"
  done
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/time-$shape.json" \
    -p "bash $work/prepare-ours-$shape.sh" -p "bash $work/prepare-copy-$shape.sh" \
    "$steps parquet-ours $work/$shape.toml $db $work/ours-$shape" \
    "$newest_py -I $work/copy_all.py $db $work/copy-$shape" > /dev/null 2> "$work/hyperfine-$shape.log"
  ours_s=$(mean "$work/time-$shape.json" 0)
  copy_s=$(mean "$work/time-$shape.json" 1)
  ours_b=$(du -cb "$work/ours-$shape"/*.parquet | tail -1 | cut -f1)
  copy_b=$(du -cb "$work/copy-$shape"/*.parquet | tail -1 | cut -f1)
  awk -v s="$shape" -v db="$(du -Lm "$db" | cut -f1) MiB" -v ob="$ours_b" -v cb="$copy_b" -v os="$ours_s" -v cs="$copy_s" \
    'BEGIN { printf "| %s | %s | %d | %d | %.3f× | %.2f s | %.2f s | %.2f× |\n", s, db, ob, cb, ob / cb, os, cs, os / cs }'
done

echo
echo "A one-key query with Polars over HTTP ranges, on each side's file:"
"$newest_py" scripts/bench_query_bytes.py "$work"

echo
echo "peak RSS of a whole \`dbrelease build\` (no config: every table, default options):"
for db in "$work/bench.duckdb" ${BENCH_BIG:+"$work/shapes/big_doubles.duckdb"}; do
  rm -rf "$work/rss-out"
  # From the work folder: in the repository, ./dbrelease.toml would be read too.
  rss=$(cd "$work" && /usr/bin/time -f %M "$bin" --quiet build --db "$db" --out "$work/rss-out" 2>&1 >/dev/null | tail -1)
  echo "  $(basename "$db"): $(du -Lm "$db" | cut -f1) MiB database → $((rss / 1024)) MiB peak RSS"
done
