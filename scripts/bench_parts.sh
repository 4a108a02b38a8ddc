#!/usr/bin/env bash
# Any size, measured: tables in parts, partitions, and publishing a large database, each side by
# side in one run with what a user would pick instead. Sections (BENCH_SECTIONS, default all):
#   parts       per shape at BENCH_GIB: `dbrelease build`'s Parquet with [export] part_size
#               against the newest DuckDB's `COPY … (FORMAT parquet, COMPRESSION zstd,
#               FILE_SIZE_BYTES …)`: wall time, peak RSS, bytes, files, ratios (worst shape last)
#   partitions  klines at BENCH_GIB with `partition_by = ["strftime(open_time, '%Y-%m')"]`
#               against `COPY … (PARTITION_BY (month))` of the same rows
#   github      klines at BENCH_PUBLISH_GIB, partitioned: `publish --github` to the GitHub fake,
#               `verify --github`, `fetch` of the table (every file) and of the database (parts
#               joined): time, RSS, bytes sent
#   s3          the same database: `publish --s3` to an s3s-fs server, `verify --s3`, then one
#               new day and a second version: bytes sent, files and bytes copied server-side
# Usage: scripts/bench_parts.sh [WORKDIR]
#   BENCH_GIB=10 (default 1): rows are scaled so each shape's table is about this many GiB of
#   DuckDB storage; BENCH_PART_MIB=256 (default): the part size of both writers in `parts`;
#   BENCH_SHAPES (default "klines events logs"): the shapes of `parts`; BENCH_RUNS (default 2):
#   runs of each writer in `parts` and `partitions`, the two alternating (ours first in odd runs,
#   DuckDB first in even ones), each started with the database read into the page cache; times
#   are the mean of the runs, RSS the largest;
#   BENCH_PUBLISH_GIB (default: BENCH_GIB): the database published. A 10 GiB klines database is
#   a 22 GiB release: the GitHub fake keeps it in files under WORKDIR (the build's copy is removed
#   once published), and S3's two versions need about 4.5 times the database on disk: size it to
#   the machine's disk.
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
publish_gib="${BENCH_PUBLISH_GIB:-$gib}"
want() { [[ " ${BENCH_SECTIONS:-parts partitions github s3} " == *" $1 "* ]]; }
mkdir -p "$work"
cargo build --release --quiet --bin dbrelease --example bench_steps --example github_fake_server --example s3_server
bin="$CARGO_TARGET_DIR/release/dbrelease"
# dbrelease's Parquet export of every table as `build` runs it (encode, sync, read back, stats),
# without the database's gzip, so both sides write the same thing.
steps="$CARGO_TARGET_DIR/release/examples/bench_steps"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test"
. scripts/venv.sh
writer_py="$(venv_for scripts/requirements-test.txt)/bin/python"   # duckdb 1.4: writes the shapes
newest_py="$(venv_for scripts/requirements-bench.txt)/bin/python"  # duckdb 2.0: the reference

# Rows per GiB of DuckDB storage, measured once per shape on 1 M rows of it.
# Usage: generate.py DIR GIB SHAPE... (DIR/SHAPE.duckdb, kept for the next run of that size).
cat > "$work/generate.py" <<'PY'
import os, sys, duckdb
# `generate.py append DB SHAPE ROWS`: the next ROWS rows of SHAPE, as if generated with them.
append = sys.argv[1] == "append"
if not append:
    work, gib, wanted = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    os.makedirs(work, exist_ok=True)
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
if append:
    path, shape, more = sys.argv[2], sys.argv[3], int(sys.argv[4])
    con = duckdb.connect(path)
    (rows,) = con.execute(f"SELECT count(*) FROM {shape}").fetchone()
    con.execute(f"INSERT INTO {shape} {shapes[shape].format(rows=f'{rows}, {rows + more}')}")
    con.execute("CHECKPOINT")
    sys.exit(0)
for shape in wanted:
    select = shapes[shape]
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
dbs="$work/${gib}gib"

cat > "$work/copy_parts.py" <<'PY'
import sys, duckdb
db, out, table, part_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = duckdb.connect(db, read_only=True)
conn.execute(f"""COPY (SELECT * FROM "{table}") TO '{out}' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES {part_bytes})""")
PY

part_bytes=$((part_mib * 1024 * 1024))
runs="${BENCH_RUNS:-2}"
# /usr/bin/time: wall seconds and peak RSS (KiB) of the command, then its CPU seconds (user +
# system); its stdout into $out if set.
measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" >"${out:-/dev/null}" 2>"$work/stderr.txt" || { cat "$work/stderr.txt"; exit 1; }
  read -r wall kb user sys < "$work/time.txt"
  echo "$wall $kb $(python3 -c "print(f'{$user + $sys:.1f}')")"
}
# Runs both writers BENCH_RUNS times, alternating which goes first, each with database $1 in the
# page cache (a writer run first on a database just generated would read it from disk and the
# other from memory). The writers are the commands `ours_cmd` and `copy_cmd` (arrays), writing
# into $ours_out and $copy_out, each emptied before its writer runs (the last runs' files stay,
# to be counted). Sets our_s, our_kb, our_cpu,
# copy_s, copy_kb, copy_cpu: mean wall and CPU seconds, largest RSS.
compare_writers() {
  local db="$1" run side t kb cpu
  local -A sum_s=() max_kb=() sum_cpu=()
  for run in $(seq "$runs"); do
    local order="ours copy"
    [ $((run % 2)) -eq 0 ] && order="copy ours"
    for side in $order; do
      cat "$db" > /dev/null
      if [ "$side" = ours ]; then
        rm -rf "$ours_out"; read -r t kb cpu < <(measure "${ours_cmd[@]}")
      else
        rm -rf "$copy_out"; read -r t kb cpu < <(measure "${copy_cmd[@]}")
      fi
      sum_s[$side]=$(python3 -c "print(${sum_s[$side]:-0} + $t)")
      sum_cpu[$side]=$(python3 -c "print(${sum_cpu[$side]:-0} + $cpu)")
      max_kb[$side]=$(( kb > ${max_kb[$side]:-0} ? kb : ${max_kb[$side]:-0} ))
    done
  done
  mean() { python3 -c "print(f'{$1 / $runs:.2f}')"; }
  our_s=$(mean "${sum_s[ours]}"); copy_s=$(mean "${sum_s[copy]}")
  our_cpu=$(mean "${sum_cpu[ours]}"); copy_cpu=$(mean "${sum_cpu[copy]}")
  our_kb=${max_kb[ours]}; copy_kb=${max_kb[copy]}
}
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
tree_bytes() { find "$1" -name '*.parquet' -print0 | xargs -0 cat | wc -c; }
tree_files() { find "$1" -name '*.parquet' | wc -l; }

if want parts; then
shapes="${BENCH_SHAPES:-klines events logs}"
# shellcheck disable=SC2086
"$writer_py" "$work/generate.py" "$dbs" "$gib" $shapes
echo "== parts =="
echo "database size ~${gib} GiB per shape, part size ${part_mib} MiB, $(nproc) cores, mean of $runs runs each"
echo "| shape | database | dbrelease time (CPU) | dbrelease RSS | DuckDB scan RSS | dbrelease bytes (files) | DuckDB $("$newest_py" -c 'import duckdb; print(duckdb.__version__)') COPY time (CPU) | COPY RSS | COPY bytes (files) | size ratio | time ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
worst_size=0; worst_time=0
for shape in $shapes; do
  db="$dbs/$shape.duckdb"
  printf '[dataset]\nname = "%s"\ndatabase = "%s"\n[export]\npart_size = %s\n' "$shape" "$db" "$part_bytes" > "$work/$shape.toml"
  ours_out="$work/ours-$shape"; copy_out="$work/copy-$shape"
  ours_cmd=("$steps" parquet-ours "$work/$shape.toml" "$db" "$ours_out")
  copy_cmd=("$newest_py" "$work/copy_parts.py" "$db" "$copy_out" "$shape" "$part_bytes")
  compare_writers "$db"
  # What of our memory is DuckDB's own scan of the table (its metadata grows with the database).
  read -r _ scan_kb _ < <(measure "$steps" scan-only "$work/$shape.toml" "$db" "$work/scan-$shape")
  rm -rf "$work/scan-$shape"
  our_bytes=$(cat "$ours_out"/*.parquet | wc -c); our_files=$(ls "$ours_out"/*.parquet | wc -l)
  copy_bytes=$(cat "$copy_out"/*.parquet | wc -c); copy_files=$(ls "$copy_out"/*.parquet | wc -l)
  size_ratio=$(ratio "$our_bytes" "$copy_bytes")
  time_ratio=$(ratio "$our_s" "$copy_s")
  worst_size=$(python3 -c "print(max($worst_size, $size_ratio))")
  worst_time=$(python3 -c "print(max($worst_time, $time_ratio))")
  echo "| $shape | $(du -m "$db" | cut -f1) MiB | ${our_s} s (${our_cpu} s) | $((our_kb / 1024)) MiB | $((scan_kb / 1024)) MiB | $((our_bytes / 1048576)) MiB ($our_files) | ${copy_s} s (${copy_cpu} s) | $((copy_kb / 1024)) MiB | $((copy_bytes / 1048576)) MiB ($copy_files) | $size_ratio | $time_ratio |"
  rm -rf "$ours_out" "$copy_out"
done
echo
echo "worst shape: size ratio $worst_size, time ratio $worst_time (dbrelease / DuckDB COPY; dbrelease's time includes its read-back check and statistics)"
# Only klines is used again: the disk goes to the publish sections.
rm -f "$dbs"/events.duckdb* "$dbs"/logs.duckdb*
fi

month="strftime(open_time, '%Y-%m')"

if want partitions; then
"$writer_py" "$work/generate.py" "$dbs" "$gib" klines
db="$dbs/klines.duckdb"
echo; echo "== partitions: klines (~${gib} GiB) by month =="
printf '[dataset]\nname = "klines"\ndatabase = "%s"\n[export.tables.klines]\npartition_by = ["%s"]\n' "$db" "$month" \
  > "$work/klines-partitioned.toml"
cat > "$work/copy_partitions.py" <<'PY'
import sys, duckdb
db, out = sys.argv[1], sys.argv[2]
conn = duckdb.connect(db, read_only=True)
conn.execute(f"""COPY (SELECT *, strftime(open_time, '%Y-%m') AS month FROM klines) TO '{out}'
  (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (month))""")
PY
ours_out="$work/ours-partitions"; copy_out="$work/copy-partitions"
ours_cmd=("$steps" parquet-ours "$work/klines-partitioned.toml" "$db" "$ours_out")
copy_cmd=("$newest_py" "$work/copy_partitions.py" "$db" "$copy_out")
compare_writers "$db"
our_bytes=$(tree_bytes "$ours_out"); copy_bytes=$(tree_bytes "$copy_out")
echo "mean of $runs runs each"
echo "| writer | time (CPU) | RSS | bytes (files) |"
echo "|---|---:|---:|---:|"
echo "| dbrelease partition_by | ${our_s} s (${our_cpu} s) | $((our_kb / 1024)) MiB | $((our_bytes / 1048576)) MiB ($(tree_files "$ours_out")) |"
echo "| DuckDB COPY PARTITION_BY | ${copy_s} s (${copy_cpu} s) | $((copy_kb / 1024)) MiB | $((copy_bytes / 1048576)) MiB ($(tree_files "$copy_out")) |"
echo "size ratio $(ratio "$our_bytes" "$copy_bytes"), time ratio $(ratio "$our_s" "$copy_s") (DuckDB's files leave out the month column, which Hive paths carry)"
rm -rf "$work/ours-partitions" "$work/copy-partitions"
fi

# The database the publish sections release: klines by month, at BENCH_PUBLISH_GIB.
publish_dbs="$work/${publish_gib}gib"
pdb="$publish_dbs/klines.duckdb"
publish_config() {
  printf '[dataset]\nname = "klines"\ndatabase = "%s"\n[export.tables.klines]\npartition_by = ["%s"]\n%s\n' \
    "$pdb" "$month" "$1"
}
# Bytes a publish report says were sent to target $2 (github | s3).
sent() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[sys.argv[2]]; print(sum(a["bytes"] for a in r["assets"]))' "$1" "$2"; }
release_bytes() { python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(sum(a["bytes"] for a in m["artifacts"]), len(m["artifacts"]))' "$1/manifest.json"; }

if want github; then
"$writer_py" "$work/generate.py" "$publish_dbs" "$publish_gib" klines
echo; echo "== github: klines (~${publish_gib} GiB database) to the GitHub fake on loopback =="
rm -rf "$work/gh-spool"
"$CARGO_TARGET_DIR/release/examples/github_fake_server" owner data bench-token "$work/gh-spool" > "$work/fake.url" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/fake.url" ] && break; sleep 0.1; done
export GITHUB_API_URL; GITHUB_API_URL="$(cat "$work/fake.url")"
publish_config "[github]
repo = \"owner/data\"" > "$work/github.toml"
rm -rf "$work/gh-dist" "$work/gh-cache"
read -r pub_s pub_kb _ < <(out="$work/gh-report.json" measure env GITHUB_TOKEN=bench-token SOURCE_DATE_EPOCH=1700000000 \
  "$bin" --quiet publish --github --tag v1 --config "$work/github.toml" --out "$work/gh-dist" --json)
read -r rel_bytes rel_files < <(release_bytes "$work/gh-dist")
# The fake has its own copy; the disk is needed for the fetches.
rm -rf "$work/gh-dist"
read -r ver_s ver_kb _ < <(measure env GITHUB_TOKEN=bench-token "$bin" --quiet verify --github --repo owner/data --tag v1)
fetch="$bin --quiet fetch --repo owner/data --tag v1 --cache-dir $work/gh-cache"
read -r tab_s tab_kb _ < <(measure $fetch klines)
rm -rf "$work/gh-cache"
read -r gz_s gz_kb _ < <(measure $fetch)
echo "| step | time | peak RSS | bytes |"
echo "|---|---:|---:|---:|"
echo "| build + publish --github ($rel_files files) | ${pub_s} s | $((pub_kb / 1024)) MiB | $(( $(sent "$work/gh-report.json" github) / 1048576 )) MiB sent of $((rel_bytes / 1048576)) MiB |"
echo "| verify --github (every file streamed and hashed) | ${ver_s} s | $((ver_kb / 1024)) MiB | |"
echo "| fetch klines (every partition, verified) | ${tab_s} s | $((tab_kb / 1024)) MiB | |"
echo "| fetch the database (parts joined, verified) | ${gz_s} s | $((gz_kb / 1024)) MiB | |"
kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true
rm -rf "$work/gh-dist" "$work/gh-cache" "$work/gh-spool"
fi

if want s3; then
"$writer_py" "$work/generate.py" "$publish_dbs" "$publish_gib" klines
echo; echo "== s3: klines (~${publish_gib} GiB database) to an s3s-fs server on loopback, then one new day =="
# s3s-fs keeps its objects under TMPDIR: here, removed at the end.
rm -rf "$work/s3-store"; mkdir -p "$work/s3-store"
TMPDIR="$work/s3-store" "$CARGO_TARGET_DIR/release/examples/s3_server" bench > "$work/s3.url" &
s3_pid=$!
for _ in $(seq 50); do [ -s "$work/s3.url" ] && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=AKIDDBRELEASETEST AWS_SECRET_ACCESS_KEY=dbrelease-test-secret-key
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent
publish_config "[s3]
bucket = \"bench\"
prefix = \"klines\"
endpoint = \"$(cat "$work/s3.url")\"
latest = false" > "$work/s3.toml"
rm -rf "$work/s3-dist"
s3_publish() { measure env SOURCE_DATE_EPOCH="$2" "$bin" --quiet publish --s3 --tag "$1" --config "$work/s3.toml" --out "$work/s3-dist" --json; }
read -r one_s one_kb _ < <(out="$work/s3-v1.json" s3_publish v1 1700000000)
read -r rel_bytes rel_files < <(release_bytes "$work/s3-dist")
read -r ver_s ver_kb _ < <(measure "$bin" --quiet verify --s3 --config "$work/s3.toml" --tag v1)
# One new day: 400 symbols x 1440 minutes after the last bar. The database changes, so the next
# run of this size generates it again.
"$writer_py" "$work/generate.py" append "$pdb" klines 576000
rm -f "$pdb.${publish_gib}gib"
read -r two_s two_kb _ < <(out="$work/s3-v2.json" s3_publish v2 1700086400)
python3 - "$work/s3-v2.json" "$work/s3-dist/manifest.json" <<'PY'
import json, sys
report, manifest = json.load(open(sys.argv[1]))["s3"], json.load(open(sys.argv[2]))
sent = {a["name"].rsplit("/", 1)[-1]: a["bytes"] for a in report["assets"] if a["action"] == "upload"}
kinds = {a["name"]: a["kind"] for a in manifest["artifacts"]}
table = sum(a["bytes"] for a in manifest["artifacts"] if a["kind"] == "table")
changed = [n for n in sent if kinds.get(n) == "table"]
new_parts = sum(sent[n] for n in changed)
database = sum(b for n, b in sent.items() if kinds.get(n) == "database")
rest = sum(sent.values()) - new_parts - database
mib = lambda b: f"{b / 2**20:.0f} MiB"
print(f"second version: sent {mib(sum(sent.values()))}: changed partitions {mib(new_parts)} "
      f"({', '.join(changed)}) of a {mib(table)} table, "
      f"the database {mib(database)}, metadata {rest / 1024:.0f} KiB; copied server-side: "
      f"{report['copied']['files']} files, {mib(report['copied']['bytes'])}")
PY
echo "| step | time | peak RSS | sent |"
echo "|---|---:|---:|---:|"
echo "| build + publish --s3, first version ($rel_files files, $((rel_bytes / 1048576)) MiB) | ${one_s} s | $((one_kb / 1024)) MiB | $(( $(sent "$work/s3-v1.json" s3) / 1048576 )) MiB |"
echo "| verify --s3 | ${ver_s} s | $((ver_kb / 1024)) MiB | |"
echo "| build + publish --s3, one new day | ${two_s} s | $((two_kb / 1024)) MiB | $(( $(sent "$work/s3-v2.json" s3) / 1048576 )) MiB |"
kill "$s3_pid"; wait "$s3_pid" 2>/dev/null || true
rm -rf "$work/s3-dist" "$work/s3-store"
fi
