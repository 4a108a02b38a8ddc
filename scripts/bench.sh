#!/usr/bin/env bash
# Benchmarks of `dbrelease build` on a ~150 MB database, side by side with the tools it replaces.
# Usage: scripts/bench.sh [WORKDIR]   (needs python3 + duckdb 1.4, pigz, hyperfine, /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
work="${1:-${TMPDIR:-/tmp}/dbrelease-bench}"
mkdir -p "$work"
db="$work/bench.duckdb"
runs="${BENCH_RUNS:-3}"

if [ ! -f "$db" ]; then
  python3 scripts/make_fixture_db.py --out "$db" --days 2500 --symbols 700
fi
# Build everything first, in the caller's environment: cc's build scripts track variables such
# as SOURCE_DATE_EPOCH, and exporting one before a cargo call recompiles DuckDB (25 minutes).
cargo build --release --quiet --bin dbrelease --example bench_steps --example github_fake_server --example s3_server
bin="$CARGO_TARGET_DIR/release/dbrelease"
steps="$CARGO_TARGET_DIR/release/examples/bench_steps"
config="$PWD/dbrelease.toml"
echo "database: $db ($(du -m "$db" | cut -f1) MiB), $(nproc) cores"
# BENCH_SECTIONS="build github s3 fetch faults" (default: all) picks what runs.
want() { [[ " ${BENCH_SECTIONS:-build github s3 fetch faults} " == *" $1 "* ]]; }
if [ ! -f "$work/big.bin" ]; then head -c 1073741824 /dev/urandom > "$work/big.bin"; fi
fake_pid="" 
if want build; then
echo; echo "== Parquet export: dbrelease vs DuckDB COPY (same SELECT, zstd) =="
hyperfine --runs "$runs" --export-markdown "$work/parquet.md" \
  -n dbrelease "$steps parquet-ours $config $db $work/pq-ours" \
  -n "duckdb COPY" "$steps parquet-duckdb $config $db $work/pq-duckdb"
du -b "$work"/pq-ours/*.parquet "$work"/pq-duckdb/*.parquet

echo; echo "== gzip of the database: dbrelease vs gzip -6 vs pigz -p 2 -6 =="
hyperfine --runs "$runs" --export-markdown "$work/gzip.md" \
  -n dbrelease "$steps gzip-ours $db $work/ours.gz" \
  -n "gzip -6" "gzip -6 -c $db > $work/gzip.gz" \
  -n "pigz -p 2 -6" "pigz -p 2 -6 -c $db > $work/pigz.gz"
du -b "$work"/ours.gz "$work"/gzip.gz "$work"/pigz.gz

# What the origin project's workflow does today, plus the checksums it lacks.
cat > "$work/naive.sh" <<NAIVE
set -e
rm -rf "$work/naive" && mkdir -p "$work/naive"
python3 - <<PY
import duckdb
con = duckdb.connect("$db", read_only=True)
for (name,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
    con.execute(f"COPY (SELECT * FROM \"{name}\") TO '$work/naive/{name}.parquet' (FORMAT parquet, COMPRESSION zstd)")
PY
gzip -c "$db" > "$work/naive/bench.duckdb.gz"
cd "$work/naive" && sha256sum * > SHA256SUMS
NAIVE

echo; echo "== whole build: dbrelease build vs the naive script (COPY each table, gzip -c, sha256sum) =="
hyperfine --runs "$runs" --export-markdown "$work/build.md" \
  -n "dbrelease build" "$bin --quiet build --config $config --db $db --out $work/dist" \
  -n "naive script" "bash $work/naive.sh"

echo; echo "== peak RSS of dbrelease build =="
/usr/bin/time -v "$bin" --quiet build --config "$config" --db "$db" --out "$work/dist" 2>&1 >/dev/null \
  | grep -E "Maximum resident|Elapsed"

fi

if want github; then
echo; echo "== publish --github to the GitHub fake on loopback =="
fake_out="$work/fake.url"
"$CARGO_TARGET_DIR/release/examples/github_fake_server" owner data bench-token > "$fake_out" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$fake_out" ] && break; sleep 0.1; done
export GITHUB_API_URL="$(cat "$fake_out")" GITHUB_TOKEN=bench-token SOURCE_DATE_EPOCH=1700000000
publish="$bin --quiet publish --github --repo owner/data"
$publish --tag v1.0.0 --config "$config" --out "$work/gh-dist" >/dev/null
hyperfine --runs 5 --export-markdown "$work/noop.md" \
  -n "no-op republish of the fixture release" "$publish --tag v1.0.0 --config $config --out $work/gh-dist"

cat > "$work/big.toml" <<TOML
[dataset]
name = "bench"
database = "$PWD/fixtures/binance_futures_availability.duckdb"
[[files]]
path = "big.bin"
TOML
/usr/bin/time -v $publish --tag v-big --config "$work/big.toml" --out "$work/big-dist" --json \
  > "$work/big.json" 2> "$work/big.time"
python3 - "$work/big.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["github"]
big = next(a for a in report["assets"] if a["name"] == "big.bin")
print(f"1 GiB asset upload: {big['seconds']:.2f} s, {big['bytes'] / big['seconds'] / 2**20:.0f} MiB/s")
PY
grep -E "Maximum resident|Elapsed" "$work/big.time"

fi

if want s3; then
echo; echo "== publish --s3 to an s3s-fs server on loopback vs aws s3 cp (awscli from PyPI) =="
s3_out="$work/s3.url"
"$CARGO_TARGET_DIR/release/examples/s3_server" bench > "$s3_out" &
s3_pid=$!
for _ in $(seq 50); do [ -s "$s3_out" ] && break; sleep 0.1; done
s3url="$(cat "$s3_out")"
export AWS_ACCESS_KEY_ID=AKIDDBRELEASETEST AWS_SECRET_ACCESS_KEY=dbrelease-test-secret-key
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent
head -c 268435456 "$work/big.bin" > "$work/quarter.bin"
for size in quarter big; do
  cat > "$work/s3-$size.toml" <<TOML
[dataset]
name = "bench"
database = "$PWD/fixtures/binance_futures_availability.duckdb"
[s3]
bucket = "bench"
prefix = "p"
endpoint = "$s3url"
latest = false
[[files]]
path = "$size.bin"
TOML
done
for run in 1 2 3; do
  /usr/bin/time -v "$bin" --quiet publish --s3 --tag "v$run" --config "$work/s3-big.toml" --out "$work/s3-dist" --json \
    > "$work/s3-$run.json" 2> "$work/s3-$run.time"
  python3 - "$work/s3-$run.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["s3"]
big = next(a for a in report["assets"] if a["name"].endswith("big.bin"))
print(f"dbrelease S3 upload of 1 GiB: {big['seconds']:.2f} s ({big['bytes'] / big['seconds'] / 2**20:.0f} MiB/s)")
PY
  grep "Maximum resident" "$work/s3-$run.time"
  start=$(date +%s.%N)
  aws --endpoint-url "$s3url" s3 cp --quiet "$work/big.bin" "s3://bench/awscli/big-$run.bin"
  end=$(date +%s.%N)
  echo "aws s3 cp of 1 GiB: $(echo "$end - $start" | bc) s"
done
/usr/bin/time -v "$bin" --quiet publish --s3 --tag v-quarter --config "$work/s3-quarter.toml" --out "$work/s3-qdist" \
  > /dev/null 2> "$work/s3-quarter.time"
echo "peak RSS with a 256 MiB file: $(grep "Maximum resident" "$work/s3-quarter.time")"
fi

if want fetch; then
echo; echo "== fetch and verify the benchmark release from the GitHub fake on loopback =="
fetch_out="$work/fetch-fake.url"
"$CARGO_TARGET_DIR/release/examples/github_fake_server" owner data bench-token > "$fetch_out" &
fetch_pid=$!
for _ in $(seq 50); do [ -s "$fetch_out" ] && break; sleep 0.1; done
api="$(cat "$fetch_out")"
GITHUB_API_URL="$api" GITHUB_TOKEN=bench-token "$bin" --quiet publish --github --repo owner/data \
  --tag v-fetch --config "$config" --db "$db" --out "$work/fetch-dist" >/dev/null
urls="$(curl -fsS "$api/repos/owner/data/releases/tags/v-fetch" | python3 -c 'import json,sys; print(" ".join(a["browser_download_url"] for a in json.load(sys.stdin)["assets"] if a["name"].endswith((".parquet", ".gz"))))')"
cat > "$work/curl-fetch.sh" <<CURL
set -e
rm -rf "$work/curl" && mkdir -p "$work/curl" && cd "$work/curl"
for url in $urls; do curl -fsSL -O "\$url"; done
curl -fsSL -O "$api/owner/data/releases/download/v-fetch/SHA256SUMS"
sha256sum --quiet --check --ignore-missing SHA256SUMS
CURL
fetch="env -u GITHUB_TOKEN GITHUB_API_URL=$api $bin --quiet fetch --repo owner/data --cache-dir $work/fetch-cache"
hyperfine --runs "$runs" --export-markdown "$work/fetch.md" \
  --prepare "rm -rf $work/fetch-cache" -n "dbrelease fetch all (cold cache)" "$fetch --tag v-fetch all" \
  -n "curl each file + sha256sum --check" "bash $work/curl-fetch.sh"
$fetch --tag v-fetch all > /dev/null
hyperfine --runs 10 --export-markdown "$work/fetch-warm.md" \
  -n "fetch pinned, cached (no network)" "$fetch --tag v-fetch all" \
  -n "fetch latest, cached (one conditional request)" "$fetch all"
rm -rf "$work/fetch-cache"
/usr/bin/time -v $fetch --tag v-fetch all 2>&1 >/dev/null | grep -E "Maximum resident|Elapsed"
hyperfine --runs "$runs" -n "verify --github (streams and hashes every file)" \
  "env GITHUB_API_URL=$api $bin --quiet verify --github --repo owner/data --tag v-fetch"
kill "$fetch_pid"
fi

if want faults; then
echo; echo "== Randomized faults and SIGKILLs against the GitHub fake (1000 schedules) =="
# The test suite runs 300 of the same schedules; here the full 1000 (seeds 1..1000).
report=$(mktemp)
DBRELEASE_FAULT_SCHEDULES=1000 DBRELEASE_FAULT_REPORT="$report" \
  cargo test --release --quiet -p dbrelease --test publish_github -- random_faults_and_kills_never_tear_a_release
cat "$report"; rm -f "$report"
fi
