"""Pinned, verified, cached data from dbrelease releases.

The same code as ``dbrelease fetch`` (the Rust crate ``dbrelease-remote``): every file is checked
against the release's manifest (size and sha256) before it is kept, downloads resume, and a
cached version is used without the network.

    >>> import dbrelease_data
    >>> db = dbrelease_data.get_db(repo="owner/data", tag="v1.2.0")   # a .duckdb path
    >>> files = dbrelease_data.fetch(repo="owner/data", assets=["all"])

Origins: ``repo="OWNER/NAME"`` (GitHub Releases; ``GITHUB_TOKEN`` is used when set, needed for
private repositories; ``GITHUB_API_URL`` for GitHub Enterprise) or ``base_url="https://…/prefix"``
(an S3 bucket or CDN holding ``versions.json`` and ``{tag}/{file}``). The cache is
``$XDG_CACHE_HOME/dbrelease`` (else ``~/.cache/dbrelease``) unless ``cache_dir`` is given.
"""

from ._dbrelease_data import (  # noqa: F401
    DbreleaseError,
    IntegrityError,
    RemoteError,
    __version__,
    fetch,
    list_versions,
)

__all__ = ["fetch", "get_db", "list_versions", "DbreleaseError", "IntegrityError", "RemoteError"]


def get_db(repo=None, *, base_url=None, tag="latest", cache_dir=None, offline=False):
    """The release's DuckDB database, downloaded, verified and decompressed into the cache.

    Returns the path of the ``.duckdb`` file (a ``pathlib.Path``). Open it read-only, e.g.
    ``duckdb.connect(str(path), read_only=True)``: the cached copy is checked again on the next
    call and replaced if it changed.
    """
    (path,) = fetch(
        repo,
        base_url=base_url,
        tag=tag,
        cache_dir=cache_dir,
        decompress=True,
        offline=offline,
    )
    return path
