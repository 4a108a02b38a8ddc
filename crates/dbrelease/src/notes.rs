//! The "data" section of the release notes: rendered from the manifest and the comparison with
//! the previous release, appended once to the notes of a GitHub release.

use dbrelease_manifest::{ArtifactKind, MANIFEST_FILE, Manifest};

use crate::card;
use crate::compare::{Comparison, TableDelta};
use crate::escape::markdown_text;

/// Marks the data section, so it is appended once however often a release is re-published.
pub const DATA_SECTION_MARKER: &str = "<!-- dbrelease:data -->";

/// The "data" section of the release notes: tables with rows and deltas, every artifact's size
/// and sha256, and copy-paste snippets that read the versioned URLs (`download_base` is the
/// folder URL, e.g. `https://github.com/o/r/releases/download/v1.2.0`).
pub fn data_section(
    manifest: &Manifest,
    comparison: &Comparison,
    download_base: &str,
    repo: &str,
) -> String {
    let base = download_base.trim_end_matches('/');
    let mut text = format!("{DATA_SECTION_MARKER}\n## Data\n\n");
    match &comparison.previous_tag {
        Some(tag) => text.push_str(&format!("Rows compared with {tag}.\n\n")),
        None => text.push_str("First release of this dataset.\n\n"),
    }
    text.push_str("| file | rows | change | size | sha256 |\n|---|---:|---:|---:|---|\n");
    for artifact in &manifest.artifacts {
        let delta = comparison
            .tables
            .iter()
            .find(|d| d.artifact.as_deref() == Some(artifact.name.as_str()));
        text.push_str(&format!(
            "| [{name}]({base}/{name}) | {rows} | {change} | {size} | `{sha}` |\n",
            name = artifact.name,
            rows = artifact
                .rows()
                .map(|rows| rows.to_string())
                .unwrap_or_default(),
            change = delta.map(TableDelta::delta_text).unwrap_or_default(),
            size = dbrelease_remote::progress::human_bytes(artifact.bytes),
            sha = artifact.sha256,
        ));
    }
    for gone in comparison.tables.iter().filter(|d| d.rows_after.is_none()) {
        text.push_str(&format!(
            "| {} (removed) | | gone | | |\n",
            markdown_text(&gone.table)
        ));
    }
    // The data card: each table's columns, nulls, ranges and changes, collapsed.
    let card = card::markdown(&card::card(manifest, comparison));
    if !card.is_empty() {
        text.push('\n');
        text.push_str(&card);
    }
    if let Some(run) = &manifest.built_by {
        text.push_str(&format!(
            "\nBuilt by [{} run {}]({}).\n",
            markdown_text(&run.repository),
            markdown_text(&run.run_id),
            run.url
        ));
    }
    if let Some(table) = manifest.tables().first() {
        let first = table.artifacts[0];
        let url = format!("{base}/{}", first.name);
        // A table in parts is read as one from the list of its files.
        let (duckdb_source, polars_source) = if table.in_parts() {
            let urls: Vec<String> = table
                .file_names()
                .iter()
                .map(|name| format!("{base}/{name}"))
                .collect();
            (quoted_list(&urls, '\''), quoted_list(&urls, '"'))
        } else {
            (format!("'{url}'"), format!("\"{url}\""))
        };
        text.push_str(&format!(
            "\nQuery a table in place (only the parts you read are downloaded):\n\n```sql\n-- DuckDB\nSELECT * FROM read_parquet({duckdb_source}) LIMIT 10;\n```\n\n```python\n# Polars\nimport polars as pl\npl.scan_parquet({polars_source}).head(10).collect()\n```\n"
        )); // GitHub's own pointer to the newest published version: it switches in one step when
        // a version is published, so it never shows a half-uploaded one.
        if let Some((repository, _)) = base.rsplit_once("/releases/download/") {
            if table.in_parts() {
                // No one file is the table: the newest manifest lists its files.
                text.push_str(&format!(
                    "\nThis version, pinned: the {} files above. Always the newest version: the files `{repository}/releases/latest/download/{MANIFEST_FILE}` lists for this table.\n",
                    table.artifacts.len()
                ));
            } else {
                text.push_str(&format!(
                    "\nThis version, pinned: `{url}`. Always the newest version: `{repository}/releases/latest/download/{}`.\n",
                    first.name
                ));
            }
        }
    }
    if let Some(catalog) = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Catalog)
        && let Some(file) = &catalog.duckdb_file
    {
        let example = manifest
            .artifacts
            .iter()
            .find_map(|a| a.table.as_ref())
            .map(|t| {
                format!(
                    "\nFROM data.{} LIMIT 10;",
                    crate::build::source::quote_ident(&t.name)
                )
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "\nEvery table from any DuckDB client (DuckDB ≥ {}, with httpfs; nothing is downloaded first):\n\n```sql\n{};{example}\n```\n",
            file.opens_with, file.attach
        ));
    }
    if let Some(tag) = &manifest.tag
        && manifest
            .artifacts
            .iter()
            .any(|a| a.kind == ArtifactKind::Table)
    {
        text.push_str(&format!(
            "\nIn Python without downloading (`pip install 'dbrelease[duckdb]'`; a query reads only what it needs):\n\n```python\nimport dbrelease\ncon = dbrelease.connect(\"{repo}\", tag=\"{tag}\", remote=True)\n```\n"
        ));
    }
    if let (Some(tag), true) = (
        &manifest.tag,
        manifest
            .artifacts
            .iter()
            .any(|a| a.kind == ArtifactKind::Database),
    ) {
        text.push_str(&format!(
            "\nIn Python, pinned, verified and cached (`pip install 'dbrelease[duckdb]'`):\n\n```python\nimport dbrelease\ncon = dbrelease.connect(\"{repo}\", tag=\"{tag}\")\n```\n"
        ));
    }
    if let Some(database) = manifest
        .whole_files()
        .into_iter()
        .find(|f| f.first().kind == ArtifactKind::Database)
    {
        let name = database.name;
        let plain = name.strip_suffix(".gz").unwrap_or(name);
        if database.in_parts() {
            // curl's own URL globbing keeps the zero padding and names each file as published.
            let count = database.artifacts.len();
            text.push_str(&format!(
                "\nDownload the database (in {count} parts: GitHub takes files under 2 GiB) and check it:\n\n```sh\ncurl -fL -O {base}/SHA256SUMS -O \"{base}/{name}.[001-{count:03}]\"\nsha256sum --check --ignore-missing SHA256SUMS && cat {name}.[0-9][0-9][0-9] | gunzip > {plain} && duckdb {plain}\n```\n\n`dbrelease fetch --repo {repo} --tag {tag}` does the same, downloading the parts in parallel.\n",
                tag = manifest.tag.as_deref().unwrap_or("latest"),
            ));
        } else {
            text.push_str(&format!(
                "\nDownload the database and check it:\n\n```sh\ncurl -fL -O {base}/SHA256SUMS -O {base}/{name}\nsha256sum --check --ignore-missing SHA256SUMS && gunzip {name} && duckdb {plain}\n```\n",
            ));
        }
        // The example data-repository workflow attests every file of SHA256SUMS.
        text.push_str(&format!(
            "\nWhere a file came from, when the publishing workflow attests its files (the example data-repository workflow does): `gh attestation verify {file} --repo {repo}`.\n",
            file = database.first().name
        ));
    }
    text
}

/// `['a', 'b']` (DuckDB) or `["a", "b"]` (Polars): a list literal of `items` in `quote`s.
fn quoted_list(items: &[String], quote: char) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("{quote}{item}{quote}"))
        .collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::compare::tests::{manifest, table};

    #[test]
    fn the_first_release_says_so_and_shows_snippets_on_the_versioned_url() {
        let new = manifest("v1", vec![table("a", 1, &[("x", "INTEGER")])]);
        let comparison = compare(None, &new);
        let notes = data_section(
            &new,
            &comparison,
            "https://h/o/r/releases/download/v1/",
            "o/r",
        );
        assert!(notes.starts_with(DATA_SECTION_MARKER));
        assert!(notes.contains("First release"));
        assert!(notes.contains("read_parquet('https://h/o/r/releases/download/v1/a.parquet')"));
        assert!(
            notes.contains("pl.scan_parquet(\"https://h/o/r/releases/download/v1/a.parquet\")")
        );
    }
}
