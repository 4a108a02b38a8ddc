"""dbrelease_data against a release served over plain HTTP, as a data user would meet it.

Run by scripts/test.sh after it builds and installs the wheel; DBRELEASE_BIN is the dbrelease
binary that builds the release of the committed fixture, REPO_ROOT the checkout.
"""

import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import unittest

import dbrelease_data

ROOT = pathlib.Path(os.environ["REPO_ROOT"])
TAG = "v1.0.0"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class FetchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = pathlib.Path(tempfile.mkdtemp())
        site = cls.work / "site" / "data"
        subprocess.run(
            [os.environ["DBRELEASE_BIN"], "-q", "build", "--tag", TAG,
             "--config", str(ROOT / "dbrelease.toml"), "--out", str(site / TAG)],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
        )
        handler = functools.partial(Quiet, directory=str(cls.work / "site"))
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}/data"
        cls.site = site

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        shutil.rmtree(cls.work)

    def cache(self):
        return tempfile.mkdtemp(dir=self.work)

    def test_get_db_returns_the_verified_database(self):
        path = dbrelease_data.get_db(base_url=self.base, tag=TAG, cache_dir=self.cache())
        self.assertTrue(str(path).endswith(".duckdb"), path)
        self.assertEqual(sha256(path), sha256(ROOT / "fixtures/binance_futures_availability.duckdb"))

    def test_a_cached_release_is_used_offline(self):
        cache = self.cache()
        first = dbrelease_data.fetch(base_url=self.base, tag=TAG, assets=["all"], cache_dir=cache)
        self.assertEqual(len(first), 3)
        again = dbrelease_data.fetch(
            base_url=self.base, tag=TAG, assets=["all"], cache_dir=cache, offline=True
        )
        self.assertEqual(first, again)

    def test_tampered_bytes_raise_and_are_not_kept(self):
        served = self.site / TAG / "daily_symbol_counts.parquet"
        original = served.read_bytes()
        try:
            served.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
            cache = self.cache()
            with self.assertRaises(dbrelease_data.IntegrityError):
                dbrelease_data.fetch(
                    base_url=self.base, tag=TAG, assets=["daily_symbol_counts"], cache_dir=cache
                )
            kept = [p.name for p in pathlib.Path(cache).rglob("daily_symbol_counts.parquet")]
            self.assertEqual(kept, [])
        finally:
            served.write_bytes(original)

    def test_an_unpublished_tag_is_a_clear_error(self):
        with self.assertRaises(dbrelease_data.DbreleaseError) as caught:
            dbrelease_data.fetch(base_url=self.base, tag="v9.9.9", cache_dir=self.cache())
        self.assertIn("v9.9.9", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
