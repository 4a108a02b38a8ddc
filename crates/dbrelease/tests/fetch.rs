//! `dbrelease fetch` against a published layout on a loopback HTTP server (the S3/CDN shape)
//! and against the GitHub fake: verified downloads, the cache, resume, offline use.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::file_server::FileServer;
use support::github_fake::GitHubFake;
use support::*;

const TAG: &str = "v1.0.0";
const DB_GZ: &str = "binance_futures_availability.duckdb.gz";

struct Setup {
    dir: tempfile::TempDir,
    server: FileServer,
}

/// Builds the committed fixture as `tag` into `dir/dist-{tag}`.
fn build_fixture(dir: &Path, tag: &str) -> PathBuf {
    build_fixture_at(dir, tag, "1700000000", &format!("dist-{tag}"))
}

/// Builds the committed fixture as `tag` at build time `epoch` into `dir/{out}`.
fn build_fixture_at(dir: &Path, tag: &str, epoch: &str, out: &str) -> PathBuf {
    let out = dir.join(out);
    let output = dbrelease()
        .env("SOURCE_DATE_EPOCH", epoch)
        .args(["-q", "build", "--tag", tag])
        .arg("--config")
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    out
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = FileServer::start();
        let dist = build_fixture(dir.path(), TAG);
        server.publish_dist("data", TAG, &dist, "2026-01-01T00:00:00Z");
        Setup { dir, server }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The base URL through the redirect hop.
    fn base_url(&self) -> String {
        format!("{}/r/data", self.server.url)
    }

    fn fetch(&self, args: &[&str]) -> Output {
        dbrelease()
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .args(["fetch", "--base-url", &self.base_url()])
            .arg("--cache-dir")
            .arg(self.cache())
            .args(args)
            .output()
            .unwrap()
    }

    fn tag_dir(&self) -> PathBuf {
        let url = self
            .server
            .url
            .trim_start_matches("http://")
            .replace(':', "_");
        self.cache()
            .join("url")
            .join(url)
            .join("r")
            .join("data")
            .join(TAG)
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn fixture_sha256() -> String {
    sha256_file(&repo_root().join("fixtures/binance_futures_availability.duckdb"))
}

#[test]
fn fetch_verifies_and_caches_then_a_pinned_tag_needs_no_network() {
    let setup = Setup::new();
    let output = setup.fetch(&["--decompress"]);
    assert!(output.status.success(), "{}", text(&output));
    // The printed path is the released database itself, ready for `duckdb "$(…)"`.
    let path = PathBuf::from(stdout(&output));
    assert_eq!(
        path.file_name().unwrap(),
        "binance_futures_availability.duckdb"
    );
    assert!(path.starts_with(setup.tag_dir()), "{path:?}");
    assert_eq!(sha256_file(&path), fixture_sha256());
    let conn = duckdb::Connection::open_with_flags(
        &path,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM daily_availability", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 720);
    drop(conn);
    let requests = setup.server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /r/data/versions.json")),
        "resolved latest through versions.json: {requests:#?}"
    );

    // Pinned and cached: not one request.
    setup.server.clear_requests();
    let again = setup.fetch(&["--tag", TAG, "--decompress"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(stdout(&again), stdout(&output));
    assert_eq!(setup.server.requests(), Vec::<String>::new());

    // `latest` again: one conditional request, answered 304.
    let latest = setup.fetch(&["--json"]);
    assert!(latest.status.success(), "{}", text(&latest));
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests[1].ends_with("-> 304"), "{requests:#?}");
    let report: serde_json::Value = serde_json::from_slice(&latest.stdout).unwrap();
    assert_eq!(report["tag"], TAG);
    assert_eq!(report["files"][0]["name"], DB_GZ);
    assert_eq!(report["files"][0]["downloaded"], false);

    // Offline works from the cache alone (the server is not consulted).
    setup.server.clear_requests();
    let offline = setup.fetch(&["--offline", "--decompress"]);
    assert!(offline.status.success(), "{}", text(&offline));
    assert_eq!(stdout(&offline), stdout(&output));
    assert!(setup.server.requests().is_empty());
}

#[test]
fn a_newer_release_becomes_latest_and_the_old_pin_still_works() {
    let setup = Setup::new();
    assert!(setup.fetch(&[]).status.success());
    let dist2 = build_fixture(setup.dir.path(), "v1.1.0");
    setup
        .server
        .publish_dist("data", "v1.1.0", &dist2, "2026-02-01T00:00:00Z");
    let output = setup.fetch(&["--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["tag"], "v1.1.0");
    assert_eq!(report["files"][0]["downloaded"], true);

    let list = setup.fetch(&["--list"]);
    assert!(list.status.success(), "{}", text(&list));
    let listed = stdout(&list);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(
        lines[0].starts_with("v1.1.0") && lines[1].starts_with(TAG),
        "{listed}"
    );
    assert!(lines.iter().all(|l| l.contains("cached")), "{listed}");

    let artifacts = setup.fetch(&["--list", "--tag", TAG, "--json"]);
    assert!(artifacts.status.success(), "{}", text(&artifacts));
    let artifacts: serde_json::Value = serde_json::from_slice(&artifacts.stdout).unwrap();
    let names: Vec<&str> = artifacts["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"daily_availability.parquet"), "{names:?}");
    assert!(names.contains(&DB_GZ), "{names:?}");
}

/// A rolling tag published again in place (`nightly`) is revalidated on every fetch (an
/// ETag-conditional GET of its manifest) and followed when it changed; a pinned version is
/// served from the cache without asking.
#[test]
fn a_rolling_tag_is_revalidated_and_followed_while_a_pinned_one_stays_offline() {
    let setup = Setup::new();
    let first = build_fixture_at(setup.dir.path(), "nightly", "1700000000", "nightly-1");
    setup
        .server
        .publish_dist("data", "nightly", &first, "2026-01-02T00:00:00Z");
    let fetched = |args: &[&str]| {
        let output = setup.fetch(args);
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let sha_of = |report: &serde_json::Value, name: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["sha256"].as_str().unwrap().to_string())
    };
    let report = fetched(&["--tag", "nightly", "--json"]);
    assert_eq!(
        sha_of(&report, DB_GZ),
        Some(sha256_file(&first.join(DB_GZ)))
    );

    // Unchanged: one conditional request, answered 304, nothing downloaded.
    setup.server.clear_requests();
    let report = fetched(&["--tag", "nightly", "--json"]);
    assert!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["downloaded"] == false)
    );
    let requests = setup.server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/r/data/nightly/manifest.json")),
        "{requests:#?}"
    );

    // Published again with other bytes: the next fetch follows it.
    let second = build_fixture_at(setup.dir.path(), "nightly", "1800000000", "nightly-2");
    assert_ne!(
        sha256_file(&first.join("manifest.json")),
        sha256_file(&second.join("manifest.json"))
    );
    setup
        .server
        .publish_dist("data", "nightly", &second, "2027-01-02T00:00:00Z");
    let report = fetched(&["--tag", "nightly", "--json"]);
    assert_eq!(
        sha_of(&report, DB_GZ),
        Some(sha256_file(&second.join(DB_GZ)))
    );
    let cached_manifest =
        PathBuf::from(report["cache_dir"].as_str().unwrap()).join("manifest.json");
    assert_eq!(
        std::fs::read(cached_manifest).unwrap(),
        std::fs::read(second.join("manifest.json")).unwrap()
    );

    // A pinned version: fetched once, then never asked about again.
    fetched(&["--tag", TAG, "--json"]);
    setup.server.clear_requests();
    fetched(&["--tag", TAG, "--json"]);
    assert!(
        setup.server.requests().is_empty(),
        "{:#?}",
        setup.server.requests()
    );
}

#[test]
fn a_tampered_file_is_refused_deleted_and_never_cached() {
    let setup = Setup::new();
    setup
        .server
        .tamper(&format!("data/{TAG}/daily_availability.parquet"));
    let output = setup.fetch(&["--tag", TAG, "daily_availability"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("daily_availability.parquet does not match its manifest")
            && stderr.contains("deleted"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "no path printed: {}",
        text(&output)
    );
    let left: Vec<String> = list_dir(&setup.tag_dir())
        .into_iter()
        .filter(|n| n.contains("daily_availability"))
        .collect();
    assert!(
        left.is_empty(),
        "nothing of the tampered file stays: {left:?}"
    );
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let setup = Setup::new();
    let key = format!("data/{TAG}/{DB_GZ}");
    // The connection drops after 3000 bytes; the retry asks only for the rest.
    setup.server.drop_once_after(&key, 3000);
    let output = setup.fetch(&["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    let requests = setup.server.requests();
    let gets: Vec<&String> = requests.iter().filter(|r| r.contains(DB_GZ)).collect();
    assert!(
        gets.iter().any(|r| r.contains("bytes=3000- -> 206")),
        "{gets:#?}"
    );
    let path = PathBuf::from(stdout(&output));
    let manifest = manifest(&setup.dir.path().join(format!("dist-{TAG}")));
    let artifact = manifest.artifacts.iter().find(|a| a.name == DB_GZ).unwrap();
    assert_eq!(sha256_file(&path), artifact.sha256);

    // A run killed mid-download leaves its partial file; the next run continues from it.
    std::fs::remove_file(&path).unwrap();
    let partial = std::fs::read(setup.dir.path().join(format!("dist-{TAG}")).join(DB_GZ)).unwrap();
    std::fs::write(
        setup.tag_dir().join(format!(".{DB_GZ}.part")),
        &partial[..7000],
    )
    .unwrap();
    setup.server.clear_requests();
    let output = setup.fetch(&["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    let requests: Vec<String> = setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.contains(DB_GZ))
        .collect();
    assert_eq!(
        requests,
        vec![
            format!("GET /r/data/{TAG}/{DB_GZ} bytes=7000- -> 302"),
            format!("GET /data/{TAG}/{DB_GZ} bytes=7000- -> 206")
        ],
    );
    assert_eq!(sha256_file(&path), artifact.sha256);
}

#[test]
fn concurrent_fetches_leave_one_valid_cache_entry() {
    let setup = Setup::new();
    let spawn = || {
        dbrelease()
            .args([
                "fetch",
                "--base-url",
                &setup.base_url(),
                "--tag",
                TAG,
                "all",
            ])
            .arg("--cache-dir")
            .arg(setup.cache())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert!(output.status.success(), "{}", text(output));
        assert_eq!(stdout(output), stdout(&outputs[0]));
    }
    let manifest = manifest(&setup.dir.path().join(format!("dist-{TAG}")));
    for artifact in &manifest.artifacts {
        assert_eq!(
            sha256_file(&setup.tag_dir().join(&artifact.name)),
            artifact.sha256,
            "{}",
            artifact.name
        );
    }
    let parts: Vec<String> = list_dir(&setup.tag_dir())
        .into_iter()
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");
    // Each file was downloaded once: the waiting runs found it in place.
    let gz_downloads = setup
        .server
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("GET /data/{TAG}/{DB_GZ}")))
        .count();
    assert_eq!(gz_downloads, 1);
}

#[test]
fn offline_without_a_cache_and_unknown_names_say_what_to_do() {
    let setup = Setup::new();
    let output = setup.fetch(&["--offline"]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("run once without --offline"),
        "{}",
        text(&output)
    );
    assert!(setup.server.requests().is_empty());

    let output = setup.fetch(&["--tag", TAG, "no_such_table"]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no_such_table") && stderr.contains("daily_availability.parquet"),
        "{stderr}"
    );

    // A version folder given as the prefix: there is no versions.json to find "latest" in.
    let output = dbrelease()
        .args([
            "fetch",
            "--base-url",
            &format!("{}/{TAG}", setup.base_url()),
        ])
        .arg("--cache-dir")
        .arg(setup.cache())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("is --base-url the prefix that holds versions.json"),
        "{}",
        text(&output)
    );

    let output = setup.fetch(&["--tag", "v9.9.9"]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no release v9.9.9"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_changed_cache_file_is_detected_and_fetched_again() {
    let setup = Setup::new();
    let output = setup.fetch(&["--tag", TAG, "--decompress"]);
    assert!(output.status.success(), "{}", text(&output));
    let path = PathBuf::from(stdout(&output));
    // A user opened the cached database read-write and changed it.
    let conn = duckdb::Connection::open(&path).unwrap();
    conn.execute_batch("DELETE FROM daily_availability; CHECKPOINT;")
        .unwrap();
    drop(conn);
    let copy = setup.dir.path().join("copies/copy.duckdb");
    let again = setup.fetch(&[
        "--tag",
        TAG,
        "--decompress",
        "--out",
        copy.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(sha256_file(&path), fixture_sha256());
    assert_eq!(stdout(&again), copy.to_str().unwrap());
    assert_eq!(sha256_file(&copy), fixture_sha256());
}

#[test]
fn fetch_from_github_follows_the_redirect_and_revalidates_latest() {
    let dir = tempfile::tempdir().unwrap();
    let fake = GitHubFake::start("owner", "data", "token-123");
    let publish = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", "token-123")
        .args([
            "-q",
            "publish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            TAG,
        ])
        .arg("--config")
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(dir.path().join("dist"))
        .output()
        .unwrap();
    assert!(publish.status.success(), "{}", text(&publish));

    let fetch = |args: &[&str]| {
        dbrelease()
            .env("GITHUB_API_URL", &fake.url)
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .env("XDG_CACHE_HOME", dir.path().join("xdg"))
            .args(["fetch", "--repo", "owner/data"])
            .args(args)
            .output()
            .unwrap()
    };
    let output = fetch(&["--decompress"]);
    assert!(output.status.success(), "{}", text(&output));
    let path = PathBuf::from(stdout(&output));
    assert_eq!(
        path,
        dir.path()
            .join("xdg/dbrelease/owner/data")
            .join(TAG)
            .join("binance_futures_availability.duckdb")
    );
    assert_eq!(sha256_file(&path), fixture_sha256());

    fake.state.lock().unwrap().requests.clear();
    let again = fetch(&["--decompress"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(stdout(&again), stdout(&output));
    assert_eq!(
        fake.state.lock().unwrap().requests,
        vec!["GET /repos/owner/data/releases/latest".to_string()]
    );
}

/// On GitHub, a rolling tag is revalidated by its manifest asset's digest: unchanged, nothing is
/// downloaded again; published again with other data (`--replace`), the next fetch follows it.
#[test]
fn a_rolling_tag_on_github_is_followed_when_published_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    std::fs::copy(
        repo_root().join("fixtures/binance_futures_availability.duckdb"),
        &db,
    )
    .unwrap();
    write_config(dir.path(), &db, "");
    let fake = GitHubFake::start("owner", "data", "token-123");
    let publish = |epoch: &str| {
        let output = dbrelease()
            .env("GITHUB_API_URL", &fake.url)
            .env("GITHUB_TOKEN", "token-123")
            .env("SOURCE_DATE_EPOCH", epoch)
            .args([
                "-q",
                "publish",
                "--github",
                "--repo",
                "owner/data",
                "--tag",
                "nightly",
            ])
            .args(["--prerelease", "--replace", "--config"])
            .arg(dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(dir.path().join("dist"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    };
    let fetch = || {
        let output = dbrelease()
            .env("GITHUB_API_URL", &fake.url)
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .args([
                "fetch",
                "--repo",
                "owner/data",
                "--tag",
                "nightly",
                "--json",
            ])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["daily_symbol_counts.parquet"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let file = report["files"][0].clone();
        (
            file["sha256"].as_str().unwrap().to_string(),
            file["downloaded"].as_bool().unwrap(),
        )
    };
    publish("1700000000");
    let (first, downloaded) = fetch();
    assert!(downloaded);
    // Unchanged: answered from the cache after one look at the release.
    let (again, downloaded) = fetch();
    assert_eq!((again.as_str(), downloaded), (first.as_str(), false));
    // The nightly is published again with other data.
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1; CHECKPOINT;",
    )
    .unwrap();
    drop(conn);
    publish("1700086400");
    let (latest, downloaded) = fetch();
    assert!(downloaded, "the new bytes were downloaded");
    assert_ne!(latest, first);
    assert_eq!(
        latest,
        sha256_file(&dir.path().join("dist/daily_symbol_counts.parquet"))
    );
}

#[test]
fn the_readme_python_recipe_downloads_and_verifies_without_dbrelease() {
    let setup = Setup::new();
    let script = repo_root().join("examples/python/fetch_release.py");
    let work = setup.dir.path().join("python");
    std::fs::create_dir_all(&work).unwrap();
    let run = |base: &str| {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(base)
            .current_dir(&work)
            .output()
            .unwrap()
    };
    let output = run(&format!("{}/{TAG}", setup.base_url()));
    assert!(output.status.success(), "{}", text(&output));
    let path = PathBuf::from(stdout(&output));
    assert_eq!(sha256_file(&path), fixture_sha256());

    // A tampered database is refused and not kept.
    setup.server.tamper(&format!("data/{TAG}/{DB_GZ}"));
    std::fs::remove_file(work.join(DB_GZ)).unwrap();
    let output = run(&format!("{}/{TAG}", setup.base_url()));
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not match SHA256SUMS"),
        "{}",
        text(&output)
    );
    assert!(!work.join(DB_GZ).exists());
}

#[test]
fn verify_checks_a_copy_under_a_url_prefix() {
    let setup = Setup::new();
    let verify = || {
        dbrelease()
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .args(["verify", "--tag", TAG, "--url", &setup.base_url()])
            .current_dir(setup.dir.path())
            .output()
            .unwrap()
    };
    let output = verify();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("verified: every file matches the manifest"),
        "{}",
        text(&output)
    );

    setup
        .server
        .tamper(&format!("data/{TAG}/daily_symbol_counts.parquet"));
    setup
        .server
        .state
        .lock()
        .unwrap()
        .files
        .remove(&format!("data/{TAG}/datapackage.json"));
    let output = verify();
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("daily_symbol_counts.parquet: published")
            && stderr.contains("datapackage.json is not published"),
        "{stderr}"
    );
}

#[test]
fn a_manifest_naming_paths_outside_the_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = FileServer::start();
    let dist = build_fixture(dir.path(), TAG);
    // A hostile or broken mirror: an artifact name that would climb out of the cache.
    let manifest_path = dist.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(
        &manifest_path,
        original.replace(
            "\"daily_symbol_counts.parquet\"",
            "\"../../escape.parquet\"",
        ),
    )
    .unwrap();
    server.publish_dist("data", TAG, &dist, "2026-01-01T00:00:00Z");
    let output = dbrelease()
        .args([
            "fetch",
            "--base-url",
            &format!("{}/data", server.url),
            "all",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert_exit_with(&output, EXIT_FAILURE, "not a plain file name");
    let escaped: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with("escape.parquet"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn transient_server_errors_are_retried_and_a_lasting_one_is_reported() {
    let setup = Setup::new();
    let key = format!("data/{TAG}/{DB_GZ}");
    setup.server.fail_next(&key, &[503, 502]);
    let output = setup.fetch(&["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    let statuses: Vec<String> = setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with(&format!("GET /{key}")))
        .map(|r| r.rsplit(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["503", "502", "200"]);

    // Still failing after every retry: exit 5, the file named, nothing cached.
    setup.server.fail_next(
        &format!("data/{TAG}/daily_availability.parquet"),
        &[500; 20],
    );
    let output = setup.fetch(&["--tag", TAG, "daily_availability"]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("downloading daily_availability.parquet")
            && stderr.contains("kept failing after 7 attempts")
            && stderr.contains("run the command again to resume"),
        "{stderr}"
    );
    assert!(!setup.tag_dir().join("daily_availability.parquet").exists());
}

#[test]
fn fetch_out_never_silently_replaces_a_file_it_did_not_write() {
    let setup = Setup::new();
    let target = setup.dir.path().join("mine.duckdb.gz");
    std::fs::write(&target, "the user's own file").unwrap();
    let out = target.to_str().unwrap();
    let refused = setup.fetch(&["--tag", TAG, "--out", out]);
    assert_eq!(
        refused.status.code(),
        Some(EXIT_CONFIG),
        "{}",
        text(&refused)
    );
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the user's own file"
    );

    let forced = setup.fetch(&["--tag", TAG, "--out", out, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    // Fetching the same file again over its own earlier copy needs no --force.
    let again = setup.fetch(&["--tag", TAG, "--out", out]);
    assert!(again.status.success(), "{}", text(&again));
    assert_ne!(std::fs::read(&target).unwrap(), b"the user's own file");
}

/// A server we do not control cannot make `fetch` write outside its cache (a manifest whose
/// `source.file_name` climbs out of it) or buffer without bound (a huge versions.json).
#[test]
fn a_hostile_origin_cannot_reach_outside_the_cache_or_exhaust_memory() {
    let setup = Setup::new();
    let manifest_key = format!("data/{TAG}/manifest.json");
    {
        let mut state = setup.server.state.lock().unwrap();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&state.files[&manifest_key]).unwrap();
        manifest["source"]["file_name"] = "../../../../../../outside.duckdb".into();
        state
            .files
            .insert(manifest_key, serde_json::to_vec(&manifest).unwrap());
        // No index: the manifest is taken as served (a plain mirror).
        state.files.remove("data/versions.json");
    }
    let output = setup.fetch(&["--tag", TAG, "--decompress"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("not a plain file name"),
        "{}",
        text(&output)
    );
    let escaped: Vec<PathBuf> = walk(setup.dir.path())
        .into_iter()
        .filter(|p| p.ends_with("outside.duckdb"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
    assert!(!setup.tag_dir().join("manifest.json").exists());

    setup
        .server
        .state
        .lock()
        .unwrap()
        .files
        .insert("data/versions.json".into(), vec![b' '; 20 << 20]);
    let output = setup.fetch(&["--list"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("larger than 16 MiB"),
        "{}",
        text(&output)
    );
}

/// The fixture's config with the database cut into parts of `part_size` bytes.
fn config_in_parts(dir: &Path, part_size: u64) -> PathBuf {
    let config = std::fs::read_to_string(repo_root().join("dbrelease.toml"))
        .unwrap()
        .replace(
            "database = \"fixtures/",
            &format!("database = \"{}/fixtures/", repo_root().display()),
        );
    let path = dir.join("parts.toml");
    std::fs::write(
        &path,
        format!("{config}\n[database]\npart_size = {part_size}\n"),
    )
    .unwrap();
    path
}

#[test]
fn a_database_in_parts_is_fetched_in_parallel_resumed_and_joined_into_one_verified_file() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let built = dbrelease()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["-q", "build", "--tag", TAG, "--config"])
        .arg(config_in_parts(dir.path(), 16384))
        .arg("--out")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built));
    let manifest = manifest(&dist);
    let parts: Vec<_> = manifest
        .artifacts
        .iter()
        .filter(|a| a.part_of.is_some())
        .collect();
    assert!(parts.len() >= 3, "{:#?}", manifest.artifacts);
    assert_eq!(
        manifest.manifest_version, 2,
        "a release in parts is format 2"
    );
    assert!(
        !dist.join(DB_GZ).exists(),
        "the whole .gz is not an artifact"
    );
    let whole = parts[0].part_of.clone().unwrap();
    assert_eq!(whole.file, DB_GZ);
    assert_eq!(parts[0].name, format!("{DB_GZ}.001"));
    // `cat` restores the one gzip stream, which gunzips to the database.
    let mut joined = Vec::new();
    for part in &parts {
        assert!(part.bytes <= 16384);
        joined.extend(std::fs::read(dist.join(&part.name)).unwrap());
    }
    assert_eq!(sha256_bytes(&joined), whole.sha256);
    let mut database = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&joined[..]),
        &mut database,
    )
    .unwrap();
    assert_eq!(sha256_bytes(&database), fixture_sha256());
    // SHA256SUMS lists the parts, and coreutils checks them.
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "--quiet", "SHA256SUMS"])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    // datapackage.json: one resource whose path lists the parts.
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("datapackage.json")).unwrap()).unwrap();
    let resource = package["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == DB_GZ)
        .unwrap();
    assert_eq!(resource["path"].as_array().unwrap().len(), parts.len());
    assert_eq!(resource["hash"], format!("sha256:{}", whole.sha256));

    let server = FileServer::start();
    server.publish_dist("data", TAG, &dist, "2026-01-01T00:00:00Z");
    // The second part's connection drops; its retry asks only for the rest.
    server.drop_once_after(&format!("data/{TAG}/{DB_GZ}.002"), 3000);
    let cache = dir.path().join("cache");
    let fetch = |args: &[&str]| {
        dbrelease()
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .args(["fetch", "--base-url", &format!("{}/data", server.url)])
            .arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .output()
            .unwrap()
    };
    let output = fetch(&["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    let path = PathBuf::from(stdout(&output));
    assert_eq!(path.file_name().unwrap().to_string_lossy(), DB_GZ);
    assert_eq!(sha256_file(&path), whole.sha256, "one file, the whole .gz");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(&format!("{DB_GZ}.002 bytes=3000- -> 206"))),
        "{:#?}",
        server.requests()
    );
    let tag_dir = path.parent().unwrap().to_path_buf();
    assert!(
        !list_dir(&tag_dir).iter().any(|name| name.contains(".gz.0")),
        "the parts are removed once joined: {:?}",
        list_dir(&tag_dir)
    );

    // A run killed mid-way: part 1 downloaded, part 2 half, the rest not started. The next
    // run downloads only what is missing, then joins and decompresses.
    std::fs::remove_file(&path).unwrap();
    std::fs::copy(dist.join(&parts[0].name), tag_dir.join(&parts[0].name)).unwrap();
    let second = std::fs::read(dist.join(&parts[1].name)).unwrap();
    std::fs::write(
        tag_dir.join(format!(".{}.part", parts[1].name)),
        &second[..5000],
    )
    .unwrap();
    server.clear_requests();
    let output = fetch(&["--tag", TAG, "--decompress"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        sha256_file(&PathBuf::from(stdout(&output))),
        fixture_sha256()
    );
    let requests: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.contains(".gz.0"))
        .collect();
    assert!(
        !requests.iter().any(|r| r.contains(&parts[0].name)),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains(&format!("{} bytes=5000- -> 206", parts[1].name))),
        "{requests:#?}"
    );
    assert_eq!(
        requests.len(),
        parts.len() - 1,
        "each missing part once: {requests:#?}"
    );
}

#[test]
fn a_database_in_parts_publishes_to_github_verifies_and_fetches_as_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let fake = GitHubFake::start("owner", "data", "token-123");
    let dist = dir.path().join("dist");
    let publish = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", "token-123")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "-q",
            "publish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            TAG,
        ])
        .arg("--config")
        .arg(config_in_parts(dir.path(), 16384))
        .arg("--out")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(publish.status.success(), "{}", text(&publish));
    let manifest = manifest(&dist);
    let parts: Vec<&str> = manifest
        .artifacts
        .iter()
        .filter(|a| a.part_of.is_some())
        .map(|a| a.name.as_str())
        .collect();
    let release = &fake.releases(TAG)[0];
    for part in &parts {
        let asset = release.assets.iter().find(|a| a.name == *part).unwrap();
        assert_eq!(asset.data, std::fs::read(dist.join(part)).unwrap());
    }
    assert!(!release.assets.iter().any(|a| a.name == DB_GZ));
    // The notes download the parts with one curl glob and join them.
    let glob = format!("{DB_GZ}.[001-{:03}]", parts.len());
    assert!(release.body.contains(&glob), "{}", release.body);
    assert!(
        release
            .body
            .contains(&format!("cat {DB_GZ}.[0-9][0-9][0-9] | gunzip"))
    );

    let verify = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", "token-123")
        .args(["verify", "--github", "--repo", "owner/data", "--tag", TAG])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    let fetch = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .args(["fetch", "--repo", "owner/data", "--decompress"])
        .output()
        .unwrap();
    assert!(fetch.status.success(), "{}", text(&fetch));
    assert_eq!(
        sha256_file(&PathBuf::from(stdout(&fetch))),
        fixture_sha256()
    );
}

/// The fixture's config with its tables cut into files of at most `part_size` bytes of row
/// groups of 100 rows.
fn config_with_table_parts(dir: &Path, part_size: u64) -> PathBuf {
    let config = std::fs::read_to_string(repo_root().join("dbrelease.toml"))
        .unwrap()
        .replace(
            "database = \"fixtures/",
            &format!("database = \"{}/fixtures/", repo_root().display()),
        )
        .replace(
            "row_group_rows = 122880",
            &format!("row_group_rows = 100\npart_size = {part_size}"),
        );
    let path = dir.join("table-parts.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn a_table_in_parts_publishes_verifies_and_fetches_every_file_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = GitHubFake::start("owner", "data", "token-123");
    let dist = dir.path().join("dist");
    let publish = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", "token-123")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "-q",
            "publish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            TAG,
        ])
        .arg("--config")
        .arg(config_with_table_parts(dir.path(), 8192))
        .arg("--out")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(publish.status.success(), "{}", text(&publish));
    let manifest = manifest(&dist);
    let tables = manifest.tables();
    let daily = tables
        .iter()
        .find(|t| t.info.name == "daily_availability")
        .unwrap();
    let parts = daily.file_names();
    assert!(parts.len() >= 2, "{parts:?}");
    // Every file is on the release, and the notes read them as one table.
    let release = &fake.releases(TAG)[0];
    for part in &parts {
        let asset = release.assets.iter().find(|a| a.name == *part).unwrap();
        assert_eq!(asset.data, std::fs::read(dist.join(part)).unwrap());
    }
    let base = format!("https://github.com/owner/data/releases/download/{TAG}");
    let listed: Vec<String> = parts.iter().map(|p| format!("'{base}/{p}'")).collect();
    assert!(
        release
            .body
            .contains(&format!("read_parquet([{}])", listed.join(", "))),
        "{}",
        release.body
    );
    // The data card shows the table once, with its total rows.
    let summary = format!(
        "<summary><b>daily_availability</b>: {} rows",
        daily.info.rows
    );
    assert_eq!(
        release.body.matches(&summary).count(),
        1,
        "{}",
        release.body
    );
    let verify = dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", "token-123")
        .args(["verify", "--github", "--repo", "owner/data", "--tag", TAG])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // `fetch TABLE` gives every file, verified; a connection dropped in the second resumes.
    let server = FileServer::start();
    server.publish_dist("data", TAG, &dist, "2026-01-01T00:00:00Z");
    server.drop_once_after(&format!("data/{TAG}/{}", parts[1]), 3000);
    let fetch = dbrelease()
        .env("DBRELEASE_RETRY_MIN_MS", "5")
        .args(["fetch", "--base-url", &format!("{}/data", server.url)])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["--tag", TAG, "daily_availability"])
        .output()
        .unwrap();
    assert!(fetch.status.success(), "{}", text(&fetch));
    let paths: Vec<PathBuf> = stdout(&fetch).lines().map(PathBuf::from).collect();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, parts, "every file of the table, in order");
    for (path, artifact) in paths.iter().zip(&daily.artifacts) {
        assert_eq!(sha256_file(path), artifact.sha256);
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(&format!("{} bytes=3000- -> 206", parts[1]))),
        "{:#?}",
        server.requests()
    );
    // The fetched files are the table.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let list: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    let rows: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM read_parquet([{}])", list.join(", ")),
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(rows as u64, daily.info.rows);
}
