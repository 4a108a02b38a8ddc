"""The `dbrelease` Python package as a data user meets it: against the loopback GitHub fake (the
test suite's, as a server) and a static HTTP server, with the release built by the CLI.

Run by scripts/test.sh after it builds and installs the wheel. Environment: REPO_ROOT (the
checkout), DBRELEASE_BIN (the CLI), DBRELEASE_FAKE_BIN (examples/github_fake_server).
"""

import collections
import functools
import hashlib
import importlib.util
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


class Ranged(Quiet):
    """A static server that answers single `Range: bytes=a-b` and `bytes=-n` requests (as S3 and CDNs do)
    and counts the bytes it sends per path, so a test sees what a query transferred."""

    sent = collections.Counter()

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        start, end = 0, size - 1
        requested = self.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested)
        # A suffix range (the last N bytes), as Polars asks for a Parquet footer.
        suffix = re.fullmatch(r"bytes=-(\d+)", requested)
        if suffix:
            start = max(size - int(suffix.group(1)), 0)
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2) or size - 1), size - 1)
        if match or suffix:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        body = open(path, "rb")
        body.seek(start)
        self._remaining = end - start + 1
        return body

    def copyfile(self, source, destination):
        while self._remaining > 0:
            chunk = source.read(min(self._remaining, 1 << 16))
            if not chunk:
                break
            destination.write(chunk)
            self._remaining -= len(chunk)
            Ranged.sent[self.path.split("?")[0]] += len(chunk)


# DuckDB's httpfs from PyPI (duckdb-ext-httpfs): nothing is downloaded from DuckDB's servers.
HTTPFS = {
    "extension_directory": os.path.join(
        importlib.util.find_spec("duckdb_ext").submodule_search_locations[0], "extensions"
    ),
    "autoinstall_known_extensions": False,
}


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A URL origin: the release under {base}/{tag}/, served by a static server."""
    root = tmp_path_factory.mktemp("site")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Ranged, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/data"
    # The committed config, with the catalog reading from this server and the database also
    # released uncompressed (for ATTACH over HTTP).
    config = root / "dbrelease.toml"
    config.write_text(
        (ROOT / "dbrelease.toml").read_text().replace(
            'database = "fixtures/', f'database = "{ROOT}/fixtures/'
        )
        + f'\n[catalog]\nurl = "{base}/{{tag}}/"\n\n[database]\nuncompressed = true\n'
    )
    cli("build", "--tag", TAG, "--config", str(config), "--out", str(root / "data" / TAG))
    yield {"base": base, "root": root / "data"}
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
        # The catalog's views read from the fake's github.com-style download URLs.
        env={"GITHUB_API_URL": api, "GITHUB_TOKEN": TOKEN, "GITHUB_SERVER_URL": api},
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


def test_a_database_in_parts_is_one_verified_file_in_python(tmp_path):
    """A .gz over [database] part_size is published as .001, .002, …; Python gets one file."""
    root = tmp_path / "site"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Ranged, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "parts.toml"
        config.write_text(
            (ROOT / "dbrelease.toml").read_text().replace(
                'database = "fixtures/', f'database = "{ROOT}/fixtures/'
            )
            + "\n[database]\npart_size = 16384\n"
        )
        dist = root / "data" / TAG
        cli("build", "--tag", TAG, "--config", str(config), "--out", str(dist))
        parts = sorted(p.name for p in dist.glob("*.duckdb.gz.*"))
        assert len(parts) >= 3 and parts[0].endswith(".gz.001")
        base = f"http://127.0.0.1:{server.server_address[1]}/data"
        (root / "data" / "versions.json").write_text(json.dumps({"versions": [{
            "tag": TAG, "created_at": "2026-01-01T00:00:00Z",
            "manifest_sha256": sha256(dist / "manifest.json"),
            "manifest_url": f"{base}/{TAG}/manifest.json", "base_url": f"{base}/{TAG}/",
        }]}))
        cache = tmp_path / "cache"
        gz = dbrelease.fetch(base_url=base, tag=TAG, cache_dir=cache)
        assert gz.name == "binance_futures_availability.duckdb.gz"
        assert gz.read_bytes() == b"".join((dist / name).read_bytes() for name in parts)
        database = dbrelease.fetch(base_url=base, tag=TAG, cache_dir=cache, decompress=True)
        assert sha256(database) == sha256(FIXTURE)
    finally:
        server.shutdown()


def test_a_table_in_parts_reads_as_one_table_in_python(tmp_path):
    """A table over [export] part_size is several Parquet files: remote=True, the catalog,
    Polars and fetch all read them as the one table."""
    import duckdb
    import polars as pl

    root = tmp_path / "site"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Ranged, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/data"
        config = tmp_path / "table-parts.toml"
        config.write_text(
            (ROOT / "dbrelease.toml").read_text()
            .replace('database = "fixtures/', f'database = "{ROOT}/fixtures/')
            .replace("row_group_rows = 122880", "row_group_rows = 100\npart_size = 8192")
            + f'\n[catalog]\nurl = "{base}/{{tag}}/"\n'
        )
        dist = root / "data" / TAG
        cli("build", "--tag", TAG, "--config", str(config), "--out", str(dist))
        parts = sorted(p.name for p in dist.glob("daily_availability-*.parquet"))
        assert len(parts) >= 2 and parts[0] == "daily_availability-0001.parquet"
        (root / "data" / "versions.json").write_text(json.dumps({"versions": [{
            "tag": TAG, "created_at": "2026-01-01T00:00:00Z",
            "manifest_sha256": sha256(dist / "manifest.json"),
            "manifest_url": f"{base}/{TAG}/manifest.json", "base_url": f"{base}/{TAG}/",
        }]}))
        cache = tmp_path / "cache"
        expected = expected_one_date()
        con = dbrelease.connect(base_url=base, tag=TAG, remote=True, config=HTTPFS, cache_dir=cache)
        assert con.execute(ONE_DATE.format("daily_availability")).fetchone() == expected
        assert con.execute("SELECT count(*) FROM daily_availability").fetchone() == (720,)
        catalog = duckdb.connect(config=HTTPFS)
        catalog.execute(f"ATTACH '{base}/{TAG}/catalog.duckdb' AS data (READ_ONLY)")
        assert catalog.execute(ONE_DATE.format("data.daily_availability")).fetchone() == expected
        frame = dbrelease.scan(base_url=base, table="daily_availability", tag=TAG, cache_dir=cache)
        assert frame.select(pl.len()).collect().item() == 720
        files = dbrelease.fetch(base_url=base, tag=TAG, cache_dir=cache, files="daily_availability")
        assert sorted(files) == parts
        assert all(sha256(files[name]) == sha256(dist / name) for name in parts)
    finally:
        server.shutdown()


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


ONE_DATE = "SELECT count(*), sum(trade_count) FROM {} WHERE date = DATE '2019-10-01'"


def expected_one_date():
    import duckdb

    con = duckdb.connect(str(FIXTURE), read_only=True)
    return con.execute(ONE_DATE.format("daily_availability")).fetchone()


def test_remote_connection_reads_in_place_from_github(env):
    con = dbrelease.connect("owner/data", tag=TAG, remote=True, config=HTTPFS)
    assert con.execute(ONE_DATE.format("daily_availability")).fetchone() == expected_one_date()
    assert con.execute("SELECT count(*) FROM daily_symbol_counts").fetchone() == (40,)
    # Only the manifest was stored: the data was read where it is.
    cached = [p.name for p in (env / "xdg").rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert "manifest.json" in cached
    assert not [name for name in cached if name.endswith((".parquet", ".gz"))], cached
    # latest and as_of resolve as for fetch.
    latest = dbrelease.connect("owner/data", remote=True, config=HTTPFS)
    assert latest.execute("SELECT count(*) FROM daily_availability").fetchone() == (720,)
    urls = dbrelease.urls("owner/data", as_of="2026-01-01")
    assert urls["daily_availability.parquet"].endswith(f"/releases/download/{TAG}/daily_availability.parquet")


def test_polars_scan_reads_one_table_in_place(env):
    import polars as pl

    frame = dbrelease.scan("owner/data", "daily_symbol_counts", tag=TAG)
    assert isinstance(frame, pl.LazyFrame)
    assert frame.select(pl.len()).collect().item() == 40
    with pytest.raises(dbrelease.DbreleaseError, match="has no table 'nope'.*daily_availability"):
        dbrelease.scan("owner/data", "nope", tag=TAG)


def test_the_catalog_attaches_over_http_from_the_github_fake(env, github):
    import duckdb

    con = duckdb.connect(config=HTTPFS)
    con.execute(f"ATTACH '{github}/owner/data/releases/download/{TAG}/catalog.duckdb' AS data (READ_ONLY)")
    assert con.execute(ONE_DATE.format("data.daily_availability")).fetchone() == expected_one_date()
    tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'data'").fetchall()}
    assert tables == {"daily_availability", "daily_symbol_counts"}


def test_bytes_a_one_date_query_transfers(site):
    """The same one-date query: the Parquet URL read directly, through remote=True, through
    the catalog, and by ATTACHing the uncompressed database. Printed for the README."""
    import duckdb

    base = f"{site['base']}/{TAG}"
    parquet = f"/data/{TAG}/daily_availability.parquet"
    expected = expected_one_date()

    def transferred(run):
        Ranged.sent.clear()
        assert run() == expected
        return dict(Ranged.sent)

    def direct():
        con = duckdb.connect(config=HTTPFS)
        return con.execute(ONE_DATE.format(f"read_parquet('{base}/daily_availability.parquet')")).fetchone()

    def remote():
        con = dbrelease.connect(base_url=site["base"], tag=TAG, remote=True, config=HTTPFS, cache_dir=site["root"].parent / "cache")
        return con.execute(ONE_DATE.format("daily_availability")).fetchone()

    def catalog():
        con = duckdb.connect(config=HTTPFS)
        con.execute(f"ATTACH '{base}/catalog.duckdb' AS data (READ_ONLY)")
        return con.execute(ONE_DATE.format("data.daily_availability")).fetchone()

    def database():
        con = duckdb.connect(config=HTTPFS)
        con.execute(f"ATTACH '{base}/binance_futures_availability.duckdb' AS data (READ_ONLY)")
        return con.execute(ONE_DATE.format("data.daily_availability")).fetchone()

    sizes = {name: (site["root"] / TAG / name).stat().st_size for name in ("daily_availability.parquet", "catalog.duckdb", "binance_futures_availability.duckdb")}
    results = {name: transferred(run) for name, run in [("direct", direct), ("remote", remote), ("catalog", catalog), ("database", database)]}
    for name, sent in results.items():
        print(f"one-date query, {name}: {sum(sent.values())} bytes ({sent})")
    # remote=True and the catalog read the same Parquet bytes as the direct query (DuckDB
    # reads the footer and the one row group it needs) ...
    assert results["remote"][parquet] <= 1.1 * results["direct"][parquet]
    assert results["catalog"][parquet] <= 1.1 * results["direct"][parquet]
    # ... and the Parquet file is not read whole; the catalog itself costs about two reads of
    # its small file. (DuckDB reads a database this small whole when it ATTACHes it; on the
    # benchmark database it reads a fraction: scripts/bench_catalog_bytes.py.)
    assert results["direct"][parquet] < sizes["daily_availability.parquet"]
    assert results["catalog"][f"/data/{TAG}/catalog.duckdb"] <= 2.2 * sizes["catalog.duckdb"]
    assert results["database"]
    manifest = json.loads((site["root"] / TAG / "manifest.json").read_text())
    kinds = {a["name"]: (a["kind"], a.get("duckdb_file")) for a in manifest["artifacts"]}
    assert kinds["catalog.duckdb"][0] == "catalog"
    assert kinds["catalog.duckdb"][1]["opens_with"] == "1.2.0"
    assert kinds["binance_futures_availability.duckdb"][0] == "database"
    assert kinds["binance_futures_availability.duckdb"][1]["storage_version"].startswith("v1.")


def test_the_example_data_package(env, monkeypatch):
    """examples/python-data-package as a maintainer ships it, pointed at the fake."""
    monkeypatch.syspath_prepend(str(ROOT / "examples/python-data-package/src"))
    import my_dataset

    monkeypatch.setattr(my_dataset, "REPO", "owner/data")
    assert [v["tag"] for v in my_dataset.versions()] == [TAG]
    path = my_dataset.get_db(TAG)
    assert path.is_file() and sha256(path) == sha256(FIXTURE)
    con = my_dataset.connect(TAG)
    assert con.execute("SELECT count(*) FROM daily_availability").fetchone() == (720,)
    assert my_dataset.get_db() == path
    remote = my_dataset.connect(remote=True, config=HTTPFS)
    assert remote.execute("SELECT count(*) FROM daily_symbol_counts").fetchone() == (40,)
    # Ten lines of code, as the README promises.
    source = (ROOT / "examples/python-data-package/src/my_dataset/__init__.py").read_text()
    code = [line for line in source.splitlines() if line.strip() and not line.strip().startswith(("#", '"""'))]
    assert len(code) <= 10, code
