//! Shared test helpers: fixture databases made from SQL, running the binary, hashing files.
#![allow(dead_code)]

// Exit codes by name; not every test file uses every one.
#[allow(unused_imports)]
pub use dbrelease::error::{
    EXIT_CONFIG, EXIT_FAILURE, EXIT_OUTPUT, EXIT_REFUSED, EXIT_REMOTE, EXIT_SOURCE,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// The dbrelease binary built by cargo for these tests.
pub fn dbrelease() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dbrelease"));
    command
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RUST_LOG")
        // Tests decide themselves whether they run "inside GitHub Actions".
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_SERVER_URL")
        .env_remove("GITHUB_SHA")
        .env_remove("GITHUB_RUN_ID")
        .env_remove("GITHUB_RUN_ATTEMPT")
        .env_remove("GITHUB_WORKFLOW_REF");
    command
}

/// Repository root (where the committed fixture and dbrelease.toml live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Creates a DuckDB database at `path` by running `sql`, checkpointed and closed.
pub fn make_db(path: &Path, sql: &str) {
    let conn = duckdb::Connection::open(path).expect("create test database");
    conn.execute_batch(sql).expect("fixture SQL runs");
    conn.execute_batch("CHECKPOINT").expect("checkpoint");
}

/// Writes a minimal config naming `db`.
pub fn write_config(dir: &Path, db: &Path, extra: &str) -> PathBuf {
    let config = dir.join("dbrelease.toml");
    std::fs::write(
        &config,
        format!(
            "[dataset]\nname = \"test-data\"\ndatabase = {:?}\n{extra}",
            db.to_string_lossy()
        ),
    )
    .unwrap();
    config
}

/// Runs `dbrelease build` with the config in `dir`, into `dir/dist`.
pub fn build(dir: &Path, extra_args: &[&str]) -> Output {
    dbrelease()
        .arg("build")
        .arg("--config")
        .arg(dir.join("dbrelease.toml"))
        .arg("--out")
        .arg(dir.join("dist"))
        .args(extra_args)
        .output()
        .expect("run dbrelease")
}

/// Text of stdout and stderr together, for messages.
pub fn text(output: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts that a run ended with exit `code` and said `needle` on stderr.
pub fn assert_exit_with(output: &Output, code: i32, needle: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(needle),
        "{}",
        text(output)
    );
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> String {
    sha256_bytes(&std::fs::read(path).unwrap())
}

/// Hex sha256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The manifest in a dist directory.
pub fn manifest(dist: &Path) -> dbrelease_manifest::Manifest {
    serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap()).unwrap()
}

/// Names of the files in a directory, sorted (hidden ones too).
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Records that the calling test could not run: printed by the harness, and appended to
/// `$DBRELEASE_SKIP_LOG`, which `scripts/test.sh` counts in its last line (and fails on in CI).
/// Without the log (a bare `cargo test`) a skip fails the test: a skip is never a pass.
pub fn skip(test: &str, reason: &str) {
    let line = format!("{test}: {reason}\n");
    eprint!("skipped: {line}");
    match std::env::var_os("DBRELEASE_SKIP_LOG") {
        Some(path) => {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(line.as_bytes()))
                .expect("the skip log is writable");
        }
        None => panic!(
            "{test} cannot run: {reason}. Run scripts/test.sh, which installs what the tests need"
        ),
    }
}

/// True when `python3 -c "import duckdb"` works and it is 1.4.x (the fixture writer).
pub fn python_duckdb_14() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import duckdb, sys; sys.exit(0 if duckdb.__version__.startswith('1.4') else 1)",
        ])
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}
/// True when `python3 -c "import polars"` works.
pub fn python_polars() -> bool {
    Command::new("python3")
        .args(["-c", "import polars"])
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}
pub mod file_server;
pub mod github_fake;
pub mod s3_server;
