#!/usr/bin/env python3
"""Databases of different shapes for the Parquet benchmark (scripts/bench_parquet.sh), each
stressing another encoding choice. Deterministic (hash of the row number), written by the test
virtualenv's duckdb 1.4 so dbrelease's bundled DuckDB reads them.

  low_card_floats   prices and quantities with few distinct values (dictionary pays)
  random_doubles    high-cardinality doubles and timestamps (dictionary does not)
  long_strings      long near-unique URLs and short low-cardinality labels
  nested            LIST and STRUCT columns
  many_small        200 small tables
  sensors           held out: written after the encoding choices were tuned, and only
                    measured (timestamps in order, station names, 2-decimal readings, sparse
                    ids, flags, short JSON payloads)
  big_doubles       about 1 GB of doubles, for memory (only with --big)
"""

import argparse
import os

import duckdb

SHAPES = {
    "low_card_floats": """
        CREATE TABLE quotes AS SELECT
          range AS id,
          (hash(range) % 5000) / 100.0 AS price,
          CAST((hash(range * 7) % 200) AS FLOAT) / 4 AS qty,
          DATE '2020-01-01' + CAST(range // 2000 AS INTEGER) AS day
        FROM range(2000000);
    """,
    "random_doubles": """
        CREATE TABLE measurements AS SELECT
          range AS id,
          hash(range) / 18446744073709551615.0 AS x,
          (hash(range * 31) % 1000000007) * 1.000001 AS y,
          TIMESTAMP '2020-01-01' + to_microseconds(CAST(hash(range * 13) % 100000000000000 AS BIGINT)) AS at
        FROM range(2000000);
    """,
    "long_strings": """
        CREATE TABLE pages AS SELECT
          range AS id,
          'https://data.example.org/archive/' || md5(range::VARCHAR) || '/' || md5((range * 3)::VARCHAR) || '.csv.gz' AS url,
          ['alpha', 'beta', 'gamma', 'delta'][CAST(1 + hash(range) % 4 AS BIGINT)] AS label
        FROM range(500000);
    """,
    "sensors": """
        CREATE TABLE readings AS SELECT
          range AS seq,
          TIMESTAMP '2024-01-01' + to_seconds(range * 7) AS at,
          'station-' || lpad((hash(range // 1000) % 300)::VARCHAR, 3, '0') AS station,
          round(15 + 10 * sin(range / 5000.0) + (hash(range) % 1000) / 1000.0, 2) AS temperature,
          CASE WHEN hash(range * 3) % 20 = 0 THEN NULL ELSE CAST(hash(range * 5) % 100000 AS INTEGER) END AS reading_id,
          hash(range * 11) % 3 = 0 AS flagged,
          '{"q":' || (hash(range * 13) % 100)::VARCHAR || ',"src":"' || ['a', 'b', 'c'][CAST(1 + hash(range) % 3 AS BIGINT)] || '"}' AS payload
        FROM range(1500000);
    """,
    "nested": """
        CREATE TABLE events AS SELECT
          range AS id,
          [ 'tag' || (hash(range) % 20)::VARCHAR, 'tag' || (hash(range * 5) % 20)::VARCHAR ] AS tags,
          {'code': CAST(hash(range) % 50 AS INTEGER), 'source': 'src' || (hash(range * 3) % 10)::VARCHAR} AS origin
        FROM range(500000);
    """,
}


def many_small(conn):
    for index in range(200):
        conn.execute(
            f"CREATE TABLE small_{index:03d} AS SELECT range AS id, "
            f"'name ' || (hash(range + {index}) % 97)::VARCHAR AS name, "
            f"(hash(range * {index + 1}) % 10000) / 100.0 AS value FROM range(500)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the databases")
    parser.add_argument("--big", action="store_true", help="also the ~1 GB database")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    wanted = dict(SHAPES)
    if args.big:
        wanted["big_doubles"] = """
            CREATE TABLE readings AS SELECT
              range AS id,
              hash(range) / 18446744073709551615.0 AS a,
              hash(range * 3) / 18446744073709551615.0 AS b,
              hash(range * 5) / 18446744073709551615.0 AS c,
              hash(range * 7) / 18446744073709551615.0 AS d
            FROM range(38000000);
        """
    for name, sql in list(wanted.items()) + [("many_small", None)]:
        path = os.path.join(args.out, f"{name}.duckdb")
        if os.path.exists(path):
            continue
        conn = duckdb.connect(path + ".tmp")
        if sql is None:
            many_small(conn)
        else:
            conn.execute(sql)
        conn.execute("CHECKPOINT")
        conn.close()
        os.replace(path + ".tmp", path)
        print(f"{path}: {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
