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
    /// A pre-release or a rolling tag (`nightly`): listed, never "latest". Absent in indexes
    /// written before it existed (false).
    #[serde(default)]
    pub prerelease: bool,
    /// When this version was recorded here, i.e. published (RFC 3339, UTC): what `--as-of`
    /// reads. Absent in indexes written before it existed; `created_at` stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
}

impl VersionEntry {
    /// A real release: not flagged as a pre-release or rolling, and not a semantic-version
    /// pre-release (`v1.2.0-rc.1`).
    pub fn is_release(&self) -> bool {
        !self.prerelease && !is_semver_prerelease(&self.tag)
    }

    /// When it was published: `published_at`, else (older indexes) `created_at`.
    pub fn published(&self) -> &str {
        self.published_at.as_deref().unwrap_or(&self.created_at)
    }
}

/// True for `v1.2.0-rc.1`-style tags: a semantic version with a pre-release part.
pub fn is_semver_prerelease(tag: &str) -> bool {
    let version = tag.strip_prefix('v').unwrap_or(tag);
    let version = version.split('+').next().unwrap_or(version);
    match version.split_once('-') {
        Some((core, pre)) => !pre.is_empty() && release_version(core).is_some(),
        None => false,
    }
}

/// A rolling tag: republished in place with `--replace` and not a semantic version
/// (`nightly`, `daily`). It is listed as a pre-release and never becomes "latest".
pub fn is_rolling(tag: &str, replace: bool) -> bool {
    replace && release_version(tag).is_none()
}

/// True for a tag whose bytes a reader may cache for good: a semantic version, release or
/// pre-release (`v1.2.0`, `v1.2.0-rc.1`). Any other tag (`nightly`, `daily`) may be published
/// again in place, so readers revalidate it.
pub fn is_pinned(tag: &str) -> bool {
    release_version(tag).is_some() || is_semver_prerelease(tag)
}

/// `MAJOR.MINOR.PATCH` of a release tag (`v1.2.3` or `1.2.3`, build metadata ignored); None for
/// a pre-release (`-rc.1`) or anything that is not a semantic version.
pub fn release_version(tag: &str) -> Option<(u64, u64, u64)> {
    let version = tag.strip_prefix('v').unwrap_or(tag);
    let version = version.split('+').next().unwrap_or(version);
    if version.contains('-') {
        return None;
    }
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    let triple = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(triple)
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

    /// The newest real release, never a pre-release or a rolling tag: the highest semantic
    /// version when the releases use them (never build time), else — tags such as dates — the
    /// newest by build time. What `latest/` and `fetch --tag latest` follow.
    pub fn latest_release(&self) -> Option<&VersionEntry> {
        latest_of(self.versions.iter().filter(|v| v.is_release()))
    }

    /// The version that was the latest release at the end of `day` (UTC): the latest among
    /// the releases published by then. None when none was.
    pub fn latest_as_of(&self, day: crate::dated::Day) -> Option<&VersionEntry> {
        let end = day.end_rfc3339();
        latest_of(
            self.versions
                .iter()
                .filter(|v| v.is_release() && v.published() < end.as_str()),
        )
    }

    /// The oldest release, for saying where the history begins.
    pub fn first_release(&self) -> Option<&VersionEntry> {
        self.versions
            .iter()
            .filter(|v| v.is_release())
            .min_by(|a, b| a.published().cmp(b.published()))
    }
}

/// The latest of some releases: the highest semantic version when any is one (never build
/// time), else the newest by build time.
pub fn latest_of<'a>(
    releases: impl Iterator<Item = &'a VersionEntry> + Clone,
) -> Option<&'a VersionEntry> {
    releases
        .clone()
        .filter(|v| release_version(&v.tag).is_some())
        .max_by_key(|v| release_version(&v.tag))
        .or_else(|| releases.max_by(|a, b| a.created_at.cmp(&b.created_at)))
}

impl VersionsIndex {
    /// True when `entry` would be the latest release once recorded: only then may `latest/`
    /// follow it (a pre-release, a nightly, or an older tag mirrored late never moves it).
    pub fn would_be_newest(&self, entry: &VersionEntry) -> bool {
        let mut with_entry = self.clone();
        with_entry.record(entry.clone());
        with_entry
            .latest_release()
            .is_some_and(|latest| latest.tag == entry.tag)
    }

    /// Adds or replaces the entry of its tag; returns false when the index already held it.
    pub fn record(&mut self, entry: VersionEntry) -> bool {
        match self.versions.iter_mut().find(|v| v.tag == entry.tag) {
            // When it was first published stays (a republish or mirror does not move it).
            Some(existing)
                if VersionEntry {
                    published_at: existing.published_at.clone(),
                    ..entry.clone()
                } == *existing =>
            {
                false
            }
            Some(existing) => {
                // A tag once published as a pre-release stays one (a later mirror may not know).
                let prerelease = existing.prerelease || entry.prerelease;
                let published_at = existing.published_at.clone().or(entry.published_at.clone());
                *existing = VersionEntry {
                    prerelease,
                    published_at,
                    ..entry
                };
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
            prerelease: false,
            published_at: None,
        }
    }

    #[test]
    fn latest_is_the_highest_release_never_a_prerelease_a_nightly_or_build_time() {
        let mut index = VersionsIndex::default();
        index.record(entry("v1.10.0", "2026-01-01T00:00:00Z"));
        index.record(entry("v1.9.0", "2026-03-01T00:00:00Z"));
        index.record(entry("v2.0.0-rc.1", "2026-04-01T00:00:00Z"));
        index.record(VersionEntry {
            prerelease: true,
            ..entry("nightly", "2026-05-01T00:00:00Z")
        });
        assert_eq!(index.latest_release().unwrap().tag, "v1.10.0");
        assert!(!index.would_be_newest(&entry("v1.9.1", "2026-06-01T00:00:00Z")));
        assert!(index.would_be_newest(&entry("v1.10.1", "2020-01-01T00:00:00Z")));
        assert!(!index.would_be_newest(&VersionEntry {
            prerelease: is_rolling("nightly", true),
            ..entry("nightly", "2027-01-01T00:00:00Z")
        }));
        assert!(is_semver_prerelease("v2.0.0-rc.1") && !is_semver_prerelease("v2.0.0"));
        assert!(!is_rolling("v1.0.0", true) && is_rolling("nightly", true));

        // Tags that are not semantic versions (dates) follow build time.
        let mut dated = VersionsIndex::default();
        dated.record(entry("2026-01-02", "2026-01-02T00:00:00Z"));
        dated.record(entry("2026-01-03", "2026-01-03T00:00:00Z"));
        assert_eq!(dated.latest_release().unwrap().tag, "2026-01-03");
        assert_eq!(release_version("v1.2.3+build.5"), Some((1, 2, 3)));
        assert_eq!(release_version("v1.2"), None);
    }

    #[test]
    fn as_of_a_day_is_the_latest_release_published_by_its_end() {
        let day = |text| crate::dated::Day::parse(text).unwrap();
        let mut index = VersionsIndex::default();
        index.record(VersionEntry {
            published_at: Some("2026-12-01T04:20:00Z".into()),
            ..entry("v2026.1201.0", "2026-12-01T04:17:00Z")
        });
        index.record(VersionEntry {
            published_at: Some("2026-12-03T23:59:59Z".into()),
            ..entry("v2026.1203.0", "2026-12-03T23:50:00Z")
        });
        index.record(VersionEntry {
            published_at: Some("2026-12-03T23:59:59Z".into()),
            ..entry("v2026.1203.1", "2026-12-03T23:55:00Z")
        });
        // A version published the next day, built before midnight, is not yet "as of" the 3rd.
        index.record(VersionEntry {
            published_at: Some("2026-12-04T00:00:01Z".into()),
            ..entry("v2026.1203.2", "2026-12-03T23:59:00Z")
        });
        let as_of = |text| index.latest_as_of(day(text)).map(|v| v.tag.as_str());
        assert_eq!(as_of("2026-11-30"), None);
        assert_eq!(as_of("2026-12-01"), Some("v2026.1201.0"));
        assert_eq!(as_of("2026-12-02"), Some("v2026.1201.0"));
        assert_eq!(as_of("2026-12-03"), Some("v2026.1203.1"));
        assert_eq!(as_of("2026-12-04"), Some("v2026.1203.2"));
        assert_eq!(index.first_release().unwrap().tag, "v2026.1201.0");
    }

    #[test]
    fn record_keeps_newest_last_and_reports_changes() {
        let mut index = VersionsIndex::default();
        assert!(index.record(entry("v2.0.0", "2026-02-01T00:00:00Z")));
        assert!(index.record(entry("v1.0.0", "2026-01-01T00:00:00Z")));
        assert!(!index.record(entry("v1.0.0", "2026-01-01T00:00:00Z")));
        let tags: Vec<&str> = index.versions.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(tags, ["v1.0.0", "v2.0.0"]);
        assert_eq!(index.newest_other_than("v2.0.0").unwrap().tag, "v1.0.0");
        assert!(!index.would_be_newest(&entry("v1.0.0", "2026-01-01T00:00:00Z")));
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
