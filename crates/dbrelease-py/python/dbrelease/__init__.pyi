import datetime
import os
import pathlib
from typing import Any, Literal, overload

__version__: str

class DbreleaseError(Exception): ...
class RemoteError(DbreleaseError): ...
class IntegrityError(DbreleaseError): ...
class OfflineError(DbreleaseError): ...
class CacheError(DbreleaseError): ...

_Path = str | os.PathLike[str]

@overload
def fetch(
    repo: str | None = None,
    *,
    tag: str = "latest",
    as_of: str | datetime.date | None = None,
    files: str | None = None,
    base_url: str | None = None,
    cache_dir: _Path | None = None,
    offline: bool = False,
    decompress: bool = False,
) -> pathlib.Path: ...
@overload
def fetch(
    repo: str | None = None,
    *,
    tag: str = "latest",
    as_of: str | datetime.date | None = None,
    files: list[str],
    base_url: str | None = None,
    cache_dir: _Path | None = None,
    offline: bool = False,
    decompress: bool = False,
) -> dict[str, pathlib.Path]: ...
def connect(
    repo: str | None = None,
    *,
    tag: str = "latest",
    as_of: str | datetime.date | None = None,
    base_url: str | None = None,
    cache_dir: _Path | None = None,
    offline: bool = False,
) -> Any: ...  # duckdb.DuckDBPyConnection
def versions(
    repo: str | None = None,
    *,
    base_url: str | None = None,
    cache_dir: _Path | None = None,
    offline: bool = False,
) -> list[dict[Literal["tag", "date", "prerelease", "cached"], Any]]: ...
def manifest(
    repo: str | None = None,
    *,
    tag: str = "latest",
    as_of: str | datetime.date | None = None,
    base_url: str | None = None,
    cache_dir: _Path | None = None,
    offline: bool = False,
) -> dict[str, Any]: ...
