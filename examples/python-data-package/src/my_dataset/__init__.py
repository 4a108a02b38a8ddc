"""Binance futures data availability: every version pinned, verified and cached by dbrelease."""

import dbrelease

REPO = "dbrelease/example-data"  # where the data's releases are


def get_db(tag="latest", **options):
    """Path of the verified, decompressed database (downloaded once, then cached)."""
    return dbrelease.fetch(REPO, tag=tag, decompress=True, **options)


def connect(tag="latest", **options):
    """DuckDB on that version: downloaded and read-only, or `remote=True` to read in place."""
    return dbrelease.connect(REPO, tag=tag, **options)


def versions(**options):
    """Every published version, newest first."""
    return dbrelease.versions(REPO, **options)
