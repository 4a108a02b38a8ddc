//! The publish report for people: the table on stdout, and inside GitHub Actions the step
//! summary and the step outputs.

use crate::escape::markdown_text;
use dbrelease_manifest::{MANIFEST_FILE, Manifest};

use super::build::human_bytes;
use crate::actions;

use crate::target::{PublishReport, TargetKind, TargetReport};

/// Step summary and outputs for GitHub Actions (no-ops elsewhere).
pub(crate) fn actions_report(report: &PublishReport, manifest: &Manifest) {
    if !actions::enabled() {
        return;
    }
    let release_url = report
        .github
        .as_ref()
        .and_then(|g| g.release_url.clone())
        .unwrap_or_default();
    let manifest_url = report
        .github
        .as_ref()
        .or(report.s3.as_ref())
        .map(|target| target.manifest_url.clone())
        .unwrap_or_default();
    let artifacts: Vec<serde_json::Value> = manifest
        .artifacts
        .iter()
        .map(|a| serde_json::json!({ "name": a.name, "bytes": a.bytes, "sha256": a.sha256 }))
        .collect();
    actions::outputs(&[
        ("tag", report.tag.clone()),
        // False only when `--tag auto` found nothing new (a later S3 mirror step can skip).
        ("published", "true".into()),
        ("release-url", release_url.clone()),
        ("manifest-url", manifest_url.clone()),
        (
            "artifacts",
            serde_json::to_string(&artifacts).expect("artifacts serialize"),
        ),
    ]);
    actions::summary(&step_summary(report, manifest));
}

/// The step summary: one row per artifact with what each target did, then the row deltas.
pub fn step_summary(report: &PublishReport, manifest: &Manifest) -> String {
    let base = report
        .github
        .as_ref()
        .map(|g| g.manifest_url.trim_end_matches(MANIFEST_FILE).to_string());
    let action = |name: &str| -> String {
        let mut actions = Vec::new();
        if let Some(github) = &report.github
            && let Some(asset) = github.assets.iter().find(|a| a.name == name)
        {
            actions.push(format!("GitHub: {}", asset.action));
        }
        if let Some(s3) = &report.s3
            && let Some(asset) = s3
                .assets
                .iter()
                .find(|a| a.name.ends_with(&format!("/{name}")))
        {
            actions.push(format!("S3: {}", asset.action));
        }
        if actions.is_empty() {
            "unchanged".into()
        } else {
            actions.join(", ")
        }
    };
    let mut text = format!("### dbrelease {}\n\n", markdown_text(&report.tag));
    if let Some(url) = report.github.as_ref().and_then(|g| g.release_url.as_ref()) {
        text.push_str(&format!("Release: {url}\n\n"));
    }
    if let Some(s3) = &report.s3 {
        text.push_str(&format!("S3 manifest: {}\n\n", s3.manifest_url));
    }
    text.push_str(
        "| file | rows | change | bytes | sha256 | action |\n|---|---:|---:|---:|---|---|\n",
    );
    for artifact in &manifest.artifacts {
        let delta = report
            .comparison
            .tables
            .iter()
            .find(|d| d.artifact.as_deref() == Some(artifact.name.as_str()));
        let name = match &base {
            Some(base) => format!("[{0}]({base}{0})", artifact.name),
            None => artifact.name.clone(),
        };
        text.push_str(&format!(
            "| {name} | {} | {} | {} | `{}` | {} |\n",
            artifact
                .rows()
                .map(|rows| rows.to_string())
                .unwrap_or_default(),
            delta.map(|d| d.delta_text()).unwrap_or_default(),
            artifact.bytes,
            artifact.sha256,
            action(&artifact.name)
        ));
    }
    match &report.comparison.previous_tag {
        Some(tag) => text.push_str(&format!(
            "\nRow changes are against {}.\n",
            markdown_text(tag)
        )),
        None => text.push_str("\nNo previous release to compare with.\n"),
    }
    for regression in &report.comparison.regressions {
        text.push_str(&format!(
            "\n> [!WARNING]\n> {} (allowed by --allow-regression)\n",
            markdown_text(regression)
        ));
    }
    text.push_str(&use_it(manifest, base.as_deref()));
    text
}

/// The one-liners a data user copies: the catalog's ATTACH, the pinned and the always-newest
/// URL of the first table on GitHub.
fn use_it(manifest: &Manifest, github_base: Option<&str>) -> String {
    let mut lines = Vec::new();
    if let Some(file) = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == dbrelease_manifest::ArtifactKind::Catalog)
        .and_then(|a| a.duckdb_file.as_ref())
    {
        lines.push(format!(
            "- every table, from any DuckDB ≥ {}: `{}`",
            file.opens_with, file.attach
        ));
    }
    if let (Some(base), Some(table)) = (github_base, manifest.tables().first()) {
        // A table in parts has no one URL: its manifest lists the files.
        let file = if table.in_parts() {
            MANIFEST_FILE
        } else {
            table.artifacts[0].name.as_str()
        };
        lines.push(format!("- pinned: `{base}{file}`"));
        if let Some((repository, _)) = base.rsplit_once("/releases/download/") {
            lines.push(format!(
                "- always the newest: `{repository}/releases/latest/download/{file}`"
            ));
        }
    }
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nUse it:\n\n{}\n", lines.join("\n"))
    }
}

/// The publish report as text, one section per target.
pub fn report_table(report: &PublishReport) -> String {
    if let Some(since) = &report.unchanged_since {
        return format!(
            "up to date: the data has not changed since {since}; no version was published\n"
        );
    }
    let mut text = String::new();
    if !report.comparison.tables.is_empty() {
        text.push_str(&match &report.comparison.previous_tag {
            Some(tag) => format!("rows compared with {tag}:\n"),
            None if !report.comparison.looked_up => {
                "rows (not compared: without a token the previous release is not read):\n".into()
            }
            None => "rows (no previous release to compare with):\n".into(),
        });
        for delta in &report.comparison.tables {
            text.push_str(&format!(
                "  {:<32}  {:>12}  {:>8}\n",
                delta.table,
                delta
                    .rows_after
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into()),
                delta.delta_text()
            ));
        }
        text.push('\n');
    }
    for target in [&report.github, &report.s3].into_iter().flatten() {
        text.push_str(&target_table(target));
    }
    text
}

/// One target's section: the plan (dry run) or what was done, then its state.
fn target_table(report: &TargetReport) -> String {
    let width = report
        .assets
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let label = match report.kind {
        TargetKind::Github => report.target.clone(),
        TargetKind::S3 => "S3".to_string(),
    };
    let mut text = String::new();
    if report.kind == TargetKind::S3 {
        text.push_str(&format!("\nS3 {}\n", report.target));
    }
    if report.dry_run {
        text.push_str(&format!(
            "dry run for {} {}: nothing was changed; this is the plan\n",
            report.target, report.tag
        ));
        text.push_str(&format!(
            "{:<width$}  {:<15}  {:>10}\n",
            "asset", "action", "to send"
        ));
        for asset in &report.assets {
            text.push_str(&format!(
                "{:<width$}  {:<15}  {:>10}\n",
                asset.name,
                asset.action,
                human_bytes(asset.bytes)
            ));
        }
    } else {
        text.push_str(&format!(
            "{:<width$}  {:<15}  {:>10}  {:>7}\n",
            "asset", "action", "sent", "seconds"
        ));
        for asset in &report.assets {
            text.push_str(&format!(
                "{:<width$}  {:<15}  {:>10}  {:>7.2}\n",
                asset.name,
                asset.action,
                human_bytes(asset.bytes),
                asset.seconds
            ));
        }
    }
    if let Some(from) = &report.copied.from {
        let verb = if report.dry_run { "would be" } else { "were" };
        text.push_str(&format!(
            "{} unchanged files ({}) {verb} copied from {from} on the server, not sent\n",
            report.copied.files,
            human_bytes(report.copied.bytes)
        ));
    }
    for note in &report.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    if report.up_to_date {
        match report.kind {
            TargetKind::Github => text.push_str(&format!("{label} {}: up to date\n", report.tag)),
            TargetKind::S3 => text.push_str("S3: up to date\n"),
        }
    }
    match (report.kind, &report.release_url) {
        (TargetKind::Github, Some(url)) => {
            let state = if report.draft { " (draft)" } else { "" };
            text.push_str(&format!("release: {url}{state}\n"));
        }
        (TargetKind::S3, _) => text.push_str(&format!("manifest: {}\n", report.manifest_url)),
        (TargetKind::Github, None) => {}
    }
    text
}
