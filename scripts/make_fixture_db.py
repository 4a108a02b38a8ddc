#!/usr/bin/env python3
"""Write a deterministic DuckDB database with the origin project's schema.

The committed fixture (`fixtures/binance_futures_availability.duckdb`) is written by
Python duckdb 1.4.x on purpose: it proves dbrelease reads what real users' DuckDB writes.
The same script makes the ~150 MB benchmark database (`--days 2500 --symbols 700`).

Values come from hash() of the row keys, so the same arguments give the same rows
on every machine (the file bytes may still differ between duckdb versions).
"""

import argparse
import os
import sys

import duckdb

SCHEMA = """
CREATE TABLE daily_availability (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    url VARCHAR NOT NULL,
    status_code INTEGER NOT NULL,
    probe_timestamp TIMESTAMP NOT NULL,
    quote_volume_usdt DOUBLE,
    volume_base DOUBLE,
    taker_buy_volume_base DOUBLE,
    taker_buy_quote_volume_usdt DOUBLE,
    open_price DOUBLE,
    high_price DOUBLE,
    low_price DOUBLE,
    close_price DOUBLE,
    trade_count BIGINT,
    PRIMARY KEY (date, symbol)
);
CREATE TABLE daily_symbol_counts (
    date DATE PRIMARY KEY,
    total_symbols INTEGER NOT NULL,
    available_symbols INTEGER NOT NULL,
    unavailable_symbols INTEGER NOT NULL,
    last_updated TIMESTAMP NOT NULL
);
"""

# One row per (day, symbol). A symbol "lists" on a pseudo-random day, so early dates have
# fewer symbols, like the real data; unavailable rows carry NULL market data.
FILL = """
INSERT INTO daily_availability
WITH days AS (
    SELECT (DATE '2019-09-08' + INTERVAL (d) DAY)::DATE AS date, d FROM range(?) t(d)
), syms AS (
    SELECT s, 'SYM' || lpad(s::VARCHAR, 4, '0') || 'USDT' AS symbol,
           (hash(s, 'listing') % ?)::INTEGER AS listed_day
    FROM range(?) t(s)
), grid AS (
    SELECT days.date, days.d, syms.symbol, syms.s,
           hash(days.d, syms.s) AS h
    FROM days JOIN syms ON days.d >= syms.listed_day
)
SELECT
    date,
    symbol,
    (h % 50) <> 0 AS available,
    CASE WHEN (h % 50) <> 0 THEN 20000 + (h % 3000000)::BIGINT END,
    CASE WHEN (h % 50) <> 0 THEN date + INTERVAL 1 DAY + INTERVAL ((h % 7200)::INTEGER) SECOND END,
    'https://data.binance.vision/data/futures/um/daily/klines/' || symbol || '/1m/'
        || symbol || '-1m-' || strftime(date, '%Y-%m-%d') || '.zip',
    CASE WHEN (h % 50) <> 0 THEN 200 ELSE 404 END,
    date + INTERVAL 2 DAY + INTERVAL ((h % 600)::INTEGER) SECOND,
    CASE WHEN (h % 50) <> 0 THEN ((h % 1000000000) / 100.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN ((h % 10000000) / 10.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN ((h % 5000000) / 10.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN ((h % 500000000) / 100.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN (1 + (h % 100000) / 1000.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN (1 + (h % 100000) / 1000.0 + (h % 977) / 1000.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN (1 + (h % 100000) / 1000.0 - (h % 613) / 10000.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN (1 + (h % 100000) / 1000.0 + (h % 331) / 10000.0)::DOUBLE END,
    CASE WHEN (h % 50) <> 0 THEN (h % 2000000)::BIGINT END
FROM grid
ORDER BY date, symbol
"""

COUNTS = """
INSERT INTO daily_symbol_counts
SELECT date,
       count(*)::INTEGER,
       count(*) FILTER (WHERE available)::INTEGER,
       count(*) FILTER (WHERE NOT available)::INTEGER,
       max(probe_timestamp)
FROM daily_availability GROUP BY date ORDER BY date
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="database file to (re)create")
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--symbols", type=int, default=25)
    args = parser.parse_args()

    for path in (args.out, args.out + ".wal"):
        if os.path.exists(path):
            os.remove(path)
    con = duckdb.connect(args.out)
    con.execute(SCHEMA)
    con.execute(FILL, [args.days, max(1, args.days // 2), args.symbols])
    con.execute(COUNTS)
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT count(*) FROM daily_availability").fetchone()[0]
    con.close()
    print(f"{args.out}: {rows} rows in daily_availability (duckdb {duckdb.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
