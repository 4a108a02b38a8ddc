//! Touch only what is ours: in a cache or output folder that another account can write into,
//! an entry planted under a name dbrelease writes (a symbolic link to a file elsewhere, a link
//! to a folder elsewhere, a hard link to a file elsewhere) never makes dbrelease write, truncate
//! or delete anything outside. Each command then either delivers verified regular files or stops
//! with a clear error (exit 4), with nothing half-written under a final name.

mod support;

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::file_server::FileServer;
use support::github_fake::GitHubFake;
use support::*;

const TAG: &str = "v1.0.0";
const DB_GZ: &str = "binance_futures_availability.duckdb.gz";
const DB: &str = "binance_futures_availability.duckdb";
const PRECIOUS: &[u8] = b"a file of the user's, elsewhere on the disk\n";

/// The three kinds of planted entry.
#[derive(Debug, Clone, Copy)]
enum Plant {
    LinkToFile,
    LinkToFolder,
    HardLink,
}

const PLANTS: [Plant; 3] = [Plant::LinkToFile, Plant::LinkToFolder, Plant::HardLink];

/// Files and a folder outside every folder dbrelease is given, which must stay as they are.
struct Outside {
    dir: PathBuf,
}

impl Outside {
    fn new(root: &Path) -> Self {
        let dir = root.join("outside");
        std::fs::create_dir_all(dir.join("folder")).unwrap();
        Outside { dir }
    }

    /// Plants `kind` at `at`, pointing to a fresh outside file (or the outside folder).
    fn plant(&self, kind: Plant, at: &Path) {
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(at);
        let file = self.dir.join(format!(
            "file-{}",
            at.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, PRECIOUS).unwrap();
        match kind {
            Plant::LinkToFile => symlink(&file, at).unwrap(),
            Plant::LinkToFolder => symlink(self.dir.join("folder"), at).unwrap(),
            Plant::HardLink => std::fs::hard_link(&file, at).unwrap(),
        }
    }

    /// Every outside file still holds its bytes, and the outside folder is still empty.
    fn assert_untouched(&self, context: &str) {
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert_eq!(
                    std::fs::read(&path).unwrap(),
                    PRECIOUS,
                    "{context}: {} was changed",
                    path.display()
                );
            }
        }
        assert_eq!(
            list_dir(&self.dir.join("folder")),
            Vec::<String>::new(),
            "{context}: something was written into the outside folder"
        );
    }
}

/// A regular file with one name (not a link, not a hard link) holding `sha256`.
fn assert_regular_verified(path: &Path, sha256: &str) {
    let metadata = std::fs::symlink_metadata(path).unwrap();
    assert!(
        metadata.is_file(),
        "{} is not a regular file",
        path.display()
    );
    assert_eq!(metadata.nlink(), 1, "{} has other names", path.display());
    assert_eq!(sha256_file(path), sha256, "{}", path.display());
}

fn build_fixture(dir: &Path) -> PathBuf {
    let out = dir.join("dist");
    let output = dbrelease()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["-q", "build", "--tag", TAG, "--config"])
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    out
}

struct Origin {
    dir: tempfile::TempDir,
    server: FileServer,
    dist: PathBuf,
}

impl Origin {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = FileServer::start();
        let dist = build_fixture(dir.path());
        server.publish_dist("data", TAG, &dist, "2026-01-01T00:00:00Z");
        Origin { dir, server, dist }
    }

    fn fetch(&self, cache: &Path, args: &[&str]) -> Output {
        dbrelease()
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .args(["fetch", "--base-url", &format!("{}/data", self.server.url)])
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .output()
            .unwrap()
    }

    /// The origin's folder in `cache`, and its version folder.
    fn folders(&self, cache: &Path) -> (PathBuf, PathBuf) {
        let host = self
            .server
            .url
            .trim_start_matches("http://")
            .replace(':', "_");
        let origin = cache.join("url").join(host).join("data");
        let tag = origin.join(TAG);
        (origin, tag)
    }

    fn sha256(&self, name: &str) -> String {
        sha256_file(&self.dist.join(name))
    }
}

/// Every name `fetch` writes in a version's cache folder and the origin's folder.
fn fetch_names(origin_dir: &Path, tag_dir: &Path) -> Vec<PathBuf> {
    let mut names = vec![
        origin_dir.join("latest.json"),
        tag_dir.join("manifest.json"),
        tag_dir.join(".lock"),
        tag_dir.join(DB),
        tag_dir.join(format!(".{DB}.part")),
        tag_dir.join(format!(".{DB}.verified")),
    ];
    for name in [
        DB_GZ,
        "daily_availability.parquet",
        "daily_symbol_counts.parquet",
    ] {
        names.push(tag_dir.join(name));
        names.push(tag_dir.join(format!(".{name}.part")));
        names.push(tag_dir.join(format!(".{name}.verified")));
    }
    names
}

#[test]
fn fetch_never_writes_through_an_entry_planted_in_the_cache() {
    let origin = Origin::new();
    for kind in PLANTS {
        let cache = origin.dir.path().join(format!("cache-{kind:?}"));
        let outside = Outside::new(&origin.dir.path().join(format!("o-{kind:?}")));
        let (origin_dir, tag_dir) = origin.folders(&cache);
        for name in fetch_names(&origin_dir, &tag_dir) {
            outside.plant(kind, &name);
        }
        // `latest` (the pointer), every file, and the database decompressed.
        let output = origin.fetch(&cache, &["all", "--decompress", "--json"]);
        outside.assert_untouched(&format!("{kind:?}"));
        assert!(output.status.success(), "{kind:?}: {}", text(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for file in report["files"].as_array().unwrap() {
            assert_regular_verified(
                Path::new(file["path"].as_str().unwrap()),
                file["sha256"].as_str().unwrap(),
            );
        }
        assert_regular_verified(
            &tag_dir.join(DB),
            &sha256_file(&repo_root().join("fixtures").join(DB)),
        );
        assert_regular_verified(&tag_dir.join(DB_GZ), &origin.sha256(DB_GZ));
        // A pinned fetch of the cached version trusts what it verified, without the network.
        let again = origin.fetch(&cache, &["--tag", TAG, "all", "--offline"]);
        assert!(again.status.success(), "{kind:?}: {}", text(&again));
    }
}

#[test]
fn folders_on_the_way_are_never_entered_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let origin = Origin::new();
    let cache = origin.dir.path().join("cache");
    let outside = Outside::new(origin.dir.path());
    let (origin_dir, tag_dir) = origin.folders(&cache);
    // The version's folder, and the folder above it, as links to a folder elsewhere.
    std::fs::create_dir_all(origin_dir.parent().unwrap()).unwrap();
    symlink(outside.dir.join("folder"), &origin_dir).unwrap();
    let output = origin.fetch(&cache, &["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    outside.assert_untouched("origin folder");
    assert!(std::fs::symlink_metadata(&origin_dir).unwrap().is_dir());
    std::fs::remove_dir_all(&tag_dir).unwrap();
    symlink(outside.dir.join("folder"), &tag_dir).unwrap();
    let output = origin.fetch(&cache, &["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    outside.assert_untouched("version folder");
    assert_regular_verified(&tag_dir.join(DB_GZ), &origin.sha256(DB_GZ));

    // The folders dbrelease created are owner-only: those it made in place of the links, and
    // in a fresh cache every one from the root down.
    let fresh = origin.dir.path().join("fresh").join("cache");
    let output = origin.fetch(&fresh, &["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    let (fresh_origin, fresh_tag) = origin.folders(&fresh);
    let mut made = vec![origin_dir.clone(), tag_dir.clone(), fresh.clone()];
    let mut below = fresh_tag.clone();
    while below != fresh {
        made.push(below.clone());
        below = below.parent().unwrap().to_path_buf();
    }
    assert!(made.contains(&fresh_origin));
    for dir in &made {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }

    // A file where a folder belongs is named, not removed.
    let blocked = origin.dir.path().join("blocked");
    let (_, blocked_tag) = origin.folders(&blocked);
    std::fs::create_dir_all(blocked_tag.parent().unwrap()).unwrap();
    std::fs::write(&blocked_tag, PRECIOUS).unwrap();
    let output = origin.fetch(&blocked, &["--tag", TAG]);
    assert_exit_with(&output, EXIT_OUTPUT, TAG);
    assert_eq!(std::fs::read(&blocked_tag).unwrap(), PRECIOUS);
}

#[test]
fn a_cache_root_others_can_write_is_used_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let origin = Origin::new();
    let cache = origin.dir.path().join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = origin.fetch(&cache, &["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("can be written by other accounts"),
        "{}",
        text(&output)
    );
    let (origin_dir, _) = origin.folders(&cache);
    let mode = std::fs::metadata(cache.join("url"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(origin_dir.is_dir());
}

#[test]
fn a_partial_download_that_is_not_ours_is_discarded_not_resumed() {
    let origin = Origin::new();
    let cache = origin.dir.path().join("cache");
    let (_, tag_dir) = origin.folders(&cache);
    let outside = Outside::new(origin.dir.path());
    // A hard link to a file that begins like the real one: resuming it would append the rest
    // of the download to the outside file.
    let real = std::fs::read(origin.dist.join(DB_GZ)).unwrap();
    let part = tag_dir.join(format!(".{DB_GZ}.part"));
    outside.plant(Plant::HardLink, &part);
    let linked = outside.dir.join(format!("file-.{DB_GZ}.part"));
    std::fs::write(&linked, &real[..4000]).unwrap();
    origin.server.clear_requests();
    let output = origin.fetch(&cache, &["--tag", TAG]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(std::fs::read(&linked).unwrap(), &real[..4000]);
    assert_regular_verified(&tag_dir.join(DB_GZ), &origin.sha256(DB_GZ));
    let ranged = origin
        .server
        .requests()
        .into_iter()
        .any(|r| r.contains(DB_GZ) && r.contains("bytes=4000-"));
    assert!(!ranged, "resumed a partial download it did not write");
}

#[test]
fn fetch_out_replaces_a_planted_link_only_with_force() {
    let origin = Origin::new();
    let cache = origin.dir.path().join("cache");
    for kind in PLANTS {
        let outside = Outside::new(&origin.dir.path().join(format!("o-{kind:?}")));
        let out = origin.dir.path().join(format!("out-{kind:?}"));
        let target = out.join(DB_GZ);
        outside.plant(kind, &target);
        let out_arg = format!("{}/", out.display());
        let refused = origin.fetch(&cache, &["--tag", TAG, "--out", &out_arg]);
        outside.assert_untouched(&format!("{kind:?}"));
        assert_exit_with(&refused, EXIT_OUTPUT, DB_GZ);
        let forced = origin.fetch(&cache, &["--tag", TAG, "--out", &out_arg, "--force"]);
        assert!(forced.status.success(), "{kind:?}: {}", text(&forced));
        outside.assert_untouched(&format!("{kind:?} --force"));
        assert_regular_verified(&target, &origin.sha256(DB_GZ));
        // Only the delivered file: no temporary copy left beside it.
        assert_eq!(list_dir(&out), vec![DB_GZ.to_string()], "{kind:?}");
    }
}

#[test]
fn build_out_never_writes_through_a_planted_entry() {
    let dir = tempfile::tempdir().unwrap();
    let reference = build_fixture(&dir.path().join("reference"));
    let names: Vec<String> = list_dir(&reference)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    for kind in PLANTS {
        let outside = Outside::new(&dir.path().join(format!("o-{kind:?}")));
        let root = dir.path().join(format!("b-{kind:?}"));
        for name in &names {
            outside.plant(kind, &root.join("dist").join(name));
        }
        let dist = build_fixture(&root);
        outside.assert_untouched(&format!("{kind:?}"));
        for name in &names {
            assert_regular_verified(&dist.join(name), &sha256_file(&reference.join(name)));
        }
    }
}

#[test]
fn build_removes_only_the_stale_files_its_previous_build_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let dist = build_fixture(dir.path());
    // A manifest under the name of an earlier build, listing a file that is the user's.
    let manifest = std::fs::read_to_string(dist.join("manifest.json")).unwrap();
    let forged = manifest.replace("daily_symbol_counts.parquet", "user-notes.parquet");
    assert_ne!(forged, manifest);
    std::fs::write(dist.join("manifest.json"), forged).unwrap();
    std::fs::write(dist.join("user-notes.parquet"), PRECIOUS).unwrap();
    let output = dbrelease()
        .args(["build", "--tag", TAG, "--config"])
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read(dist.join("user-notes.parquet")).unwrap(),
        PRECIOUS
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("left in place"),
        "{}",
        text(&output)
    );

    // What the previous build did write (the bytes its manifest lists) is still cleaned up.
    std::fs::copy(
        dist.join("daily_symbol_counts.parquet"),
        dist.join("user-notes.parquet"),
    )
    .unwrap();
    std::fs::write(dist.join("manifest.json"), forged_again(&dist)).unwrap();
    let output = dbrelease()
        .args(["-q", "build", "--tag", TAG, "--config"])
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(!dist.join("user-notes.parquet").exists());
}

/// The current manifest with one table's file listed under another name (same bytes).
fn forged_again(dist: &Path) -> String {
    std::fs::read_to_string(dist.join("manifest.json"))
        .unwrap()
        .replace("daily_symbol_counts.parquet", "user-notes.parquet")
}

#[test]
fn build_refuses_an_out_link_planted_by_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let outside = Outside::new(dir.path());
    let out = dir.path().join("dist");
    symlink(outside.dir.join("folder"), &out).unwrap();
    // Another account's link: as root, hand the link itself to `nobody`.
    if std::os::unix::fs::lchown(&out, Some(65534), Some(65534)).is_err() {
        skip(
            "build_refuses_an_out_link_planted_by_another_account",
            "cannot give a link to another account (needs root)",
        );
        return;
    }
    let output = dbrelease()
        .args(["-q", "build", "--tag", TAG, "--config"])
        .arg(repo_root().join("dbrelease.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_with(&output, EXIT_OUTPUT, "another account");
    outside.assert_untouched("build --out");
}

#[test]
fn republish_gathering_never_writes_through_a_planted_entry() {
    const TOKEN: &str = "token-local-1";
    for kind in PLANTS {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.duckdb");
        std::fs::copy(repo_root().join("fixtures").join(DB), &db).unwrap();
        write_config(dir.path(), &db, "[github]\nrepo = \"owner/data\"\n");
        let fake = GitHubFake::start("owner", "data", TOKEN);
        let run = |args: &[&str]| -> Output {
            Command::new(env!("CARGO_BIN_EXE_dbrelease"))
                .current_dir(dir.path())
                .env("GITHUB_API_URL", &fake.url)
                .env("GITHUB_TOKEN", TOKEN)
                .env("DBRELEASE_RETRY_MIN_MS", "5")
                .env_remove("GITHUB_REPOSITORY")
                .env_remove("GITHUB_ACTIONS")
                .env_remove("SOURCE_DATE_EPOCH")
                .args(args)
                .output()
                .unwrap()
        };
        let published = run(&["-q", "publish", "--tag", TAG, "--github"]);
        assert!(published.status.success(), "{}", text(&published));
        let dist = dir.path().join("dist");
        let reference = dir.path().join("reference");
        std::fs::rename(&dist, &reference).unwrap();
        let outside = Outside::new(dir.path());
        let names: Vec<String> = list_dir(&reference)
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect();
        for name in &names {
            // The partial file of every gathered name; for the data files, the name itself.
            outside.plant(kind, &dist.join(format!(".{name}.dbrelease-part")));
            if matches!(kind, Plant::HardLink) && name.ends_with(".parquet") {
                outside.plant(kind, &dist.join(name));
            }
        }
        let output = run(&["republish", "--tag", TAG, "--github"]);
        outside.assert_untouched(&format!("{kind:?}"));
        assert!(output.status.success(), "{kind:?}: {}", text(&output));
        for name in &names {
            assert_regular_verified(&dist.join(name), &sha256_file(&reference.join(name)));
        }

        // A link at a gathered name itself is named and refused, and nothing is written.
        std::fs::remove_dir_all(&dist).unwrap();
        outside.plant(Plant::LinkToFile, &dist.join("daily_availability.parquet"));
        let output = run(&["republish", "--tag", TAG, "--github"]);
        assert_exit_with(&output, EXIT_OUTPUT, "daily_availability.parquet");
        outside.assert_untouched(&format!("{kind:?}, link at a final name"));
    }
}

/// Mounts a tmpfs of `size` (with extra `options`) at `at`; false when this machine cannot.
fn mount_tmpfs(at: &Path, options: &str) -> bool {
    std::fs::create_dir_all(at).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(at: &Path) {
    let _ = Command::new("umount").arg(at).status();
}

#[test]
fn a_full_or_read_only_cache_says_which_path_and_what_to_do() {
    let origin = Origin::new();
    let small = origin.dir.path().join("small");
    if !mount_tmpfs(&small, "size=24k,mode=0700") {
        skip(
            "a_full_or_read_only_cache_says_which_path_and_what_to_do",
            "cannot mount a tmpfs (needs root)",
        );
        return;
    }
    let full = origin.fetch(&small, &["--tag", TAG]);
    let leftovers: Vec<PathBuf> = walk(&small);
    unmount(&small);
    assert_exit_with(&full, EXIT_OUTPUT, "disk is full");
    assert!(
        !leftovers.iter().any(|p| p.ends_with(DB_GZ)),
        "a half-written file under its final name: {leftovers:?}"
    );

    let read_only = origin.dir.path().join("read-only");
    assert!(mount_tmpfs(&read_only, "size=1m,ro"));
    let refused = origin.fetch(&read_only, &["--tag", TAG]);
    unmount(&read_only);
    assert_exit_with(&refused, EXIT_OUTPUT, "no permission to write here");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&*read_only.to_string_lossy()),
        "{}",
        text(&refused)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
