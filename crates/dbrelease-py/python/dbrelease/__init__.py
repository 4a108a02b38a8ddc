"""Pinned, verified, cached data from dbrelease releases.

The same code as ``dbrelease fetch`` (the Rust crate ``dbrelease-remote``): every file is checked
against its release's manifest (size and sha256) before it is kept, downloads resume, and a cached
version is used without the network. The cache is the CLI's (``$XDG_CACHE_HOME/dbrelease``, else
``~/.cache/dbrelease``), so a file fetched by one is found by the other.

    import dbrelease
    con = dbrelease.connect("owner/data", tag="v1.2.0")          # needs dbrelease[duckdb]
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
    gzipped database. One name (or the default) returns a ``pathlib.Path``; a list returns a
    ``dict`` from artifact name to ``Path``. ``decompress=True`` gunzips the database into the
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
    if single:
        return pathlib.Path(pairs[0][1])
    return {name: pathlib.Path(path) for name, path in pairs}


def connect(
    repo=None,
    *,
    tag="latest",
    as_of=None,
    base_url=None,
    cache_dir=None,
    offline=False,
):
    """A read-only DuckDB connection on the release's database (downloaded, verified,
    decompressed and cached on first use). Needs DuckDB's Python package:
    ``pip install 'dbrelease[duckdb]'``."""
    try:
        import duckdb
    except ImportError as missing:
        raise DbreleaseError(
            "dbrelease.connect needs the duckdb package: pip install 'dbrelease[duckdb]' "
            "(or use dbrelease.fetch(..., decompress=True) for the file's path)"
        ) from missing
    path = fetch(
        repo,
        tag=tag,
        as_of=as_of,
        base_url=base_url,
        cache_dir=cache_dir,
        offline=offline,
        decompress=True,
    )
    return duckdb.connect(str(path), read_only=True)


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
