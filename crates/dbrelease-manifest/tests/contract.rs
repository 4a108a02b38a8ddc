//! The manifest as readers see it: the committed JSON Schema, and what `Manifest::parse` accepts.

use dbrelease_manifest::{MANIFEST_VERSION, Manifest, ManifestError};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.schema.json");

/// The schema readers validate against is committed; a change to the types must show up in the
/// diff. Regenerate with `DBRELEASE_UPDATE_SCHEMA=1 cargo test --release -p dbrelease-manifest`.
#[test]
fn committed_schema_matches_the_types() {
    let generated =
        serde_json::to_string_pretty(&dbrelease_manifest::json_schema()).unwrap() + "\n";
    if std::env::var_os("DBRELEASE_UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &generated).unwrap();
    }
    let committed =
        std::fs::read_to_string(SCHEMA_PATH).expect("manifest.schema.json is committed");
    assert!(
        committed == generated,
        "manifest.schema.json is out of date with the Manifest types: regenerate it with \
         DBRELEASE_UPDATE_SCHEMA=1 cargo test --release -p dbrelease-manifest and commit the diff"
    );
}

fn published() -> serde_json::Value {
    serde_json::json!({
        "manifest_version": 1,
        "dataset": "prices",
        "tag": "v1.0.0",
        "version": "1.0.0",
        "created_at": "2026-01-01T00:00:00Z",
        "generator": { "name": "dbrelease", "version": "0.1.0", "duckdb_version": "v1.4.5" },
        "source": {
            "file_name": "prices.duckdb", "bytes": 12288, "sha256": "ab",
            "storage_version": 64, "storage_compatibility": null, "written_by": null,
            "wal_checkpointed": false
        },
        "artifacts": [{
            "name": "prices.parquet", "kind": "table", "media_type": "application/vnd.apache.parquet",
            "bytes": 10, "sha256": "cd"
        }]
    })
}

#[test]
fn fields_added_by_a_newer_dbrelease_are_ignored() {
    let mut manifest = published();
    manifest["signature"] = serde_json::json!("added later");
    manifest["artifacts"][0]["row_groups"] = serde_json::json!(4);
    let parsed = Manifest::parse(&serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert_eq!(parsed.artifacts[0].name, "prices.parquet");
}

#[test]
fn a_newer_format_says_to_upgrade() {
    let mut manifest = published();
    manifest["manifest_version"] = serde_json::json!(MANIFEST_VERSION + 1);
    let err = Manifest::parse(&serde_json::to_vec(&manifest).unwrap()).unwrap_err();
    assert!(matches!(err, ManifestError::NewerFormat { .. }));
    assert!(err.to_string().contains("upgrade dbrelease"), "{err}");
}

#[test]
fn names_that_would_leave_a_folder_are_refused() {
    for (pointer, bad) in [
        ("/artifacts/0/name", "../notes.txt"),
        ("/artifacts/0/name", "sub/dir.parquet"),
        ("/source/file_name", "../../outside.duckdb"),
        ("/source/file_name", ".hidden"),
    ] {
        let mut manifest = published();
        *manifest.pointer_mut(pointer).unwrap() = serde_json::json!(bad);
        let err = Manifest::parse(&serde_json::to_vec(&manifest).unwrap()).unwrap_err();
        assert!(
            matches!(&err, ManifestError::UnsafeName { name, .. } if name == bad),
            "{pointer} = {bad}: {err}"
        );
    }
}
