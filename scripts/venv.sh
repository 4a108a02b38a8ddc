# Sourced by scripts/test.sh and scripts/bench_parquet.sh: one Python virtualenv per
# requirements file content, under $cache, reused across runs.
venv_for() { # REQUIREMENTS → the virtualenv's path, created on first use
  # Created in place (a virtualenv's scripts name its path in their #! line) and marked complete
  # last, so an interrupted install is redone rather than half used.
  local venv="$cache/venv-$(sha256sum "$1" | cut -c1-12)"
  if [ ! -f "$venv/.complete" ]; then
    echo "creating $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$1" >&2
    touch "$venv/.complete"
  fi
  echo "$venv"
}
