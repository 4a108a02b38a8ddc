//! `versions.json`: the index of every version published under a URL prefix (S3, a CDN), so
//! readers resolve tags and "latest" without GitHub. Pure data; the S3 target writes it, the
//! remote reader reads it.

use serde::{Deserialize, Serialize};

use crate::ManifestError;

/// File name of the index, at the prefix root.
pub const VERSIONS_FILE: &str = "versions.json";

/// `versions.json`: every published version, newest last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionsIndex {
    /// Newest last (by `created_at`).
    pub versions: Vec<VersionEntry>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Tag.
    pub tag: String,
    /// When it was built.
    pub created_at: String,
    /// sha256 of its manifest.json.
    pub manifest_sha256: String,
    /// URL of its manifest.json.
    pub manifest_url: String,
    /// URL prefix of its artifacts.
    pub base_url: String,
}

impl VersionsIndex {
    /// Parses a published index. Tags become folder names in a reader's cache, so each must be
    /// a plain file name.
    pub fn parse(bytes: &[u8]) -> Result<VersionsIndex, ManifestError> {
        let index: VersionsIndex = serde_json::from_slice(bytes)
            .map_err(|err| ManifestError::Malformed(err.to_string()))?;
        for entry in &index.versions {
            crate::names::check_file_name("a tag named", &entry.tag)?;
        }
        Ok(index)
    }

    /// The bytes to publish: pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("index serializes")
    }

    /// The entry of `tag`.
    pub fn find(&self, tag: &str) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.tag == tag)
    }

    /// The newest version other than `tag` (the previous release when `tag` is being published).
    pub fn newest_other_than(&self, tag: &str) -> Option<&VersionEntry> {
        self.versions.iter().rev().find(|v| v.tag != tag)
    }

    /// True when `entry` is at least as new as every other version: only then may `latest/`
    /// follow it (mirroring or repairing an older tag must not move `latest/` back).
    pub fn would_be_newest(&self, entry: &VersionEntry) -> bool {
        self.versions
            .iter()
            .filter(|v| v.tag != entry.tag)
            .all(|v| v.created_at <= entry.created_at)
    }

    /// Adds or replaces the entry of its tag; returns false when the index already held it.
    pub fn record(&mut self, entry: VersionEntry) -> bool {
        match self.versions.iter_mut().find(|v| v.tag == entry.tag) {
            Some(existing) if *existing == entry => false,
            Some(existing) => {
                *existing = entry;
                true
            }
            None => {
                self.versions.push(entry);
                // Newest last, by build time, whatever order versions were published in.
                self.versions
                    .sort_by(|a, b| a.created_at.cmp(&b.created_at));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: &str, created_at: &str) -> VersionEntry {
        VersionEntry {
            tag: tag.into(),
            created_at: created_at.into(),
            manifest_sha256: "00".into(),
            manifest_url: format!("https://x/{tag}/manifest.json"),
            base_url: format!("https://x/{tag}/"),
        }
    }

    #[test]
    fn record_keeps_newest_last_and_reports_changes() {
        let mut index = VersionsIndex::default();
        assert!(index.record(entry("v2", "2026-02-01T00:00:00Z")));
        assert!(index.record(entry("v1", "2026-01-01T00:00:00Z")));
        assert!(!index.record(entry("v1", "2026-01-01T00:00:00Z")));
        let tags: Vec<&str> = index.versions.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(tags, ["v1", "v2"]);
        assert_eq!(index.newest_other_than("v2").unwrap().tag, "v1");
        assert!(!index.would_be_newest(&entry("v1", "2026-01-01T00:00:00Z")));
    }

    #[test]
    fn parse_refuses_a_tag_that_climbs_out_of_the_cache() {
        let bytes = serde_json::to_vec(&VersionsIndex {
            versions: vec![entry("../../etc", "2026-01-01T00:00:00Z")],
        })
        .unwrap();
        let err = VersionsIndex::parse(&bytes).unwrap_err();
        assert!(err.to_string().contains("not a plain file name"), "{err}");
    }
}
