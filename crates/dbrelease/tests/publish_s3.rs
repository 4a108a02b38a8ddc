//! `dbrelease publish --s3` against a real S3 protocol server (s3s-fs) on loopback.

mod support;

use std::process::Output;

use support::s3_server::{ACCESS_KEY, MotoServer, S3Server, SECRET_KEY, aws_env};
use support::*;

const BUCKET: &str = "releases";

struct Setup {
    dir: tempfile::TempDir,
    server: S3Server,
}

impl Setup {
    fn new(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.duckdb");
        std::fs::copy(
            repo_root().join("fixtures/binance_futures_availability.duckdb"),
            &db,
        )
        .unwrap();
        let server = S3Server::start(BUCKET);
        write_config(
            dir.path(),
            &db,
            &format!(
                "[s3]\nbucket = \"{BUCKET}\"\nprefix = \"data\"\nendpoint = \"{}\"\n{extra_config}",
                server.url
            ),
        );
        Setup { dir, server }
    }

    fn publish(&self, tag: &str, extra: &[&str]) -> Output {
        self.publish_with_secret(SECRET_KEY, tag, extra)
    }

    fn publish_with_secret(&self, secret: &str, tag: &str, extra: &[&str]) -> Output {
        aws_env(&mut dbrelease())
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            // Part retries use the one backoff policy: shortened here, as in the other suites.
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .args(["publish", "--s3", "--tag", tag, "--config"])
            .arg(self.dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(self.dir.path().join("dist"))
            .args(extra)
            .output()
            .unwrap()
    }

    fn assert_version_matches_dist(&self, tag: &str) {
        let dist = self.dir.path().join("dist");
        let manifest = manifest(&dist);
        for name in manifest
            .artifacts
            .iter()
            .map(|a| a.name.clone())
            .chain(["datapackage.json", "SHA256SUMS", "manifest.json"].map(String::from))
        {
            let stored = self
                .server
                .object(BUCKET, &format!("data/{tag}/{name}"))
                .unwrap_or_else(|| panic!("data/{tag}/{name} missing"));
            assert_eq!(stored, std::fs::read(dist.join(&name)).unwrap(), "{name}");
        }
    }

    fn change_database(&self) {
        let conn = duckdb::Connection::open(self.dir.path().join("data.duckdb")).unwrap();
        conn.execute_batch(
            "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1; CHECKPOINT;",
        )
        .unwrap();
    }
}

fn versions(setup: &Setup) -> serde_json::Value {
    serde_json::from_slice(&setup.server.object(BUCKET, "data/versions.json").unwrap()).unwrap()
}

#[test]
fn first_publish_writes_the_version_latest_and_the_index() {
    let setup = Setup::new("");
    let output = setup.publish("v1.0.0", &[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_version_matches_dist("v1.0.0");
    let dist = setup.dir.path().join("dist");
    assert_eq!(
        setup
            .server
            .object(BUCKET, "data/latest/manifest.json")
            .unwrap(),
        std::fs::read(dist.join("manifest.json")).unwrap()
    );
    let index = versions(&setup);
    assert_eq!(index["versions"][0]["tag"], "v1.0.0");
    assert!(
        index["versions"][0]["manifest_url"]
            .as_str()
            .unwrap()
            .ends_with("/releases/data/v1.0.0/manifest.json")
    );

    // A second run writes nothing.
    let before: Vec<_> = setup
        .server
        .keys(BUCKET)
        .iter()
        .map(|k| {
            std::fs::metadata(setup.server.root.join(BUCKET).join(k))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    let output = setup.publish("v1.0.0", &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("S3: up to date"),
        "{}",
        text(&output)
    );
    let after: Vec<_> = setup
        .server
        .keys(BUCKET)
        .iter()
        .map(|k| {
            std::fs::metadata(setup.server.root.join(BUCKET).join(k))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    assert_eq!(before, after, "objects were rewritten");
}

#[test]
fn changed_data_is_refused_without_replace_and_converges_with_it() {
    let setup = Setup::new("");
    assert!(setup.publish("v1.0.0", &[]).status.success());
    setup.change_database();
    let output = setup.publish("v1.0.0", &[]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("daily_symbol_counts.parquet") && stderr.contains("--replace"),
        "{stderr}"
    );
    let output = setup.publish("v1.0.0", &["--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_version_matches_dist("v1.0.0");
    assert_eq!(versions(&setup)["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn the_versions_index_lists_every_version() {
    let setup = Setup::new("");
    for (index, tag) in ["v1.0.0", "v1.1.0", "v2.0.0"].iter().enumerate() {
        if index > 0 {
            setup.change_database();
        }
        let output = setup.publish(tag, &[]);
        assert!(output.status.success(), "{tag}: {}", text(&output));
    }
    let tags: Vec<String> = versions(&setup)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["tag"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["v1.0.0", "v1.1.0", "v2.0.0"]);
    // latest/ follows the newest version.
    assert_eq!(
        setup.server.object(BUCKET, "data/latest/manifest.json"),
        setup.server.object(BUCKET, "data/v2.0.0/manifest.json")
    );
}

#[test]
fn an_artifact_over_100_mib_goes_multipart_and_verifies() {
    // Default threshold (100 MiB) and part size (16 MiB): 7 parts.
    let setup = Setup::new("");
    let big = setup.dir.path().join("big.bin");
    let mut bytes = vec![0u8; 101 * 1024 * 1024 + 123];
    let mut state = 1u64;
    for byte in bytes.iter_mut() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *byte = (state >> 33) as u8;
    }
    std::fs::write(&big, &bytes).unwrap();
    let config = std::fs::read_to_string(setup.dir.path().join("dbrelease.toml")).unwrap();
    std::fs::write(
        setup.dir.path().join("dbrelease.toml"),
        format!("{config}\n[[files]]\npath = \"big.bin\"\n"),
    )
    .unwrap();
    let output = setup.publish("v1.0.0", &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        setup.server.object(BUCKET, "data/v1.0.0/big.bin").unwrap(),
        bytes
    );
    // A rerun recognises the multipart object as identical.
    let output = setup.publish("v1.0.0", &[]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("S3: up to date"),
        "{}",
        text(&output)
    );
}

#[test]
fn wrong_credentials_and_missing_bucket_are_explained() {
    let setup = Setup::new("");
    let output = setup.publish_with_secret("wrong-secret", "v1.0.0", &[]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("credentials"),
        "{}",
        text(&output)
    );
    assert!(setup.server.keys(BUCKET).is_empty());

    let output = setup.publish("v1.0.0", &["--s3-bucket", "nope"]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bucket nope does not exist"),
        "{}",
        text(&output)
    );
}

#[test]
fn dry_run_lists_keys_and_writes_nothing() {
    let setup = Setup::new("");
    let output = setup.publish("v1.0.0", &["--dry-run"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("data/v1.0.0/manifest.json"), "{stdout}");
    assert!(setup.server.keys(BUCKET).is_empty());
}

#[test]
fn a_dropped_part_leaves_no_manifest_and_no_orphaned_upload_and_a_rerun_converges() {
    let setup = Setup::new("multipart_threshold = 6291456\npart_size = 5242880\n");
    std::fs::write(
        setup.dir.path().join("big.bin"),
        vec![7u8; 11 * 1024 * 1024],
    )
    .unwrap();
    let config = std::fs::read_to_string(setup.dir.path().join("dbrelease.toml")).unwrap();
    std::fs::write(
        setup.dir.path().join("dbrelease.toml"),
        format!("{config}\n[[files]]\npath = \"big.bin\"\n"),
    )
    .unwrap();
    // More failures than a part's retries: the multipart upload must give up and abort.
    setup
        .server
        .failing_parts
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let output = setup.publish("v1.0.0", &[]);
    assert_eq!(output.status.code(), Some(EXIT_REMOTE), "{}", text(&output));
    assert!(
        setup
            .server
            .object(BUCKET, "data/v1.0.0/manifest.json")
            .is_none()
    );
    assert!(setup.server.object(BUCKET, "data/versions.json").is_none());
    assert!(setup.server.object(BUCKET, "data/v1.0.0/big.bin").is_none());
    assert_eq!(
        setup.server.open_multipart_uploads(),
        0,
        "orphaned multipart upload"
    );

    // A single dropped part is retried; then everything converges.
    setup
        .server
        .failing_parts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let output = setup.publish("v1.0.0", &[]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_version_matches_dist("v1.0.0");
    assert_eq!(setup.server.open_multipart_uploads(), 0);
}

#[test]
fn objects_carry_content_type_cache_control_and_a_verified_checksum() {
    let setup = Setup::new("");
    assert!(setup.publish("v1.0.0", &[]).status.success());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let heads = runtime.block_on(async {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&setup.server.url)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let mut heads = Vec::new();
        for key in [
            "data/v1.0.0/daily_availability.parquet",
            "data/v1.0.0/manifest.json",
            "data/latest/manifest.json",
        ] {
            let head = client
                .head_object()
                .bucket(BUCKET)
                .key(key)
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            heads.push((
                key,
                head.content_type().map(str::to_string),
                head.cache_control().map(str::to_string),
                head.checksum_sha256().map(str::to_string),
            ));
        }
        heads
    });
    let dist = setup.dir.path().join("dist");
    let manifest = manifest(&dist);
    let parquet_sha = &manifest.artifacts[0].sha256;
    use base64::Engine;
    let expected_checksum =
        base64::engine::general_purpose::STANDARD.encode(hex::decode(parquet_sha).unwrap());
    assert_eq!(
        heads[0].1.as_deref(),
        Some("application/vnd.apache.parquet")
    );
    assert_eq!(
        heads[0].2.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(heads[0].3.as_deref(), Some(expected_checksum.as_str()));
    assert_eq!(heads[1].1.as_deref(), Some("application/json"));
    assert_eq!(heads[2].2.as_deref(), Some("public, max-age=300"));
}

#[test]
fn s3_alone_compares_with_the_previous_version_in_versions_json() {
    let setup = Setup::new("");
    assert!(setup.publish("v1.0.0", &[]).status.success());
    let conn = duckdb::Connection::open(setup.dir.path().join("data.duckdb")).unwrap();
    conn.execute_batch("ALTER TABLE daily_symbol_counts DROP COLUMN total_symbols; CHECKPOINT;")
        .unwrap();
    drop(conn);
    let output = setup.publish("v1.1.0", &[]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("table daily_symbol_counts: column total_symbols (INTEGER) was dropped"),
        "{}",
        text(&output)
    );
    assert!(
        setup
            .server
            .keys(BUCKET)
            .iter()
            .all(|k| !k.contains("v1.1.0")),
        "nothing of v1.1.0 was written"
    );
    let output = setup.publish("v1.1.0", &["--allow-regression"]);
    assert!(output.status.success(), "{}", text(&output));
    setup.assert_version_matches_dist("v1.1.0");
}

#[test]
fn an_older_version_published_later_does_not_move_latest() {
    let setup = Setup::new("");
    let publish_at = |tag: &str, epoch: &str| {
        aws_env(&mut dbrelease())
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["publish", "--s3", "--tag", tag, "--config"])
            .arg(setup.dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(setup.dir.path().join(format!("dist-{tag}")))
            .output()
            .unwrap()
    };
    // v2.0.0 first, then v1.0.0 is mirrored late (built earlier).
    let output = publish_at("v2.0.0", "1800000000");
    assert!(output.status.success(), "{}", text(&output));
    let output = publish_at("v1.0.0", "1700000000");
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        setup.server.object(BUCKET, "data/latest/manifest.json"),
        setup.server.object(BUCKET, "data/v2.0.0/manifest.json"),
        "latest/ still holds the newest version"
    );
    let tags: Vec<String> = versions(&setup)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["tag"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["v1.0.0", "v2.0.0"], "newest last, by build time");
}

/// A rolling tag (`nightly`, published with --replace) and a pre-release are listed in
/// versions.json as such and never become `latest/`, however recent their build.
#[test]
fn a_nightly_and_a_prerelease_never_become_latest() {
    let setup = Setup::new("");
    let output = setup.publish("v1.0.0", &[]);
    assert!(output.status.success(), "{}", text(&output));
    let release_manifest = setup.server.object(BUCKET, "data/v1.0.0/manifest.json");
    for (tag, flag) in [("nightly", "--replace"), ("v1.1.0-rc.1", "--prerelease")] {
        let output = aws_env(&mut dbrelease())
            .env("SOURCE_DATE_EPOCH", "1800000000")
            .args(["publish", "--s3", "--tag", tag, flag, "--config"])
            .arg(setup.dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(setup.dir.path().join(format!("dist-{tag}")))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    }
    assert_eq!(
        setup.server.object(BUCKET, "data/latest/manifest.json"),
        release_manifest,
        "latest/ still holds v1.0.0"
    );
    let index = versions(&setup);
    let prerelease = |tag: &str| {
        index["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["tag"] == tag)
            .map(|v| v["prerelease"].clone())
    };
    assert_eq!(prerelease("v1.0.0"), Some(false.into()));
    assert_eq!(prerelease("nightly"), Some(true.into()));
    assert_eq!(prerelease("v1.1.0-rc.1"), Some(true.into()));
}

/// On moto's S3 server, a multipart object's checksum is the checksum of its parts without the
/// `-N` suffix: a correct multipart upload must verify (it failed before), a republish finds it
/// up to date, and `verify --s3` reads it back.
#[test]
fn a_multipart_artifact_verifies_on_moto_too() {
    let Some(moto) = MotoServer::start(BUCKET) else {
        skip(
            "a_multipart_artifact_verifies_on_moto_too",
            "DBRELEASE_MOTO_SERVER (moto's server, installed by scripts/test.sh) is not set",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    std::fs::copy(
        repo_root().join("fixtures/binance_futures_availability.duckdb"),
        &db,
    )
    .unwrap();
    // 12 MiB in 5 MiB parts: three parts, the last one short.
    let big: Vec<u8> = (0..12u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    write_config(
        dir.path(),
        &db,
        &format!(
            "[[files]]\npath = \"big.bin\"\n[s3]\nbucket = \"{BUCKET}\"\nprefix = \"data\"\nendpoint = \"{}\"\nmultipart_threshold = 6291456\npart_size = 5242880\n",
            moto.url
        ),
    );
    let run = |args: &[&str]| {
        aws_env(&mut dbrelease())
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["publish", "--s3", "--tag", "v1.0.0"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(moto.object(BUCKET, "data/v1.0.0/big.bin"), Some(big));
    let again = run(&["publish", "--s3", "--tag", "v1.0.0", "--json"]);
    assert!(again.status.success(), "{}", text(&again));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["s3"]["up_to_date"], true, "{report:#}");
    let verify = run(&["verify", "--s3", "--tag", "v1.0.0"]);
    assert!(verify.status.success(), "{}", text(&verify));
}
