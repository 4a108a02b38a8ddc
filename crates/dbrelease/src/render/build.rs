//! The end-of-run summary: a table for people, JSON for machines.

use serde_json::json;

use crate::build::BuildOutcome;

pub use dbrelease_remote::progress::human_bytes;

/// The build summary table: artifact, kind, rows, bytes, sha256 prefix.
pub fn build_table(outcome: &BuildOutcome) -> String {
    let manifest = &outcome.manifest;
    let width = manifest
        .artifacts
        .iter()
        .map(|artifact| artifact.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut text = format!(
        "{:<width$}  {:<8}  {:>12}  {:>10}  {}\n",
        "artifact", "kind", "rows", "size", "sha256"
    );
    for artifact in &manifest.artifacts {
        let rows = artifact
            .rows()
            .map(|rows| rows.to_string())
            .unwrap_or_else(|| "-".into());
        let kind = serde_json::to_value(artifact.kind)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        text.push_str(&format!(
            "{:<width$}  {:<8}  {:>12}  {:>10}  {}\n",
            artifact.name,
            kind,
            rows,
            human_bytes(artifact.bytes),
            &artifact.sha256[..12.min(artifact.sha256.len())],
        ));
    }
    text.push_str(&format!(
        "\n{} artifacts in {} ({:.1} s); manifest.json, SHA256SUMS and datapackage.json written.\n",
        manifest.artifacts.len(),
        outcome.out_dir.display(),
        outcome.elapsed.as_secs_f64()
    ));
    text
}

/// The build summary as JSON: the output directory and the manifest.
pub fn build_json(outcome: &BuildOutcome) -> String {
    let value = json!({
        "out_dir": outcome.out_dir,
        "seconds": outcome.elapsed.as_secs_f64(),
        "manifest": outcome.manifest,
    });
    serde_json::to_string_pretty(&value).expect("serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_ls() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(150 * 1024 * 1024), "150.0 MiB");
    }
}
