//! Artifact names and media types. Names must survive every target unchanged: file systems,
//! GitHub (which silently rewrites unusual asset names) and S3 keys, so they stay ASCII.

use std::collections::BTreeSet;

/// Media type of Parquet files (IANA registration).
pub const MEDIA_PARQUET: &str = "application/vnd.apache.parquet";
/// Media type of gzip files.
pub const MEDIA_GZIP: &str = "application/gzip";
/// Media type of JSON files.
pub const MEDIA_JSON: &str = "application/json";
/// Media type of plain text.
pub const MEDIA_TEXT: &str = "text/plain";

/// Replaces everything but ASCII letters, digits, `-`, `_` and `.` by `_`, and keeps the
/// name from being hidden, empty or a path component like `..`.
pub fn sanitize_artifact_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

/// The file name stem of a table's artifact, from its name alone — never from the other
/// tables, so adding, removing or reordering tables never renames another table's file. A name
/// that is already a plain file name is kept as it is (DuckDB's names are unique ignoring case,
/// so two such names never clash); one that had to be changed (`"daily prices"`, `"Ünits"`)
/// gets the first 8 hex digits of the sha256 of its real name, so two names that change into
/// the same text (`"a b"`, `"a/b"`) still get two files: `a_b-1c4a59e7`, `a_b-0d9f2a61`.
pub fn table_artifact_stem(table: &str) -> String {
    use sha2::{Digest, Sha256};
    let sanitized = sanitize_artifact_name(table);
    if sanitized == table {
        return sanitized;
    }
    let digest = Sha256::digest(table.as_bytes());
    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{sanitized}-{short}")
}

/// True when `name` is what [`sanitize_artifact_name`] produces: a plain, visible file name
/// (no separator, no `..`, nothing hidden). Every name that comes from a manifest, an index, a
/// tag or a server response is checked with it before a path is made from it.
pub fn is_safe_file_name(name: &str) -> bool {
    sanitize_artifact_name(name) == name
}

/// [`is_safe_file_name`] as an error naming the field that held the name.
pub fn check_file_name(field: &'static str, name: &str) -> Result<(), crate::ManifestError> {
    if is_safe_file_name(name) {
        Ok(())
    } else {
        Err(crate::ManifestError::UnsafeName {
            field,
            name: name.to_string(),
        })
    }
}

/// Picks `base` + `extension`, or `base-2` + `extension`, `base-3`… so names stay unique
/// (case-insensitively, since some file systems and GitHub fold case).
pub fn unique_name(base: &str, extension: &str, taken: &mut BTreeSet<String>) -> String {
    let mut candidate = format!("{base}{extension}");
    let mut counter = 2;
    while taken.contains(&candidate.to_ascii_lowercase()) {
        candidate = format!("{base}-{counter}{extension}");
        counter += 1;
    }
    taken.insert(candidate.to_ascii_lowercase());
    candidate
}

/// Media type from a file name's extension.
pub fn media_type_for(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let extension = lower.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    match extension {
        "parquet" => MEDIA_PARQUET,
        "gz" | "tgz" => MEDIA_GZIP,
        "json" => MEDIA_JSON,
        "txt" | "md" => MEDIA_TEXT,
        "csv" => "text/csv",
        "zst" => "application/zstd",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_safe_to_use_as_paths() {
        assert!(is_safe_file_name("daily_availability.parquet"));
        for name in ["../x", "a/b", ".hidden", "..", "", "x\\y", "/etc/passwd"] {
            assert!(!is_safe_file_name(name), "{name:?}");
        }
    }

    #[test]
    fn unsafe_names_become_plain_file_names() {
        assert_eq!(sanitize_artifact_name("../etc/passwd"), "_.._etc_passwd");
        // Table artifacts: plain names unchanged, changed names told apart by their digest.
        assert_eq!(table_artifact_stem("daily_prices"), "daily_prices");
        let spaced = table_artifact_stem("a b");
        let slashed = table_artifact_stem("a/b");
        assert!(
            spaced.starts_with("a_b-") && spaced.len() == "a_b-".len() + 8,
            "{spaced}"
        );
        assert!(
            slashed.starts_with("a_b-") && slashed != spaced,
            "{slashed}"
        );
        assert_eq!(
            table_artifact_stem("a b"),
            spaced,
            "the same name always gives the same file"
        );
        assert_eq!(sanitize_artifact_name("a b\"c"), "a_b_c");
        assert_eq!(sanitize_artifact_name("tab\tle\n"), "tab_le_");
        assert_eq!(sanitize_artifact_name("ünïcode"), "_n_code");
        assert_eq!(sanitize_artifact_name(""), "_");
        assert_eq!(sanitize_artifact_name(".hidden"), "_.hidden");
        assert_eq!(
            sanitize_artifact_name("daily_availability"),
            "daily_availability"
        );
    }

    #[test]
    fn colliding_names_get_a_counter() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_name("a_b", ".parquet", &mut taken), "a_b.parquet");
        assert_eq!(unique_name("a_b", ".parquet", &mut taken), "a_b-2.parquet");
        assert_eq!(unique_name("A_B", ".parquet", &mut taken), "A_B-3.parquet");
    }
}
