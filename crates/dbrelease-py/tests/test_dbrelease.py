"""The `dbrelease` Python package as a data user meets it: against the loopback GitHub fake (the
test suite's, as a server) and a static HTTP server, with the release built by the CLI.

Run by scripts/test.sh after it builds and installs the wheel. Environment: REPO_ROOT (the
checkout), DBRELEASE_BIN (the CLI), DBRELEASE_FAKE_BIN (examples/github_fake_server).
"""

import functools
import hashlib
import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import threading

import pytest

import dbrelease

ROOT = pathlib.Path(os.environ["REPO_ROOT"])
CLI = os.environ["DBRELEASE_BIN"]
TAG = "v1.0.0"
TOKEN = "ghs_pyTestT0ken0123456789"
FIXTURE = ROOT / "fixtures/binance_futures_availability.duckdb"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def cli(*args, env=None):
    return subprocess.run(
        [CLI, "-q", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000", **(env or {})},
    )


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A URL origin: the release under {base}/{tag}/, served by a static server."""
    root = tmp_path_factory.mktemp("site")
    cli("build", "--tag", TAG, "--config", str(ROOT / "dbrelease.toml"), "--out", str(root / "data" / TAG))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"base": f"http://127.0.0.1:{server.server_address[1]}/data", "root": root / "data"}
    server.shutdown()


@pytest.fixture(scope="session")
def github(tmp_path_factory):
    """The GitHub fake holding owner/data v1.0.0, published by the CLI."""
    fake = subprocess.Popen(
        [os.environ["DBRELEASE_FAKE_BIN"], "owner", "data", TOKEN], stdout=subprocess.PIPE, text=True
    )
    api = fake.stdout.readline().strip()
    out = tmp_path_factory.mktemp("dist")
    cli(
        "publish", "--github", "--repo", "owner/data", "--tag", TAG,
        "--config", str(ROOT / "dbrelease.toml"), "--out", str(out),
        env={"GITHUB_API_URL": api, "GITHUB_TOKEN": TOKEN},
    )
    yield api
    fake.kill()
    fake.wait()


@pytest.fixture
def env(github, tmp_path, monkeypatch):
    """A user's environment: the fake as GitHub's API, no token, a fresh XDG cache."""
    monkeypatch.setenv("GITHUB_API_URL", github)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_the_readme_example_runs_as_written(env):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Python: `import dbrelease`", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["rows"] == 720


def test_fetch_returns_the_verified_file_and_a_dict_for_several(env):
    path = dbrelease.fetch("owner/data", tag=TAG)
    manifest = dbrelease.manifest("owner/data", tag=TAG)
    database = next(a for a in manifest["artifacts"] if a["kind"] == "database")
    assert path.name == database["name"] and sha256(path) == database["sha256"]
    files = dbrelease.fetch("owner/data", tag=TAG, files=["daily_availability", "daily_symbol_counts"])
    assert sorted(files) == ["daily_availability.parquet", "daily_symbol_counts.parquet"]
    assert all(isinstance(p, pathlib.Path) and p.is_file() for p in files.values())


def test_get_the_database_decompressed_and_latest_resolves(env):
    path = dbrelease.fetch("owner/data", decompress=True)
    assert sha256(path) == sha256(FIXTURE)
    assert [v["tag"] for v in dbrelease.versions("owner/data")] == [TAG]


def test_offline_uses_the_cache_and_says_what_is_missing(env):
    with pytest.raises(dbrelease.OfflineError, match="not in the cache"):
        dbrelease.fetch("owner/data", tag=TAG, offline=True)
    online = dbrelease.fetch("owner/data", tag=TAG)
    assert dbrelease.fetch("owner/data", tag=TAG, offline=True) == online


def test_the_cli_finds_what_python_fetched(env):
    path = dbrelease.fetch("owner/data", tag=TAG, files="daily_symbol_counts")
    found = cli("fetch", "--repo", "owner/data", "--tag", TAG, "--offline", "daily_symbol_counts")
    assert found.stdout.strip() == str(path)


def test_a_url_origin_and_tampered_bytes(site, tmp_path):
    cache = tmp_path / "cache"
    path = dbrelease.fetch(base_url=site["base"], tag=TAG, files="daily_availability", cache_dir=cache)
    assert path.is_file()
    served = site["root"] / TAG / "daily_symbol_counts.parquet"
    original = served.read_bytes()
    try:
        served.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(dbrelease.IntegrityError, match="does not match its manifest"):
            dbrelease.fetch(base_url=site["base"], tag=TAG, files="daily_symbol_counts", cache_dir=cache)
        assert not list(cache.rglob("daily_symbol_counts.parquet"))
    finally:
        served.write_bytes(original)


def test_errors_carry_the_clis_messages(env):
    with pytest.raises(dbrelease.RemoteError, match="no published release tagged v9.9.9"):
        dbrelease.fetch("owner/data", tag="v9.9.9")
    with pytest.raises(dbrelease.DbreleaseError, match="has no artifact or table"):
        dbrelease.fetch("owner/data", tag=TAG, files="no_such_table")


def test_connect_without_duckdb_says_how_to_get_it(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(dbrelease.DbreleaseError, match=r"pip install 'dbrelease\[duckdb\]'"):
        dbrelease.connect("owner/data", tag=TAG)


def test_as_of_a_day_pins_the_version_that_was_newest_then(env):
    import datetime

    # The fake published v1.0.0 on 2026-01-01 (UTC).
    path = dbrelease.fetch("owner/data", as_of="2026-01-01", files="daily_symbol_counts")
    assert path.parent.name == TAG
    later = dbrelease.fetch("owner/data", as_of=datetime.date(2026, 3, 1), files="daily_symbol_counts")
    assert later == path
    assert dbrelease.manifest("owner/data", as_of="2026-01-01")["tag"] == TAG
    with pytest.raises(dbrelease.DbreleaseError, match="no version was published by the end of that day"):
        dbrelease.fetch("owner/data", as_of="2025-12-31")
    with pytest.raises(dbrelease.DbreleaseError, match="YYYY-MM-DD"):
        dbrelease.fetch("owner/data", as_of="yesterday")
    with pytest.raises(dbrelease.DbreleaseError, match="not both"):
        dbrelease.fetch("owner/data", tag=TAG, as_of="2026-01-01")
    with pytest.raises(dbrelease.DbreleaseError, match="a day"):
        dbrelease.fetch("owner/data", as_of=datetime.datetime(2026, 1, 1, 12))
