//! `SHA256SUMS`: the checksum list `sha256sum -c` reads, and how it must agree with the manifest.
//! Rendering lives on [`crate::Manifest::sha256sums`].

use crate::{Manifest, SHA256SUMS_FILE};

/// `(sha256, name)` pairs of a `sha256sum` file (text `  ` or binary ` *` separator).
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once("  ").or_else(|| line.split_once(" *")))
        .map(|(sha, name)| (sha.trim().to_string(), name.trim().to_string()))
        .collect()
}

/// Where a published SHA256SUMS disagrees with the manifest, one sentence per artifact.
pub fn problems(manifest: &Manifest, listed: &[(String, String)]) -> Vec<String> {
    manifest
        .artifacts
        .iter()
        .filter_map(
            |artifact| match listed.iter().find(|(_, name)| *name == artifact.name) {
                Some((sha, _)) if *sha == artifact.sha256 => None,
                Some((sha, _)) => Some(format!(
                    "{SHA256SUMS_FILE} lists {} with sha256 {sha}, the manifest {}",
                    artifact.name, artifact.sha256
                )),
                None => Some(format!("{SHA256SUMS_FILE} does not list {}", artifact.name)),
            },
        )
        .collect()
}
