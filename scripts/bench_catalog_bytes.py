#!/usr/bin/env python3
"""Bytes one one-date query transfers over HTTP, four ways: the Parquet URL read directly,
`dbrelease.connect(remote=True)`, `ATTACH '…/catalog.duckdb'`, and ATTACHing the uncompressed
database — DuckDB 1.4.4 with httpfs (from the duckdb-ext-httpfs package) on every side.

Usage: bench_catalog_bytes.py DBRELEASE_BIN DATABASE WORKDIR DATE
Builds DATABASE with the repository's dbrelease.toml (sorted by date, symbol), the catalog
pointing at a loopback Range server over WORKDIR and the database also uncompressed; prints a
Markdown table. Needs the test virtualenv (duckdb 1.4.4, duckdb-ext-httpfs, dbrelease).
"""

import functools
import http.server
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import threading

import duckdb

import dbrelease

# The Range server of the Parquet byte benchmark, which counts the bytes sent per path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_query_bytes import RangeHandler, sent  # noqa: E402

BIN, DATABASE, WORK, DATE = sys.argv[1:5]
ROOT = pathlib.Path(__file__).resolve().parent.parent
TAG = "v1.0.0"


work = pathlib.Path(WORK)
work.mkdir(parents=True, exist_ok=True)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(work)))
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_address[1]}/data"
config = work / "dbrelease.toml"
config.write_text(
    re.sub(r'(?m)^database = .*$', f'database = "{os.path.abspath(DATABASE)}"', (ROOT / "dbrelease.toml").read_text())
    + f'\n[catalog]\nurl = "{base}/{{tag}}/"\n\n[database]\nuncompressed = true\n'
)
dist = work / "data" / TAG
subprocess.run([BIN, "-q", "build", "--tag", TAG, "--config", str(config), "--out", str(dist)], check=True, stdout=subprocess.DEVNULL)
HTTPFS = {
    "extension_directory": os.path.join(importlib.util.find_spec("duckdb_ext").submodule_search_locations[0], "extensions"),
    "autoinstall_known_extensions": False,
}
db_name = os.path.basename(DATABASE)
query = "SELECT count(*), sum(trade_count) FROM {} WHERE date = DATE '" + DATE + "'"


def direct():
    return duckdb.connect(config=HTTPFS).execute(query.format(f"read_parquet('{base}/{TAG}/daily_availability.parquet')")).fetchone()


def remote():
    con = dbrelease.connect(base_url=base, tag=TAG, remote=True, config=HTTPFS, cache_dir=work / "cache")
    return con.execute(query.format("daily_availability")).fetchone()


def attach(name):
    def run():
        con = duckdb.connect(config=HTTPFS)
        con.execute(f"ATTACH '{base}/{TAG}/{name}' AS d (READ_ONLY)")
        return con.execute(query.format("d.daily_availability")).fetchone()
    return run


ways = [
    ("Parquet URL, directly (`read_parquet('…/daily_availability.parquet')`)", direct),
    ("`dbrelease.connect(…, remote=True)`", remote),
    ("`ATTACH '…/catalog.duckdb'`", attach("catalog.duckdb")),
    (f"`ATTACH '…/{db_name}'` (uncompressed database)", attach(db_name)),
]
answers = set()
rows = []
for label, run in ways:
    sent.clear()
    answers.add(run())
    rows.append((label, sum(sent.values()), {pathlib.PurePosixPath(path).name: count for path, count in sent.items()}))
assert len(answers) == 1, answers
baseline = rows[0][1]
parquet_size = (dist / "daily_availability.parquet").stat().st_size
db_size = (dist / db_name).stat().st_size
print(f"one-date query `date = {DATE}` → {answers.pop()}; daily_availability.parquet {parquet_size:,} B, {db_name} {db_size:,} B\n")
print("| read through | bytes transferred | vs. Parquet URL | of which |")
print("|---|---:|---:|---|")
for label, total, parts in rows:
    detail = ", ".join(f"{name} {count:,}" for name, count in sorted(parts.items()))
    print(f"| {label} | {total:,} | {total / baseline:.2f}× | {detail} |")
print(f"\nuncompressed database: {rows[3][1] / db_size:.1%} of the file")
server.shutdown()
