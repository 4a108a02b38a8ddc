#!/usr/bin/env bash
# End-to-end release workflow: real semantic-release 24 with @semantic-release/exec (and
# @semantic-release/github for the draft style) runs `dbrelease publish` against the GitHub fake
# on loopback, in a throwaway git repository whose "GitHub" remote is a local bare repository.
#
# Both integration styles of the README are exercised:
#   exec   semantic-release's notes go to dbrelease, which creates and publishes the release;
#   draft  @semantic-release/github creates a draft (draftRelease: true), dbrelease fills and
#          publishes it.
# Each runs semantic-release as inside a GitHub Actions job (GITHUB_ACTIONS, GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY) and asserts the tag, the release, its assets and manifest, the step
# outputs and summary dbrelease wrote, `dbrelease verify`, that a `dbrelease republish` of the
# same tag changes nothing, and, like the example workflow, the mirror to S3 with
# `republish --s3` (the in-process S3 server) verified by `verify --s3`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
cargo build --release --quiet --bin dbrelease --example github_fake_server --example s3_server
bin_dir="$CARGO_TARGET_DIR/release"

# semantic-release and its plugins, exactly as the example workflow installs them: `npm ci` from
# examples/data-repository/package-lock.json (in a copy, so the example folder stays clean).
npm_dir="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test/e2e-npm"
mkdir -p "$npm_dir"
cp "$root/examples/data-repository/package.json" "$root/examples/data-repository/package-lock.json" "$npm_dir/"
(cd "$npm_dir" && npm ci --no-audit --no-fund --silent)
semantic_release="$npm_dir/node_modules/.bin/semantic-release"

token="ghs_e2eT0kenNeverPrinted0123456789"
work="$(mktemp -d)"
fake_pid=""
s3_pid=""
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
  [ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "e2e FAILED ($style): $*" >&2; exit 1; }

# The release as the fake holds it, as JSON (drafts included: the request is authenticated).
release_json() {
  curl -fsS -H "Authorization: Bearer $token" "$api/repos/owner/data/releases?per_page=100" |
    python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['tag_name']==sys.argv[1]]; print(json.dumps(r))" "$1"
}

run_style() {
  style="$1"
  dir="$work/$style"
  mkdir -p "$dir"
  "$bin_dir/examples/github_fake_server" owner data "$token" >"$dir/fake.url" &
  fake_pid=$!
  for _ in $(seq 50); do [ -s "$dir/fake.url" ] && break; sleep 0.1; done
  api="$(cat "$dir/fake.url")"

  git init --quiet --bare --initial-branch=main "$dir/remote.git"
  git init --quiet --initial-branch=main "$dir/repo"
  cd "$dir/repo"
  git config user.name "e2e" && git config user.email "e2e@example.org"
  # semantic-release and @semantic-release/github see github.com; git talks to the bare repo.
  git config "url.file://$dir/remote.git.insteadOf" "https://github.com/owner/data.git"
  git remote add origin "https://github.com/owner/data.git"
  cp "$root/fixtures/binance_futures_availability.duckdb" data.duckdb
  cat >dbrelease.toml <<'TOML'
[dataset]
name = "e2e-data"
database = "data.duckdb"
[github]
repo = "owner/data"
TOML
  if [ "$style" = exec ]; then
    cp "$root/examples/data-repository/.releaserc.json" .releaserc.json
  else
    cp "$root/examples/data-repository/.releaserc.draft.json" .releaserc.json
  fi
  printf 'dist/\nnode_modules/\n' >.gitignore
  git add . && git commit --quiet -m "feat: first release of the data"
  git push --quiet origin main

  # As in a GitHub Actions job: dbrelease, run by semantic-release, writes the step's outputs
  # and summary (the example workflow's S3 step reads steps.release.outputs.tag).
  : >"$dir/github_output"
  : >"$dir/step_summary"
  env -u GITHUB_REPOSITORY -u GITHUB_ACTION \
    GITHUB_ACTIONS=true GITHUB_EVENT_NAME=push GITHUB_REF=refs/heads/main \
    GITHUB_SHA="$(git rev-parse HEAD)" GITHUB_OUTPUT="$dir/github_output" \
    GITHUB_STEP_SUMMARY="$dir/step_summary" \
    PATH="$bin_dir:$PATH" GITHUB_API_URL="$api" GITHUB_TOKEN="$token" RUNNER_TEMP="$dir" \
    "$semantic_release" --no-ci >"$dir/semantic-release.log" 2>&1 ||
    { cat "$dir/semantic-release.log"; fail "semantic-release exited non-zero"; }
  grep -q "^::group::dbrelease: publish to GitHub" "$dir/semantic-release.log" ||
    fail "no log group from dbrelease inside semantic-release"
  tag_output="$(awk '/^tag<</ { d = substr($0, 6); getline; if (getline end > 0 && end == d) print }' "$dir/github_output")"
  [ "$tag_output" = v1.0.0 ] || fail "step output tag is '$tag_output', expected v1.0.0"
  grep -q "daily_availability.parquet" "$dir/step_summary" || fail "step summary lacks the artifacts"
  if grep -q "$token" "$dir/semantic-release.log"; then fail "the token appeared in the output"; fi

  git ls-remote --tags origin | grep -q "refs/tags/v1.0.0$" || fail "no tag v1.0.0 was pushed"
  release_json v1.0.0 | python3 -c '
import json, sys
releases = json.load(sys.stdin)
assert len(releases) == 1, f"expected one release, got {len(releases)}"
r = releases[0]
assert not r["draft"], "release left as a draft"
names = [a["name"] for a in r["assets"]]
for name in ["daily_availability.parquet", "daily_symbol_counts.parquet", "data.duckdb.gz",
             "datapackage.json", "SHA256SUMS", "manifest.json"]:
    assert name in names, f"{name} missing: {names}"
assert all(a["state"] == "uploaded" for a in r["assets"]), names
body = r["body"] or ""
assert "first release of the data" in body, "semantic-release notes missing:\n" + body
assert body.count("<!-- dbrelease:data -->") == 1, "data section missing or doubled:\n" + body
' || fail "release v1.0.0 is not as expected"

  manifest_url="$(release_json v1.0.0 | python3 -c 'import json,sys; print([a["browser_download_url"] for a in json.load(sys.stdin)[0]["assets"] if a["name"]=="manifest.json"][0])')"
  curl -fsSL "$manifest_url" | python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["tag"]=="v1.0.0", m["tag"]' ||
    fail "manifest.json does not describe v1.0.0"

  GITHUB_API_URL="$api" GITHUB_TOKEN="$token" "$bin_dir/dbrelease" -q verify --github --tag v1.0.0 >/dev/null ||
    fail "dbrelease verify failed"
  GITHUB_API_URL="$api" GITHUB_TOKEN="$token" "$bin_dir/dbrelease" -q republish --github --tag v1.0.0 --json >"$dir/republish.json" ||
    fail "dbrelease republish failed"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["publish"]["github"]["up_to_date"], r' "$dir/republish.json" ||
    fail "republish of an intact release was not a no-op"

  # The example workflow's next step: mirror the tag from the step output to S3.
  "$bin_dir/examples/s3_server" data >"$dir/s3.url" &
  s3_pid=$!
  for _ in $(seq 50); do [ -s "$dir/s3.url" ] && break; sleep 0.1; done
  printf '[s3]\nbucket = "data"\nprefix = "releases"\nendpoint = "%s"\n' "$(cat "$dir/s3.url")" >>dbrelease.toml
  s3_env=(AWS_ACCESS_KEY_ID=AKIDDBRELEASETEST AWS_SECRET_ACCESS_KEY=dbrelease-test-secret-key
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent
    AWS_SHARED_CREDENTIALS_FILE=/nonexistent GITHUB_API_URL="$api" GITHUB_TOKEN="$token")
  env "${s3_env[@]}" "$bin_dir/dbrelease" -q republish --s3 --tag "$tag_output" >/dev/null ||
    fail "republish --s3 of $tag_output failed"
  env "${s3_env[@]}" "$bin_dir/dbrelease" -q verify --s3 --tag "$tag_output" >/dev/null ||
    fail "the S3 mirror of $tag_output does not verify"
  kill "$s3_pid" && wait "$s3_pid" 2>/dev/null || true
  s3_pid=""
  git checkout --quiet dbrelease.toml

  # A commit that is not a release (chore) makes semantic-release do nothing.
  git commit --quiet --allow-empty -m "chore: tidy" && git push --quiet origin main
  env -u GITHUB_ACTIONS -u GITHUB_REF -u GITHUB_EVENT_NAME -u GITHUB_REPOSITORY \
    PATH="$bin_dir:$PATH" GITHUB_API_URL="$api" GITHUB_TOKEN="$token" RUNNER_TEMP="$dir" \
    "$semantic_release" --no-ci >>"$dir/semantic-release.log" 2>&1 || fail "second semantic-release run failed"
  [ "$(release_json v1.0.1)" = "[]" ] || fail "a chore commit produced a release"

  kill "$fake_pid" && wait "$fake_pid" 2>/dev/null || true
  fake_pid=""
  cd "$root"
  echo "e2e ($style): semantic-release tagged v1.0.0, dbrelease published it (step outputs, summary), verified, republish was a no-op, mirrored to S3 and verified"
}

run_style exec
run_style draft
