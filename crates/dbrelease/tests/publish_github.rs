//! `dbrelease publish --github` against a stateful GitHub fake on loopback.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::github_fake::{Fault, GitHubFake, On};
use support::*;

const TOKEN: &str = "ghs_s3cr3tT0kenValue1234567890";

struct Setup {
    dir: tempfile::TempDir,
    fake: GitHubFake,
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
        write_config(
            dir.path(),
            &db,
            "[export.tables.daily_availability]\nsort_by = [\"date\", \"symbol\"]\n",
        );
        Setup {
            dir,
            fake: GitHubFake::start("owner", "data", TOKEN),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("data.duckdb")
    }

    fn publish(&self, extra: &[&str]) -> Output {
        self.publish_with_token(Some(TOKEN), extra)
    }

    fn publish_with_token(&self, token: Option<&str>, extra: &[&str]) -> Output {
        self.publish_command(token, "v1.0.0", extra)
            .output()
            .unwrap()
    }

    fn publish_tag(&self, tag: &str, extra: &[&str]) -> Output {
        self.publish_command(Some(TOKEN), tag, extra)
            .output()
            .unwrap()
    }

    fn publish_command(&self, token: Option<&str>, tag: &str, extra: &[&str]) -> Command {
        let mut command = dbrelease();
        command
            .env("GITHUB_API_URL", &self.fake.url)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .env_remove("GITHUB_REPOSITORY")
            .args(["publish", "--github", "--repo", "owner/data", "--tag", tag])
            .arg("--config")
            .arg(self.dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(self.dir.path().join("dist"))
            .args(extra);
        if let Some(token) = token {
            command.env("GITHUB_TOKEN", token);
        }
        command
    }

    /// Asserts the tag has exactly one published release holding exactly our files.
    fn assert_release_matches_dist(&self) {
        let releases = self.fake.releases("v1.0.0");
        assert_eq!(releases.len(), 1, "expected one release: {releases:#?}");
        let release = &releases[0];
        assert!(!release.draft, "release left as a draft");
        let dist = self.dir.path().join("dist");
        let mut expected: Vec<String> = manifest(&dist)
            .artifacts
            .iter()
            .map(|a| a.name.clone())
            .chain(["datapackage.json", "SHA256SUMS", "manifest.json"].map(String::from))
            .collect();
        expected.sort();
        let mut names: Vec<String> = release.assets.iter().map(|a| a.name.clone()).collect();
        names.sort();
        assert_eq!(names, expected);
        for asset in &release.assets {
            assert_eq!(asset.state, "uploaded", "{}", asset.name);
            assert_eq!(
                asset.data,
                std::fs::read(dist.join(&asset.name)).unwrap(),
                "{} differs from dist",
                asset.name
            );
        }
    }

    fn change_database(&self) {
        let conn = duckdb::Connection::open(self.db()).unwrap();
        conn.execute_batch(
            "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1; CHECKPOINT;",
        )
        .unwrap();
    }
}

fn uploads(fake: &GitHubFake) -> Vec<String> {
    fake.state
        .lock()
        .unwrap()
        .events
        .iter()
        .filter_map(|(what, _)| what.strip_prefix("upload ").map(String::from))
        .collect()
}

#[test]
fn first_publish_creates_one_verified_release_with_the_manifest_last() {
    let setup = Setup::new();
    let notes = setup.dir.path().join("notes.md");
    std::fs::write(&notes, "## Changes\n- more data\n").unwrap();
    let output = setup.publish(&[
        "--notes-file",
        notes.to_str().unwrap(),
        "--title",
        "Data v1.0.0",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
    let release = &setup.fake.releases("v1.0.0")[0];
    // The user's notes, then the data section with rows, sizes, sha256 and snippets.
    assert!(
        release
            .body
            .starts_with("## Changes\n- more data\n\n<!-- dbrelease:data -->\n## Data"),
        "{}",
        release.body
    );
    let base = "https://github.com/owner/data/releases/download/v1.0.0";
    let dist = manifest(&setup.dir.path().join("dist"));
    for artifact in &dist.artifacts {
        assert!(
            release
                .body
                .contains(&format!("[{0}]({base}/{0})", artifact.name))
                && release.body.contains(&artifact.sha256),
            "{} missing from the notes:\n{}",
            artifact.name,
            release.body
        );
    }
    assert!(release.body.contains("| 720 |"), "{}", release.body);
    assert!(release.body.contains("First release of this dataset."));
    assert!(release.body.contains(&format!(
        "read_parquet('{base}/daily_availability.parquet')"
    )));
    assert!(release.body.contains(&format!(
        "pl.scan_parquet(\"{base}/daily_availability.parquet\")"
    )));
    assert!(
        release
            .body
            .contains("sha256sum --check --ignore-missing SHA256SUMS")
    );
    assert_eq!(release.name, "Data v1.0.0");
    let order = uploads(&setup.fake);
    assert_eq!(
        order.last().map(String::as_str),
        Some("manifest.json"),
        "{order:?}"
    );
    let metadata_start = order.iter().position(|n| n == "datapackage.json").unwrap();
    assert!(
        order[..metadata_start]
            .iter()
            .all(|n| n.ends_with(".parquet") || n.ends_with(".gz") || n == "catalog.duckdb"),
        "artifacts come before metadata: {order:?}"
    );
    // Published only after every asset was uploaded.
    let events = setup.fake.state.lock().unwrap().events.clone();
    assert_eq!(events.last().unwrap().0, "update release");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("release: https://github.com/owner/data/releases/tag/v1.0.0"),
        "{stdout}"
    );
}

/// The benchmark's fake keeps a 22 GiB release in files (`github_fake_server … SPOOL_DIR`): it
/// must serve exactly what it was sent, as the in-memory one does.
#[test]
fn the_fake_spooled_to_files_serves_what_was_uploaded() {
    let setup = Setup::new();
    let spool = setup.dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    setup.fake.state.lock().unwrap().spool = Some(spool.clone());
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
    let assets = setup.fake.releases("v1.0.0")[0].assets.len();
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), assets);
}

#[test]
fn an_identical_rerun_uploads_nothing() {
    let setup = Setup::new();
    assert!(setup.publish(&[]).status.success());
    let sent = setup.fake.state.lock().unwrap().uploads_bytes;
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        setup.fake.state.lock().unwrap().uploads_bytes,
        sent,
        "bytes were re-uploaded"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{}",
        text(&output)
    );
    setup.assert_release_matches_dist();
}

#[test]
fn a_rebuild_that_only_changes_created_at_is_up_to_date() {
    // Without SOURCE_DATE_EPOCH, created_at is the build time; the data is what counts.
    let setup = Setup::new();
    let run = |out: &str| {
        dbrelease()
            .env("GITHUB_API_URL", &setup.fake.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("SOURCE_DATE_EPOCH")
            .args([
                "publish",
                "--github",
                "--repo",
                "owner/data",
                "--tag",
                "v1.0.0",
                "--config",
            ])
            .arg(setup.dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(setup.dir.path().join(out))
            .output()
            .unwrap()
    };
    assert!(run("dist").status.success());
    let first = manifest(&setup.dir.path().join("dist")).created_at;
    let sent = setup.fake.state.lock().unwrap().uploads_bytes;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let output = run("dist2");
    assert!(output.status.success(), "{}", text(&output));
    assert_ne!(manifest(&setup.dir.path().join("dist2")).created_at, first);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{}",
        text(&output)
    );
    assert_eq!(setup.fake.state.lock().unwrap().uploads_bytes, sent);
}

#[test]
fn changed_data_is_refused_without_replace_and_swapped_in_with_it() {
    let setup = Setup::new();
    assert!(setup.publish(&[]).status.success());
    let before: Vec<String> = setup.fake.releases("v1.0.0")[0]
        .assets
        .iter()
        .map(|a| a.name.clone())
        .collect();
    setup.change_database();

    let output = setup.publish(&[]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("daily_symbol_counts.parquet"), "{stderr}");
    assert!(stderr.contains("--replace"), "{stderr}");
    assert!(
        !stderr.contains("daily_availability.parquet:"),
        "unchanged asset listed: {stderr}"
    );

    let events_before = setup.fake.state.lock().unwrap().events.len();
    let output = setup.publish(&["--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();

    // Rolling replacement: the old manifest is withdrawn before the first swap, so whenever a
    // manifest is there every name it lists is there; a data file is only ever missing between
    // deleting the old asset and renaming its verified replacement.
    let events = setup.fake.state.lock().unwrap().events[events_before..].to_vec();
    assert!(
        events
            .iter()
            .any(|(what, _)| what.contains("manifest.json")),
        "{events:#?}"
    );
    for (index, (what, names)) in events.iter().enumerate() {
        if names.contains("manifest.json") {
            for name in &before {
                assert!(
                    names.contains(name),
                    "{name} missing beside a manifest after {what}"
                );
            }
        }
        for name in before.iter().filter(|n| *n != "manifest.json") {
            if !names.contains(name) {
                assert!(
                    what.starts_with("delete asset"),
                    "{name} missing after {what}"
                );
                let (next, next_names) = &events[index + 1];
                assert!(
                    next.starts_with("rename asset") && next_names.contains(name),
                    "{name} not restored by {next}"
                );
            }
        }
    }
    let output = setup.publish(&[]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{}",
        text(&output)
    );
}

#[test]
fn random_fault_schedules_all_converge() {
    for seed in 1..=6u64 {
        let setup = Setup::new();
        setup.fake.random_faults(seed, 0.35, 6);
        let output = setup.publish(&[]);
        assert!(output.status.success(), "seed {seed}: {}", text(&output));
        setup.assert_release_matches_dist();
        let output = setup.publish(&[]);
        assert!(
            output.status.success(),
            "seed {seed} rerun: {}",
            text(&output)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("up to date"));
        for text in [&output.stdout, &output.stderr] {
            assert!(!String::from_utf8_lossy(text).contains(TOKEN));
        }
    }
}

#[test]
fn a_starter_leftover_and_duplicate_drafts_are_cleaned_up() {
    let setup = Setup::new();
    // An earlier run died: GitHub kept failing uploads (each leaving a `starter` asset).
    for _ in 0..100 {
        setup.fake.fail_next(On::Upload, Fault::Status(502));
    }
    let output = setup.publish(&[]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("kept failing"));
    let drafts = setup.fake.releases("v1.0.0");
    assert_eq!(drafts.len(), 1);
    assert!(drafts[0].draft, "a failed run must not publish");
    assert!(!drafts[0].assets.iter().any(|a| a.name == "manifest.json"));
    setup.fake.state.lock().unwrap().queued_faults.clear();
    // A second draft, as a concurrent earlier run would have left.
    {
        let mut state = setup.fake.state.lock().unwrap();
        let mut duplicate = state.releases[0].clone();
        duplicate.id = 999;
        duplicate.assets.clear();
        state.releases.push(duplicate);
    }
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
}

#[test]
fn timeouts_and_rate_limits_are_retried() {
    let setup = Setup::new();
    setup.fake.fail_next(On::Any, Fault::RateLimit);
    setup.fake.fail_next(On::Upload, Fault::TooMany);
    setup.fake.fail_next(On::Upload, Fault::Reset);
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
}

#[test]
fn credentials_and_repository_problems_are_explained_and_publish_nothing() {
    let setup = Setup::new();
    let output = setup.publish_with_token(Some("wrong-token"), &[]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Bad credentials"));

    let output = setup.publish_with_token(None, &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("GITHUB_TOKEN"));

    setup.fake.state.lock().unwrap().read_only_token = Some("read-only".into());
    let output = setup.publish_with_token(Some("read-only"), &[]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("contents: write"),
        "{}",
        text(&output)
    );

    let output = dbrelease()
        .env("GITHUB_API_URL", &setup.fake.url)
        .env("GITHUB_TOKEN", TOKEN)
        .args([
            "publish",
            "--github",
            "--repo",
            "owner/nope",
            "--tag",
            "v1.0.0",
            "--config",
        ])
        .arg(setup.dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(setup.dir.path().join("dist"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("owner/nope not found"));
    assert!(setup.fake.releases("v1.0.0").is_empty());
}

#[test]
fn an_asset_of_2_gib_is_refused_before_anything_is_sent() {
    let setup = Setup::new();
    let big = setup.dir.path().join("big.bin");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(2 * 1024 * 1024 * 1024).unwrap(); // sparse: no disk used
    write_config(
        setup.dir.path(),
        &setup.db(),
        "[[files]]\npath = \"big.bin\"\n",
    );
    let output = setup.publish(&[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("2 GiB") && stderr.contains("S3"),
        "{stderr}"
    );
    assert!(setup.fake.state.lock().unwrap().requests.is_empty());
    assert!(!setup.dir.path().join("dist/big.bin").exists());
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let setup = Setup::new();
    let output = setup.publish_with_token(None, &["--dry-run"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("planned against an empty release"),
        "{stdout}"
    );
    assert!(stdout.contains("upload"), "{stdout}");

    assert!(setup.publish(&[]).status.success());
    setup.change_database();
    let output = setup.publish(&["--dry-run", "--replace", "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let report = &report["github"];
    let actions: Vec<(String, String)> = report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("daily_symbol_counts.parquet".into(), "replace".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("daily_availability.parquet".into(), "skip".into())),
        "{actions:?}"
    );
    assert_eq!(report["dry_run"], true);
    // Nothing changed on the release.
    let events = setup.fake.state.lock().unwrap().events.clone();
    let release = &setup.fake.releases("v1.0.0")[0];
    assert!(
        release
            .assets
            .iter()
            .all(|a| !a.name.starts_with("dbrelease-tmp-"))
    );
    assert_eq!(events.last().unwrap().0, "update release");
}

#[test]
fn the_token_never_appears_in_output_at_any_verbosity() {
    let setup = Setup::new();
    setup.fake.fail_next(On::Upload, Fault::Status(502));
    for verbosity in [&[][..], &["-v"][..], &["-vv"][..]] {
        let mut args = verbosity.to_vec();
        args.push("--replace");
        let output = setup.publish(&args);
        assert!(output.status.success(), "{}", text(&output));
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(TOKEN),
                "token leaked with {verbosity:?}"
            );
        }
    }
    let output = setup.publish_with_token(Some("ghp_wrongButSecret"), &["-vv"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("ghp_wrongButSecret"));

    // The readers send it too (API downloads for private repositories).
    let cache = setup.dir.path().join("cache");
    let config = setup.dir.path().join("dbrelease.toml");
    let config = config.to_str().unwrap();
    let dist = setup.dir.path().join("dist");
    let dist = dist.to_str().unwrap();
    for args in [
        vec![
            "-vv",
            "fetch",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
            "all",
        ],
        vec![
            "-vv",
            "verify",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
        ],
        vec![
            "-vv",
            "republish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
            "--config",
            config,
            "--out",
            dist,
        ],
    ] {
        let output = dbrelease()
            .env("GITHUB_API_URL", &setup.fake.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("XDG_CACHE_HOME", &cache)
            .args(&args)
            .output()
            .unwrap();
        let all = text(&output);
        assert!(output.status.success(), "{args:?}: {all}");
        assert!(!all.contains(TOKEN), "token leaked by {args:?}");
    }
}

#[test]
fn a_stalled_upload_times_out_and_a_late_landing_is_recognised() {
    let setup = Setup::new();
    // The server sits on the upload longer than the client waits, then stores it anyway:
    // the retry finds either a free name or an identical asset (422 already_exists).
    setup.fake.fail_next(
        On::Upload,
        Fault::Delay(std::time::Duration::from_millis(1500)),
    );
    let output = dbrelease()
        .env("GITHUB_API_URL", &setup.fake.url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DBRELEASE_RETRY_MIN_MS", "5")
        .env("DBRELEASE_READ_TIMEOUT_MS", "500")
        .args([
            "publish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
            "--config",
        ])
        .arg(setup.dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(setup.dir.path().join("dist"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    setup.assert_release_matches_dist();
}

#[test]
fn a_publish_killed_midway_converges_on_rerun() {
    let setup = Setup::new();
    setup
        .fake
        .fail_next(On::Upload, Fault::Delay(std::time::Duration::from_secs(3)));
    let mut child = dbrelease()
        .env("GITHUB_API_URL", &setup.fake.url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "publish",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
            "--config",
        ])
        .arg(setup.dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(setup.dir.path().join("dist"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !uploads(&setup.fake)
        .iter()
        .any(|n| n.ends_with(".parquet") || n.ends_with(".gz"))
    {
        assert!(std::time::Instant::now() < deadline, "no upload started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let releases = setup.fake.releases("v1.0.0");
    assert_eq!(releases.len(), 1);
    assert!(releases[0].draft, "killed before publishing: still a draft");
    assert!(!releases[0].assets.iter().any(|a| a.name == "manifest.json"));

    std::thread::sleep(std::time::Duration::from_secs(3)); // the stalled upload lands late
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
}

#[test]
fn an_immutable_release_is_never_changed() {
    let setup = Setup::new();
    setup.fake.state.lock().unwrap().immutable_releases = true;
    assert!(setup.publish(&[]).status.success());
    setup.change_database();
    let output = setup.publish(&["--replace"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("immutable") && stderr.contains("new tag"),
        "{stderr}"
    );
}

#[test]
fn draft_leaves_the_release_unpublished_until_a_later_run() {
    let setup = Setup::new();
    let output = setup.publish(&["--draft"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(setup.fake.releases("v1.0.0")[0].draft);
    assert!(String::from_utf8_lossy(&output.stdout).contains("(draft)"));
    let sent = setup.fake.state.lock().unwrap().uploads_bytes;
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(setup.fake.state.lock().unwrap().uploads_bytes, sent);
    setup.assert_release_matches_dist();
}

/// Checks that `value` has every property `schema` requires, with the declared JSON type.
fn assert_follows_schema(spec: &serde_json::Value, schema: &str, value: &serde_json::Value) {
    let definition = &spec["components"]["schemas"][schema];
    for field in definition["required"].as_array().unwrap() {
        let field = field.as_str().unwrap();
        let property = &definition["properties"][field];
        let actual = value
            .get(field)
            .unwrap_or_else(|| panic!("{schema}.{field} is required by GitHub's API but missing"));
        let reference = property["$ref"].as_str().unwrap_or("");
        let nullable =
            property["nullable"].as_bool().unwrap_or(false) || reference.contains("nullable-");
        if actual.is_null() {
            assert!(nullable, "{schema}.{field} is null but not nullable");
            continue;
        }
        let matches = match property["type"].as_str() {
            Some("string") => actual.is_string(),
            Some("integer") => actual.is_i64() || actual.is_u64(),
            Some("boolean") => actual.is_boolean(),
            Some("array") => actual.is_array(),
            Some("object") | None => actual.is_object() || actual.is_array(),
            Some(_) => true,
        };
        assert!(
            matches,
            "{schema}.{field} = {actual} does not match {property}"
        );
        if let Some(allowed) = property["enum"].as_array() {
            assert!(
                allowed.contains(actual),
                "{schema}.{field} = {actual} not in {allowed:?}"
            );
        }
    }
}

#[test]
fn the_fake_and_the_client_follow_githubs_openapi_description() {
    let Some(spec_path) = std::env::var_os("DBRELEASE_GITHUB_OPENAPI") else {
        skip(
            "the_fake_and_the_client_follow_githubs_openapi_description",
            "DBRELEASE_GITHUB_OPENAPI (scripts/test.sh sets it) is not set",
        );
        return;
    };
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(spec_path).unwrap()).unwrap();
    let setup = Setup::new();
    // Exercise every call the client makes: create, upload (with a failed attempt and its
    // cleanup), list, download the manifest, replace (temp upload, delete, rename), publish,
    // delete a duplicate draft.
    setup.fake.fail_next(On::Upload, Fault::Status(502));
    assert!(setup.publish(&["--draft"]).status.success());
    {
        let mut state = setup.fake.state.lock().unwrap();
        let mut duplicate = state.releases[0].clone();
        duplicate.id = 999;
        duplicate.assets.clear();
        state.releases.push(duplicate);
    }
    setup.change_database();
    let output = setup.publish(&["--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    // And the readers: fetch (latest, by tag, anonymous downloads), verify (through the API
    // with a token), a second release compared with the first.
    let reader = |args: &[&str], token: bool| {
        let mut command = dbrelease();
        command
            .env("GITHUB_API_URL", &setup.fake.url)
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .args(args);
        if token {
            command.env("GITHUB_TOKEN", TOKEN);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    };
    let cache = setup.dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    reader(
        &["fetch", "--repo", "owner/data", "--cache-dir", cache],
        false,
    );
    reader(
        &[
            "fetch",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
            "all",
            "--cache-dir",
            cache,
        ],
        true,
    );
    reader(
        &[
            "verify",
            "--github",
            "--repo",
            "owner/data",
            "--tag",
            "v1.0.0",
        ],
        true,
    );
    assert!(setup.publish_tag("v1.1.0", &[]).status.success());

    let state = setup.fake.state.lock().unwrap();
    assert!(state.routes.len() >= 10, "{:?}", state.routes);
    for expected in [
        "GET /repos/{owner}/{repo}/releases/latest",
        "GET /repos/{owner}/{repo}/releases/tags/{tag}",
    ] {
        assert!(
            state.routes.contains(expected),
            "{expected} not exercised: {:?}",
            state.routes
        );
    }
    for route in &state.routes {
        let (method, template) = route.split_once(' ').unwrap();
        if template.starts_with("/download/") || template.contains("/releases/download/") {
            continue; // GitHub's download host, not part of the REST API
        }
        let template = template.strip_prefix("/uploads").unwrap_or(template);
        assert!(
            spec["paths"][template][method.to_ascii_lowercase()].is_object(),
            "{route} is not an operation of GitHub's REST API"
        );
    }
    let release = github_fake_release_json(&state);
    assert_follows_schema(&spec, "release", &release);
    assert_follows_schema(&spec, "release-asset", &release["assets"][0]);
}

fn github_fake_release_json(state: &support::github_fake::GitHubState) -> serde_json::Value {
    support::github_fake::release_json(state, &state.releases[0])
}

#[test]
fn a_shrunken_database_is_refused_unless_allowed() {
    let setup = Setup::new();
    assert!(setup.publish(&[]).status.success());
    // A failed restore: a table lost rows and another one is gone.
    let conn = duckdb::Connection::open(setup.db()).unwrap();
    conn.execute_batch(
        "DELETE FROM daily_availability WHERE date = (SELECT max(date) FROM daily_availability);
         DROP TABLE daily_symbol_counts; CHECKPOINT;",
    )
    .unwrap();
    let lost: i64 = conn
        .query_row("SELECT 720 - count(*) FROM daily_availability", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(conn);
    let output = setup.publish_tag("v1.1.0", &[]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "table daily_availability lost {lost} rows (720 in v1.0.0, {} now)",
            720 - lost
        )) && stderr.contains("table daily_symbol_counts disappeared (it had 40 rows in v1.0.0)")
            && stderr.contains("--allow-regression"),
        "{stderr}"
    );
    assert!(
        setup.fake.releases("v1.1.0").is_empty(),
        "nothing published"
    );

    let output = setup.publish_tag("v1.1.0", &["--allow-regression", "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["comparison"]["previous_tag"], "v1.0.0");
    let deltas: Vec<(String, String)> = report["comparison"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["table"].as_str().unwrap().to_string(),
                format!("{}→{}", d["rows_before"], d["rows_after"]),
            )
        })
        .collect();
    assert_eq!(
        deltas,
        [
            (
                "daily_availability".to_string(),
                format!("720→{}", 720 - lost)
            ),
            ("daily_symbol_counts".to_string(), "40→null".to_string())
        ]
    );
    let release = &setup.fake.releases("v1.1.0")[0];
    assert!(
        release.body.contains(&format!("| -{lost} |")),
        "{}",
        release.body
    );
    assert!(release.body.contains("Rows compared with v1.0.0."));
}

#[test]
fn a_draft_made_by_semantic_release_is_filled_published_and_keeps_its_notes() {
    let setup = Setup::new();
    {
        let mut state = setup.fake.state.lock().unwrap();
        let id = state.next_id;
        state.next_id += 1;
        state.releases.push(support::github_fake::FakeRelease {
            id,
            tag: "v1.0.0".into(),
            name: "v1.0.0".into(),
            body: "## 1.0.0 (2026-11-25)\n\n### Features\n\n* first data\n".into(),
            draft: true,
            prerelease: false,
            immutable: false,
            assets: Vec::new(),
            target_commitish: None,
            make_latest: true,
            ..Default::default()
        });
    }
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
    let body = setup.fake.releases("v1.0.0")[0].body.clone();
    // The data section shows the pinned one-liner for Python users.
    assert!(
        body.contains("import dbrelease\ncon = dbrelease.connect(\"owner/data\", tag=\"v1.0.0\")"),
        "{body}"
    );
    assert!(
        body.starts_with(
            "## 1.0.0 (2026-11-25)\n\n### Features\n\n* first data\n\n<!-- dbrelease:data -->"
        ),
        "{body}"
    );
    // Republishing does not append the data section a second time.
    assert!(setup.publish(&[]).status.success());
    assert_eq!(setup.fake.releases("v1.0.0")[0].body, body);
    assert_eq!(body.matches("<!-- dbrelease:data -->").count(), 1);
}

#[test]
fn inside_github_actions_it_groups_logs_writes_a_summary_and_sets_outputs() {
    let setup = Setup::new();
    let summary = setup.dir.path().join("summary.md");
    let outputs = setup.dir.path().join("outputs.txt");
    let actions = |token: Option<&str>| {
        setup
            .publish_command(token, "v1.0.0", &[])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .output()
            .unwrap()
    };
    let output = actions(Some(TOKEN));
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for group in [
        "build",
        "compare with the previous release",
        "publish to GitHub",
    ] {
        assert!(
            stderr.contains(&format!("::group::dbrelease: {group}\n")),
            "{stderr}"
        );
    }
    assert_eq!(
        stderr.matches("::group::").count(),
        stderr.matches("::endgroup::").count()
    );

    let parsed = parse_github_output(&std::fs::read_to_string(&outputs).unwrap());
    let dist = manifest(&setup.dir.path().join("dist"));
    assert_eq!(parsed["tag"], "v1.0.0");
    assert_eq!(
        parsed["release-url"],
        "https://github.com/owner/data/releases/tag/v1.0.0"
    );
    assert_eq!(
        parsed["manifest-url"],
        "https://github.com/owner/data/releases/download/v1.0.0/manifest.json"
    );
    let artifacts: serde_json::Value = serde_json::from_str(&parsed["artifacts"]).unwrap();
    let listed: Vec<(String, String)> = artifacts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = dist
        .artifacts
        .iter()
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    assert_eq!(listed, expected);

    let summary_text = std::fs::read_to_string(&summary).unwrap();
    let row = summary_text
        .lines()
        .find(|l| l.contains("daily_availability.parquet"))
        .expect("a row per artifact");
    let artifact = &dist.artifacts[0];
    assert!(
        row.contains("| 720 |")
            && row.contains(&artifact.sha256)
            && row.contains(&artifact.bytes.to_string())
            && row.contains("GitHub: upload"),
        "{row}"
    );
    // The one-liners a data user copies, with this release's own URLs.
    assert!(
        summary_text.contains("/catalog.duckdb' AS data (READ_ONLY)`")
            && summary_text
                .contains("/owner/data/releases/latest/download/daily_availability.parquet`"),
        "{summary_text}"
    );

    // A failure becomes an annotation.
    let output = actions(Some("wrong-token"));
    assert_eq!(output.status.code(), Some(EXIT_REMOTE));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("::error title=dbrelease::GitHub rejected the token"),
        "{}",
        text(&output)
    );
}

/// Parses `$GITHUB_OUTPUT` as the runner does (`name=value` and `name<<DELIMITER` blocks).
fn parse_github_output(text: &str) -> std::collections::HashMap<String, String> {
    let mut values = std::collections::HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            values.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            values.insert(name.to_string(), value.to_string());
        }
    }
    values
}

/// A request whose work is done but whose answer is lost must not be repeated blindly: the
/// release is re-read and the run continues from what is there.
#[test]
fn lost_answers_are_reconciled_not_repeated() {
    let setup = Setup::new();
    // The draft is created, its answer lost: no second draft.
    setup.fake.fail_next(
        On::Matching("POST /repos/owner/data/releases"),
        Fault::LoseResponse,
    );
    // An upload lands, its answer lost: the asset is found, not uploaded twice.
    setup.fake.fail_next(On::Upload, Fault::LoseResponse);
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    let releases = setup.fake.releases("v1.0.0");
    assert_eq!(releases.len(), 1, "one release, no duplicate draft");
    assert!(!releases[0].draft);
    setup.assert_release_matches_dist();

    // A --replace swap whose DELETE answer is lost: the retried DELETE answers 404, which
    // counts as done, and the swap finishes in the same run.
    let conn = duckdb::Connection::open(setup.db()).unwrap();
    conn.execute_batch(
        "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1 \
         WHERE date = (SELECT max(date) FROM daily_symbol_counts); CHECKPOINT;",
    )
    .unwrap();
    drop(conn);
    setup.fake.fail_next(
        On::Matching("DELETE /repos/owner/data/releases/assets"),
        Fault::LoseResponse,
    );
    let output = setup.publish(&["--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_release_matches_dist();
}

#[test]
fn a_new_tag_is_created_at_the_commit_being_released() {
    let setup = Setup::new();
    let output = setup
        .publish_command(Some(TOKEN), "v1.0.0", &[])
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        setup.fake.releases("v1.0.0")[0].target_commitish.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
}

/// GitHub's secondary rate limit may come as a 403 without `retry-after`: it is waited out
/// (at least a minute in production, scaled down here), never reported as a permission problem.
#[test]
fn a_secondary_rate_limit_without_retry_after_is_waited_out() {
    let setup = Setup::new();
    setup.fake.fail_next(On::Upload, Fault::SecondaryLimit);
    setup.fake.fail_next(On::Any, Fault::SecondaryLimit);
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !text(&output).contains("contents: write"),
        "{}",
        text(&output)
    );
    setup.assert_release_matches_dist();
}

/// GitHub lists only the newest 1000 releases. A repository past that keeps publishing: the
/// listing stops cleanly at the cap (lowered to 1 here) and the newest release is still found.
#[test]
fn publishing_keeps_working_past_githubs_listing_cap() {
    let setup = Setup::new();
    for tag in ["v1.0.0", "v1.1.0"] {
        let output = setup
            .publish_command(Some(TOKEN), tag, &[])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    }
    setup.fake.state.lock().unwrap().list_cap = 1;
    // The regression guard still sees v1.1.0 (the newest, listed first) and refuses a shrink.
    let conn = duckdb::Connection::open(setup.db()).unwrap();
    conn.execute_batch("DELETE FROM daily_availability WHERE rowid % 2 = 0; CHECKPOINT;")
        .unwrap();
    drop(conn);
    let output = setup
        .publish_command(Some(TOKEN), "v1.2.0", &[])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("v1.1.0"), "{}", text(&output));
}

/// A GitHub release holds at most 1000 assets: a build with more is refused before anything is
/// sent, with a way out named.
#[test]
fn a_release_over_githubs_asset_limit_is_refused_before_uploading() {
    let setup = Setup::new();
    let extra = setup.dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    let mut files = String::new();
    for i in 0..1000 {
        std::fs::write(extra.join(format!("part-{i:04}.txt")), i.to_string()).unwrap();
        files.push_str(&format!("[[files]]\npath = \"extra/part-{i:04}.txt\"\n"));
    }
    let config = setup.dir.path().join("dbrelease.toml");
    let written = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{written}\n{files}")).unwrap();
    let output = setup.publish(&[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(
        text(&output).contains("at most 1000 assets"),
        "{}",
        text(&output)
    );
    assert!(
        setup.fake.releases("v1.0.0").is_empty(),
        "nothing was created"
    );
}

/// A partition_by with more values than a release holds is refused before anything is sent,
/// naming the setting that makes fewer files.
#[test]
fn a_partition_by_with_too_many_values_for_github_is_refused_before_uploading() {
    let setup = Setup::new();
    let conn = duckdb::Connection::open(setup.db()).unwrap();
    conn.execute_batch("CREATE TABLE readings AS SELECT range AS id FROM range(1001); CHECKPOINT")
        .unwrap();
    drop(conn);
    let config = setup.dir.path().join("dbrelease.toml");
    let written = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{written}\n[export.tables.readings]\npartition_by = [\"id\"]\n"),
    )
    .unwrap();
    let output = setup.publish(&[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(
        text(&output).contains(
            "1001 files of partitioned tables: a coarser partition_by under [export.tables.<name>] makes fewer"
        ),
        "{}",
        text(&output)
    );
    assert!(
        setup.fake.releases("v1.0.0").is_empty(),
        "nothing was created"
    );
}

/// A rolling tag (`nightly`, republished with --replace) and a pre-release never become GitHub's
/// "latest": `fetch` without --tag still gets the newest real release.
#[test]
fn a_nightly_never_becomes_githubs_latest() {
    let setup = Setup::new();
    let output = setup.publish(&[]);
    assert!(output.status.success(), "{}", text(&output));
    let nightly = setup
        .publish_command(Some(TOKEN), "nightly", &["--replace"])
        .output()
        .unwrap();
    assert!(nightly.status.success(), "{}", text(&nightly));
    assert!(!setup.fake.releases("nightly")[0].make_latest);
    let fetch = dbrelease()
        .env("GITHUB_API_URL", &setup.fake.url)
        .env("XDG_CACHE_HOME", setup.dir.path().join("xdg"))
        .args(["fetch", "--repo", "owner/data", "--json"])
        .output()
        .unwrap();
    assert!(fetch.status.success(), "{}", text(&fetch));
    let report: serde_json::Value = serde_json::from_slice(&fetch.stdout).unwrap();
    assert_eq!(report["tag"], "v1.0.0");
}

/// What one run of the fault harness saw.
#[derive(Default, Debug)]
struct HarnessCounts {
    schedules: usize,
    replace_schedules: usize,
    kills: usize,
    faults: usize,
    runs: usize,
    gave_up: usize,
    torn: Vec<String>,
}

/// A published release of `tag` whose manifest lists a file the release does not hold with
/// those bytes: what a reader must never be able to find.
fn torn_release(fake: &GitHubFake, tag: &str) -> Option<String> {
    for release in fake.releases(tag).iter().filter(|r| !r.draft) {
        let Some(manifest) = release
            .assets
            .iter()
            .find(|a| a.name == "manifest.json" && a.state == "uploaded")
        else {
            continue;
        };
        let Ok(manifest) = dbrelease_manifest::Manifest::parse(&manifest.data) else {
            return Some("the published manifest.json does not parse".into());
        };
        for artifact in &manifest.artifacts {
            let held = release
                .assets
                .iter()
                .find(|a| a.name == artifact.name && a.state == "uploaded");
            let intact = held.is_some_and(|a| {
                a.data.len() as u64 == artifact.bytes
                    && hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&a.data))
                        == artifact.sha256
            });
            if !intact {
                return Some(format!(
                    "release {} lists {} but does not hold it with those bytes",
                    release.id, artifact.name
                ));
            }
        }
    }
    None
}

/// One random schedule: faults of every kind on random requests, maybe a SIGKILL at a random
/// write (before or after the fake acted on it), maybe over an already published release with
/// --replace; then reruns until the publish converges. Returns what happened, or the first
/// broken promise.
fn fault_schedule(seed: u64, counts: &mut HarnessCounts) -> Result<(), String> {
    use rand::{Rng, SeedableRng};
    use std::os::unix::process::ExitStatusExt;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let setup = Setup::new();
    let replace = rng.random_bool(0.3);
    if replace {
        let first = setup.publish(&[]);
        if !first.status.success() {
            return Err(format!("clean first publish failed: {}", text(&first)));
        }
        setup.change_database();
        counts.replace_schedules += 1;
    }
    let extra: &[&str] = if replace { &["--replace"] } else { &[] };
    {
        let mut s = setup.fake.state.lock().unwrap();
        s.every_fault_kind = true;
        s.retry_after_secs = 0;
        s.writes_seen = 0;
        s.faults_injected = 0;
        s.random_faults = Some((
            rand::rngs::StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9)),
            rng.random_range(0.05..0.4),
            rng.random_range(1..=8),
        ));
    }
    let kill = rng
        .random_bool(0.5)
        .then(|| (rng.random_range(1..=16usize), rng.random_bool(0.5)));
    let mut command = setup.publish_command(Some(TOKEN), "v1.0.0", extra);
    command
        .env("DBRELEASE_READ_TIMEOUT_MS", "400")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    if let Some((at, after)) = kill {
        setup.fake.state.lock().unwrap().kill_at = Some((child.id(), at, after));
    }
    let first = child.wait_with_output().unwrap();
    counts.runs += 1;
    let killed = first.status.signal() == Some(9);
    counts.kills += usize::from(killed);
    if let Some(torn) = torn_release(&setup.fake, "v1.0.0") {
        return Err(format!("after the first run (killed: {killed}): {torn}"));
    }
    if !killed && !first.status.success() {
        // Only a request that kept failing past its retries may stop a run.
        if first.status.code() != Some(EXIT_REMOTE) {
            return Err(format!("first run failed: {}", text(&first)));
        }
        counts.gave_up += 1;
    }
    // Reruns (faults left over may still fire) until one succeeds.
    let mut converged = first.status.success();
    for _ in 0..4 {
        if converged {
            break;
        }
        setup.fake.state.lock().unwrap().kill_at = None;
        let rerun = setup.publish(extra);
        counts.runs += 1;
        if let Some(torn) = torn_release(&setup.fake, "v1.0.0") {
            return Err(format!("after a rerun: {torn}"));
        }
        converged = rerun.status.success();
    }
    counts.faults += setup.fake.state.lock().unwrap().faults_injected;
    if !converged {
        return Err("did not converge in 4 reruns".into());
    }
    // Converged: one published release holding exactly the build, no draft, no leftover; and
    // a further run has nothing to do.
    setup.fake.state.lock().unwrap().random_faults = None;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        setup.assert_release_matches_dist()
    }))
    .map_err(|_| "the converged release is not the build (see the panic above)".to_string())?;
    let last = setup.publish(extra);
    counts.runs += 1;
    if !String::from_utf8_lossy(&last.stdout).contains("up to date") {
        return Err(format!(
            "a run after convergence changed something: {}",
            text(&last)
        ));
    }
    Ok(())
}

/// The fault harness as a property test: `DBRELEASE_FAULT_SCHEDULES` random schedules (300 by
/// default; `scripts/bench.sh faults` runs 1000), two at a time. The promise after every
/// schedule: no published manifest ever lists a file the release does not hold with those
/// bytes (checked after every run, killed ones included), and the converging run leaves exactly
/// one published release with the build's files, no draft and no leftover. The counts go to
/// `DBRELEASE_FAULT_REPORT` when set (scripts/test.sh prints them).
#[test]
fn random_faults_and_kills_never_tear_a_release() {
    let schedules: u64 = std::env::var("DBRELEASE_FAULT_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // The fake's injected resets and lost responses panic inside its handlers by design; keep
    // the log readable.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if !message.contains("expected in fault-injection tests") {
            default_hook(info);
        }
    }));
    let counts = std::sync::Mutex::new(HarnessCounts::default());
    let next = std::sync::atomic::AtomicU64::new(1);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if seed > schedules {
                        break;
                    }
                    let mut mine = HarnessCounts::default();
                    let result = fault_schedule(seed, &mut mine);
                    let mut all = counts.lock().unwrap();
                    all.schedules += 1;
                    all.replace_schedules += mine.replace_schedules;
                    all.kills += mine.kills;
                    all.faults += mine.faults;
                    all.runs += mine.runs;
                    all.gave_up += mine.gave_up;
                    if let Err(problem) = result {
                        all.torn.push(format!("seed {seed}: {problem}"));
                    }
                }
            });
        }
    });
    let counts = counts.into_inner().unwrap();
    let summary = format!(
        "fault harness: {} schedules ({} with --replace), {} runs, {} faults injected, {} SIGKILLs, {} runs gave up after retries, broken promises: {}\n",
        counts.schedules,
        counts.replace_schedules,
        counts.runs,
        counts.faults,
        counts.kills,
        counts.gave_up,
        counts.torn.len()
    );
    eprint!("{summary}");
    if let Some(path) = std::env::var_os("DBRELEASE_FAULT_REPORT") {
        std::fs::write(path, &summary).unwrap();
    }
    assert!(counts.torn.is_empty(), "{summary}{:#?}", counts.torn);
}

/// The regression guard is never skipped silently: a previous release whose manifest cannot be
/// read stops the publish, and --allow-regression is the way on.
#[test]
fn an_unreadable_previous_manifest_stops_the_publish() {
    let setup = Setup::new();
    assert!(setup.publish(&[]).status.success());
    {
        let mut state = setup.fake.state.lock().unwrap();
        let release = state
            .releases
            .iter_mut()
            .find(|r| r.tag == "v1.0.0")
            .unwrap();
        let manifest = release
            .assets
            .iter_mut()
            .find(|a| a.name == "manifest.json")
            .unwrap();
        manifest.data = b"{ not a manifest".to_vec().into();
    }
    let output = setup.publish_tag("v1.1.0", &[]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot compare v1.1.0 with the previous release")
            && stderr.contains("--allow-regression"),
        "{stderr}"
    );
    assert!(
        setup.fake.releases("v1.1.0").is_empty(),
        "nothing was published"
    );
    let output = setup.publish_tag("v1.1.0", &["--allow-regression"]);
    assert!(output.status.success(), "{}", text(&output));
}
