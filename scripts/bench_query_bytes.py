#!/usr/bin/env python3
"""Bytes a one-key query reads over HTTP from dbrelease's Parquet file and from DuckDB's.

Serves WORKDIR on loopback with Range support, counts the bytes sent per file, and runs the same
Polars query (`scan_parquet(url).filter(key == value).collect()`) against
`ours-<shape>/<table>.parquet` and `copy-<shape>/<table>.parquet` as scripts/bench_parquet.sh
wrote them. Prints a Markdown table.
"""

import http.server
import os
import sys
import threading

import polars as pl

# shape → (table, key column, value): a value in the middle of the data.
QUERIES = {
    "origin_schema": ("daily_availability", "date", "2022-06-01"),
    "low_card_floats": ("quotes", "day", "2020-12-01"),
    "random_doubles": ("measurements", "id", 1_234_567),
    "long_strings": ("pages", "id", 345_678),
    "nested": ("events", "id", 345_678),
    "sensors": ("readings", "seq", 777_777),
}

sent = {}


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_bytes(self, head):
        path = self.translate_path(self.path)
        size = os.path.getsize(path)
        start, end = 0, size - 1
        header = self.headers.get("Range")
        if header and header.startswith("bytes="):
            first, _, last = header[6:].partition("-")
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start = size - int(last)
        partial = header is not None
        self.send_response(206 if partial else 200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        with open(path, "rb") as file:
            file.seek(start)
            data = file.read(end - start + 1)
        sent[self.path] = sent.get(self.path, 0) + len(data)
        self.wfile.write(data)

    def do_GET(self):
        self.send_bytes(False)

    def do_HEAD(self):
        self.send_bytes(True)


def main():
    work = sys.argv[1]
    os.chdir(work)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    print("| shape | query | dbrelease file: bytes read | DuckDB file: bytes read | ratio |")
    print("|---|---|---:|---:|---:|")
    for shape, (table, key, value) in QUERIES.items():
        read = []
        for side in ("ours", "copy"):
            path = f"/{side}-{shape}/{table}.parquet"
            if not os.path.exists(work + path):
                break
            sent.pop(path, None)
            literal = pl.lit(value).str.to_date() if key in ("date", "day") else pl.lit(value)
            rows = pl.scan_parquet(base + path).filter(pl.col(key) == literal).collect().height
            read.append((sent.get(path, 0), rows))
        if len(read) == 2:
            (ours, ours_rows), (theirs, their_rows) = read
            assert ours_rows == their_rows, (shape, ours_rows, their_rows)
            print(f"| {shape} | {table}.{key} = {value} ({ours_rows} rows) | {ours:,} | {theirs:,} | {ours / theirs:.2f}× |")
    server.shutdown()


if __name__ == "__main__":
    main()
