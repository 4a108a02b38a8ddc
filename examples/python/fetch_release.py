"""Download a dbrelease release's database and check it against SHA256SUMS, without dbrelease.

Usage: python3 fetch_release.py BASE_URL [FILE]
  BASE_URL  the versioned folder, e.g.
            https://github.com/OWNER/NAME/releases/download/v1.2.0  (GitHub)
            https://data.example.org/prefix/v1.2.0                   (S3 / CDN)
  FILE      the file to fetch (default: the gzipped database listed in SHA256SUMS)

Prints the path of the verified, decompressed database. Standard library only.
"""

import gzip
import hashlib
import os
import shutil
import sys
import urllib.request


def main() -> None:
    base = sys.argv[1].rstrip("/")
    sums = urllib.request.urlopen(f"{base}/SHA256SUMS").read().decode()
    # `sha256sum` format: "<hex>  <name>" per line.
    expected = {name: digest for digest, name in (line.split(None, 1) for line in sums.splitlines())}
    name = sys.argv[2] if len(sys.argv) > 2 else next(n for n in expected if n.endswith(".duckdb.gz"))

    partial = name + ".part"
    digest = hashlib.sha256()
    with urllib.request.urlopen(f"{base}/{name}") as response, open(partial, "wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected[name]:
        os.remove(partial)
        sys.exit(f"{name}: sha256 {digest.hexdigest()} does not match SHA256SUMS ({expected[name]})")
    os.replace(partial, name)

    if name.endswith(".gz"):
        with gzip.open(name, "rb") as compressed, open(name[:-3], "wb") as out:
            shutil.copyfileobj(compressed, out, 1 << 20)
        name = name[:-3]
    print(os.path.abspath(name))


if __name__ == "__main__":
    main()
