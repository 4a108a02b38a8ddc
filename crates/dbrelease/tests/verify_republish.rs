//! `dbrelease verify` and `dbrelease republish` against the GitHub fake and the S3 server.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::github_fake::GitHubFake;
use support::s3_server::{S3Server, aws_env};
use support::*;

const TOKEN: &str = "token-verify-123";
const BUCKET: &str = "releases";
const TAG: &str = "v1.0.0";

struct Setup {
    dir: tempfile::TempDir,
    fake: GitHubFake,
    s3: S3Server,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.duckdb");
        std::fs::copy(
            repo_root().join("fixtures/binance_futures_availability.duckdb"),
            &db,
        )
        .unwrap();
        let s3 = S3Server::start(BUCKET);
        write_config(
            dir.path(),
            &db,
            &format!(
                "[github]\nrepo = \"owner/data\"\n[s3]\nbucket = \"{BUCKET}\"\nprefix = \"data\"\nendpoint = \"{}\"\n",
                s3.url
            ),
        );
        Setup {
            dir,
            fake: GitHubFake::start("owner", "data", TOKEN),
            s3,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = dbrelease();
        command
            .current_dir(self.dir.path())
            .env("GITHUB_API_URL", &self.fake.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .env_remove("GITHUB_REPOSITORY")
            .args(args);
        aws_env(&mut command);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn publish(&self, targets: &[&str]) {
        let mut args = vec!["-q", "publish", "--tag", TAG];
        args.extend(targets);
        let output = self.run(&args);
        assert!(output.status.success(), "{}", text(&output));
    }

    fn dist(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    /// Changes one byte of a GitHub asset in place (same size).
    fn corrupt_asset(&self, name: &str) {
        let mut state = self.fake.state.lock().unwrap();
        let asset = state
            .releases
            .iter_mut()
            .flat_map(|r| r.assets.iter_mut())
            .find(|a| a.name == name)
            .unwrap();
        let middle = asset.data.len() / 2;
        let mut corrupted = asset.data.to_vec();
        corrupted[middle] ^= 0xff;
        asset.data = corrupted.into();
    }

    fn delete_asset(&self, name: &str) {
        let mut state = self.fake.state.lock().unwrap();
        for release in state.releases.iter_mut() {
            release.assets.retain(|a| a.name != name);
        }
    }

    fn change_database(&self) {
        let conn = duckdb::Connection::open(self.dir.path().join("data.duckdb")).unwrap();
        conn.execute_batch(
            "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1; CHECKPOINT;",
        )
        .unwrap();
    }

    /// The GitHub release holds exactly the published manifest's files, byte for byte.
    fn assert_github_matches(&self, expected: &Path) {
        let releases = self.fake.releases(TAG);
        assert_eq!(releases.len(), 1);
        for name in published_names(expected) {
            let asset = releases[0]
                .assets
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} missing on GitHub"));
            assert_eq!(
                asset.data,
                std::fs::read(expected.join(&name)).unwrap(),
                "{name}"
            );
        }
    }
}

fn published_names(dist: &Path) -> Vec<String> {
    manifest(dist)
        .artifacts
        .iter()
        .map(|a| a.name.clone())
        .chain(["datapackage.json", "SHA256SUMS", "manifest.json"].map(String::from))
        .collect()
}

/// A copy of the dist folder as published, to compare against later.
fn snapshot(dist: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in published_names(dist) {
        std::fs::copy(dist.join(&name), to.join(&name)).unwrap();
    }
}

#[test]
fn verify_passes_on_a_fresh_release_and_lists_every_mismatch() {
    let setup = Setup::new();
    setup.publish(&["--github", "--s3"]);
    for target in ["--github", "--s3"] {
        let output = setup.run(&["verify", "--tag", TAG, target]);
        assert!(output.status.success(), "{target}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stdout)
                .contains("verified: every file matches the manifest"),
            "{}",
            text(&output)
        );
    }

    setup.corrupt_asset("daily_availability.parquet");
    setup.delete_asset("daily_symbol_counts.parquet");
    let output = setup.run(&["verify", "--tag", TAG, "--github"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("MISMATCH") && stdout.contains("daily_availability.parquet"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(2 problems)"), "{stderr}");
    assert!(
        stderr.contains("daily_availability.parquet: published")
            && stderr.contains(
                "daily_symbol_counts.parquet is listed in the manifest but not published"
            ),
        "{stderr}"
    );

    // S3: an object changed behind the manifest's back.
    setup
        .s3
        .truncate(BUCKET, &format!("data/{TAG}/data.duckdb.gz"));
    let output = setup.run(&["verify", "--tag", TAG, "--s3", "--json"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    let checks: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let bad: Vec<&str> = checks[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(bad, ["data.duckdb.gz"]);
}

#[test]
fn republish_restores_lost_assets_then_does_nothing() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    let published = setup.dir.path().join("published");
    snapshot(&setup.dist(), &published);
    // A maintainer deleted an asset by hand; the local dist folder is gone too.
    setup.delete_asset("daily_symbol_counts.parquet");
    setup.delete_asset("SHA256SUMS");
    std::fs::remove_dir_all(setup.dist()).unwrap();

    let output = setup.run(&["republish", "--tag", TAG, "--github", "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sources: Vec<(String, String)> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        sources.contains(&("daily_availability.parquet".into(), "github".into()))
            && sources.contains(&("daily_symbol_counts.parquet".into(), "rebuild".into())),
        "{sources:?}"
    );
    setup.assert_github_matches(&published);
    assert!(
        setup
            .run(&["verify", "--tag", TAG, "--github"])
            .status
            .success()
    );

    // Again: nothing to do, nothing sent.
    let uploaded = setup.fake.state.lock().unwrap().uploads_bytes;
    let output = setup.run(&["republish", "--tag", TAG, "--github"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("owner/data v1.0.0: up to date"),
        "{}",
        text(&output)
    );
    assert_eq!(setup.fake.state.lock().unwrap().uploads_bytes, uploaded);
}

#[test]
fn republish_mirrors_a_github_release_to_s3_added_later() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    let published = setup.dir.path().join("published");
    snapshot(&setup.dist(), &published);
    // The data moved on since: a rebuild would differ, so everything must come from GitHub.
    setup.change_database();
    std::fs::remove_dir_all(setup.dist()).unwrap();

    let output = setup.run(&["republish", "--tag", TAG, "--s3"]);
    assert!(output.status.success(), "{}", text(&output));
    for name in published_names(&published) {
        assert_eq!(
            setup.s3.object(BUCKET, &format!("data/{TAG}/{name}")),
            Some(std::fs::read(published.join(&name)).unwrap()),
            "{name}"
        );
    }
    let index: serde_json::Value =
        serde_json::from_slice(&setup.s3.object(BUCKET, "data/versions.json").unwrap()).unwrap();
    assert_eq!(index["versions"][0]["tag"], TAG);
    assert!(
        setup
            .run(&["verify", "--tag", TAG, "--s3"])
            .status
            .success()
    );

    let keys = setup.s3.keys(BUCKET);
    let output = setup.run(&["republish", "--tag", TAG, "--s3", "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["publish"]["s3"]["up_to_date"], true, "{report:#}");
    assert_eq!(setup.s3.keys(BUCKET), keys);
}

#[test]
fn republish_never_invents_new_bytes_for_an_old_tag() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    setup.delete_asset("daily_symbol_counts.parquet");
    setup.change_database();
    std::fs::remove_dir_all(setup.dist()).unwrap();
    let uploaded = setup.fake.state.lock().unwrap().uploads_bytes;
    let output = setup.run(&["republish", "--tag", TAG, "--github"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot repair daily_symbol_counts.parquet of v1.0.0")
            && stderr.contains("publish the current data under a new tag"),
        "{stderr}"
    );
    assert_eq!(setup.fake.state.lock().unwrap().uploads_bytes, uploaded);
}

#[test]
fn a_damaged_asset_is_replaced_only_with_replace() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    let published = setup.dir.path().join("published");
    snapshot(&setup.dist(), &published);
    setup.corrupt_asset("data.duckdb.gz");

    let output = setup.run(&["republish", "--tag", TAG, "--github"]);
    assert_exit_with(&output, EXIT_REFUSED, "--replace");
    let output = setup.run(&["republish", "--tag", TAG, "--github", "--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_github_matches(&published);
    assert!(
        setup
            .run(&["verify", "--tag", TAG, "--github"])
            .status
            .success()
    );
}

#[test]
fn verify_inside_github_actions_writes_a_summary() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    setup.corrupt_asset("daily_availability.parquet");
    let summary = setup.dir.path().join("summary.md");
    let output = setup
        .command(&["verify", "--tag", TAG, "--github"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(EXIT_FAILURE),
        "{}",
        text(&output)
    );
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(
        markdown.contains("verify github owner/data v1.0.0: MISMATCH")
            && markdown.contains("| daily_availability.parquet |")
            && markdown.contains("**mismatch**"),
        "{markdown}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("::error title=dbrelease::release v1.0.0 does not match its manifest"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_broken_s3_target_stops_the_publish_before_github_is_written() {
    let setup = Setup::new();
    let output = setup.run(&[
        "publish",
        "--tag",
        TAG,
        "--github",
        "--s3",
        "--s3-bucket",
        "no-such-bucket",
    ]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bucket no-such-bucket does not exist"),
        "{}",
        text(&output)
    );
    assert!(
        setup.fake.releases(TAG).is_empty(),
        "nothing may be published to GitHub when S3 cannot take the release"
    );
}

/// Mirroring a GitHub release to S3 takes every file from GitHub: the database is not needed,
/// so a config without one (a mirror job on another machine) works; only a file that must be
/// rebuilt asks for it.
#[test]
fn republish_mirrors_without_a_database_and_asks_for_one_only_to_rebuild() {
    let setup = Setup::new();
    setup.publish(&["--github"]);
    let config = setup.dir.path().join("dbrelease.toml");
    let without_db: String = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("database"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&config, without_db).unwrap();
    std::fs::remove_dir_all(setup.dist()).unwrap();
    let output = setup.run(&["-q", "republish", "--tag", TAG, "--github", "--s3"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        setup
            .run(&["verify", "--tag", TAG, "--s3"])
            .status
            .success()
    );

    // A file lost everywhere would have to be rebuilt: now the database is asked for.
    setup.delete_asset("daily_symbol_counts.parquet");
    setup
        .s3
        .remove(BUCKET, &format!("data/{TAG}/daily_symbol_counts.parquet"));
    std::fs::remove_dir_all(setup.dist()).unwrap();
    let output = setup.run(&["republish", "--tag", TAG, "--github", "--s3"]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(text(&output).contains("--db"), "{}", text(&output));
}
