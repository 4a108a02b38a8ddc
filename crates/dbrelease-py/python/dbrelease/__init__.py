"""Pinned, verified, cached data from dbrelease releases.

The same code as ``dbrelease fetch`` (the Rust crate ``dbrelease-remote``): every file is checked
against its release's manifest (size and sha256) before it is kept, downloads resume, and a cached
version is used without the network. The cache is the CLI's (``$XDG_CACHE_HOME/dbrelease``, else
``~/.cache/dbrelease``), so a file fetched by one is found by the other.

    import dbrelease
    con = dbrelease.connect("owner/data", tag="v1.2.0")          # needs dbrelease[duckdb]
    con = dbrelease.connect("owner/data", remote=True)           # nothing downloaded first
    lf = dbrelease.scan("owner/data", "daily_availability")      # a polars LazyFrame
    path = dbrelease.fetch("owner/data", tag="v1.2.0", files="daily_availability")

Origins: a GitHub repository ``"OWNER/NAME"`` (``GITHUB_TOKEN`` is used when set and is needed
for private repositories; ``GITHUB_API_URL`` for GitHub Enterprise), or ``base_url="https://…"``:
an S3 bucket or CDN prefix holding ``versions.json`` and ``{tag}/{file}``.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib

from . import _native
from ._native import (
    CacheError,
    DbreleaseError,
    IntegrityError,
    OfflineError,
    RemoteError,
    __version__,
)

__all__ = [
    "fetch",
    "connect",
    "scan",
    "urls",
    "versions",
    "manifest",
    "DbreleaseError",
    "RemoteError",
    "IntegrityError",
    "OfflineError",
    "CacheError",
    "__version__",
]


def _cache(cache_dir):
    return None if cache_dir is None else os.fspath(cache_dir)


def _as_of(tag, as_of):
    """``as_of`` as the ``YYYY-MM-DD`` text the native module parses."""
    if as_of is None:
        return None
    if tag != "latest":
        raise DbreleaseError("give tag= or as_of=, not both")
    if isinstance(as_of, datetime.datetime):
        raise DbreleaseError(
            "as_of is a day (UTC), not a time: pass datetime.date or \"YYYY-MM-DD\""
        )
    if isinstance(as_of, datetime.date):
        return as_of.isoformat()
    return str(as_of)


def fetch(
    repo=None,
    *,
    tag="latest",
    as_of=None,
    files=None,
    base_url=None,
    cache_dir=None,
    offline=False,
    decompress=False,
):
    """Downloads (or finds in the cache) files of one release, each verified against its manifest.

    ``files``: an artifact name (``"daily_availability.parquet"``), a table name
    (``"daily_availability"``), or a list of them (``["all"]`` for everything). Default: the
    gzipped database. One name (or the default) returns a ``pathlib.Path``; a list, or a table
    written in several Parquet files (``[export] part_size``), returns a ``dict`` from artifact
    name to ``Path``. ``decompress=True`` gunzips the database into the
    cache (checked against the manifest) and returns that path instead.

    ``as_of="2026-12-01"`` (or a ``datetime.date``) instead of ``tag``: the version that was
    the newest release at the end of that UTC day, resolved once and then cached like a pinned
    tag (works offline).
    """
    single = files is None or isinstance(files, str)
    wanted = [] if files is None else [files] if isinstance(files, str) else list(files)
    pairs = _native.fetch(
        repo, base_url, tag, _as_of(tag, as_of), wanted, _cache(cache_dir), decompress, offline
    )
    if single and len(pairs) == 1:
        return pathlib.Path(pairs[0][1])
    return {name: pathlib.Path(path) for name, path in pairs}


def _duckdb(what):
    try:
        import duckdb
    except ImportError as missing:
        raise DbreleaseError(
            f"dbrelease.{what} needs the duckdb package: pip install 'dbrelease[duckdb]' "
            "(or use dbrelease.fetch(..., decompress=True) for the file's path)"
        ) from missing
    return duckdb


def connect(
    repo=None,
    *,
    tag="latest",
    as_of=None,
    base_url=None,
    cache_dir=None,
    offline=False,
    remote=False,
    config=None,
):
    """A DuckDB connection on one version of the data. Needs DuckDB's Python package:
    ``pip install 'dbrelease[duckdb]'``.

    By default the release's database is downloaded, verified, decompressed and cached on
    first use, and opened read-only (works offline afterwards).

    ``remote=True`` downloads nothing first: the connection (in memory) has one view per
    table over that version's Parquet URLs, and a query transfers only the row groups and
    columns it needs (DuckDB's httpfs extension, which DuckDB loads by itself when it can).
    The version is resolved and its manifest checked exactly as for ``fetch``; the bytes a
    query reads in place are not hashed (use ``fetch`` for verified files). ``config`` is
    passed to ``duckdb.connect`` (e.g. ``{"extension_directory": …}``).
    """
    duckdb = _duckdb("connect")
    if not remote:
        path = fetch(
            repo,
            tag=tag,
            as_of=as_of,
            base_url=base_url,
            cache_dir=cache_dir,
            offline=offline,
            decompress=True,
        )
        return duckdb.connect(str(path), read_only=True, config=config or {})
    if offline:
        raise DbreleaseError("remote=True reads over the network: it cannot be offline")
    manifest_data, located = _located(repo, tag, as_of, base_url, cache_dir)
    con = duckdb.connect(config=config or {})
    for table, files in _tables(manifest_data):
        schema = _ident(table["schema"])
        if table["schema"] != "main":
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        sources = ", ".join(_literal(located[name]) for name in files)
        con.execute(
            f"CREATE VIEW {schema}.{_ident(table['name'])} AS "
            f"SELECT * FROM read_parquet([{sources}])"
        )
    return con


def _tables(manifest_data):
    """Each table once, in the manifest's order, with its Parquet file names: one, or the
    files of a table written in parts (``table_part``), which read as one table."""
    tables = []
    for artifact in manifest_data["artifacts"]:
        info = artifact.get("table")
        if artifact["kind"] != "table" or info is None:
            continue
        key = (info["schema"], info["name"])
        if artifact.get("table_part") and tables and tables[-1][0] == key:
            tables[-1][2].append(artifact["name"])
        else:
            tables.append((key, info, [artifact["name"]]))
    return [(info, files) for _key, info, files in tables]


def scan(
    repo=None,
    table=None,
    *,
    tag="latest",
    as_of=None,
    base_url=None,
    cache_dir=None,
):
    """A Polars ``LazyFrame`` over one table of one version, read in place over HTTP (only the
    row groups and columns a query needs). ``table`` is the table's name (``"trades"``,
    ``"other.trades"``) or its artifact's name. Needs ``pip install polars``."""
    try:
        import polars
    except ImportError as missing:
        raise DbreleaseError("dbrelease.scan needs the polars package: pip install polars") from missing
    if table is None:
        raise DbreleaseError("name the table to scan: dbrelease.scan(repo, \"table\")")
    manifest_data, located = _located(repo, tag, as_of, base_url, cache_dir)
    tables = _tables(manifest_data)
    for info, files in tables:
        if table in {info["name"], f"{info['schema']}.{info['name']}"}:
            return polars.scan_parquet([located[name] for name in files])
        if table in files:
            return polars.scan_parquet(located[table])
    known = ", ".join(info["name"] for info, _files in tables) or "none"
    raise DbreleaseError(
        f"version {manifest_data.get('tag')} has no table {table!r} (its tables: {known})"
    )


def urls(repo=None, *, tag="latest", as_of=None, base_url=None, cache_dir=None):
    """The public URL of every file of one version, by artifact name (for any client that
    reads over HTTP). The version is resolved and its manifest checked as for ``fetch``."""
    return _located(repo, tag, as_of, base_url, cache_dir)[1]


def _located(repo, tag, as_of, base_url, cache_dir):
    """The checked manifest of one version and its files' URLs."""
    _tag, path, pairs = _native.urls(repo, base_url, tag, _as_of(tag, as_of), _cache(cache_dir))
    return json.loads(pathlib.Path(path).read_text()), dict(pairs)


def _ident(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def versions(repo=None, *, base_url=None, cache_dir=None, offline=False):
    """The published versions, newest first: dicts with ``tag``, ``date``, ``prerelease`` and
    ``cached`` (its manifest is in the cache)."""
    return _native.versions(repo, base_url, _cache(cache_dir), offline)


def manifest(
    repo=None, *, tag="latest", as_of=None, base_url=None, cache_dir=None, offline=False
):
    """The release's ``manifest.json`` as plain Python data (every artifact's name, kind, size,
    sha256; tables' rows and columns). Cached like the files."""
    _tag, path = _native.manifest(
        repo, base_url, tag, _as_of(tag, as_of), _cache(cache_dir), offline
    )
    return json.loads(pathlib.Path(path).read_text())
