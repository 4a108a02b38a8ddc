//! What changed since the previous release, as plain data: per-table row deltas and the
//! regressions that stop a publish (a table lost rows or disappeared, a column was dropped or
//! changed type) — the signature of a failed restore about to publish a shrunken database.
//! Also renders the "data" section of the release notes from it.

use serde::Serialize;

use dbrelease_manifest::{ArtifactKind, Manifest, TableInfo};

/// One table's rows before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDelta {
    /// `name`, or `schema.name` outside `main`.
    pub table: String,
    /// Artifact name in this release (None when the table disappeared).
    pub artifact: Option<String>,
    /// Rows in the previous release (None: new table, or no previous release).
    pub rows_before: Option<u64>,
    /// Rows now (None: the table disappeared).
    pub rows_after: Option<u64>,
    /// True when the table is not in the previous release (false when there is none).
    pub new: bool,
}

impl TableDelta {
    /// `+12`, `-3`, `0`, `new`, `gone`.
    pub fn delta_text(&self) -> String {
        match (self.rows_before, self.rows_after) {
            (Some(before), Some(after)) => {
                let delta = after as i128 - before as i128;
                if delta > 0 {
                    format!("+{delta}")
                } else {
                    delta.to_string()
                }
            }
            (None, Some(_)) if self.new => "new".into(),
            (Some(_), None) => "gone".into(),
            (None, _) => String::new(),
        }
    }
}

/// This release against the previous one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The release compared with (None: this is the first, or it was not looked up).
    pub previous_tag: Option<String>,
    /// False when the previous release could not be looked up (a dry run without a token).
    pub looked_up: bool,
    /// Every table of either release, in this release's order, then the vanished ones.
    pub tables: Vec<TableDelta>,
    /// What would make a consumer's queries return less or fail; empty when none.
    pub regressions: Vec<String>,
}

fn table_label(table: &TableInfo) -> String {
    if table.schema == "main" {
        table.name.clone()
    } else {
        format!("{}.{}", table.schema, table.name)
    }
}

fn tables(manifest: &Manifest) -> Vec<(String, &str, &TableInfo)> {
    manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Table)
        .filter_map(|a| {
            a.table
                .as_ref()
                .map(|t| (table_label(t), a.name.as_str(), t))
        })
        .collect()
}

/// Compares `current` with `previous` (the last published release, if any).
pub fn compare(previous: Option<&Manifest>, current: &Manifest) -> Comparison {
    let now = tables(current);
    let before = previous.map(tables).unwrap_or_default();
    let previous_tag = previous.and_then(|m| m.tag.clone());
    let since = previous_tag.as_deref().unwrap_or("the previous release");
    let mut deltas = Vec::new();
    let mut regressions = Vec::new();
    for (label, artifact, table) in &now {
        let old = before
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, _, t)| *t);
        if let Some(old) = old {
            if table.rows < old.rows {
                regressions.push(format!(
                    "table {label} lost {} rows ({} in {since}, {} now)",
                    old.rows - table.rows,
                    old.rows,
                    table.rows
                ));
            }
            for column in &old.columns {
                match table.columns.iter().find(|c| c.name == column.name) {
                    None => regressions.push(format!(
                        "table {label}: column {} ({}) was dropped",
                        column.name, column.duckdb_type
                    )),
                    Some(new) if new.duckdb_type != column.duckdb_type => {
                        regressions.push(format!(
                            "table {label}: column {} changed type from {} to {}",
                            column.name, column.duckdb_type, new.duckdb_type
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        deltas.push(TableDelta {
            table: label.clone(),
            artifact: Some(artifact.to_string()),
            rows_before: old.map(|t| t.rows),
            rows_after: Some(table.rows),
            new: previous.is_some() && old.is_none(),
        });
    }
    for (label, _, table) in &before {
        if !now.iter().any(|(l, _, _)| l == label) {
            regressions.push(format!(
                "table {label} disappeared (it had {} rows in {since})",
                table.rows
            ));
            deltas.push(TableDelta {
                table: label.clone(),
                artifact: None,
                rows_before: Some(table.rows),
                rows_after: None,
                new: false,
            });
        }
    }
    Comparison {
        previous_tag,
        looked_up: true,
        tables: deltas,
        regressions,
    }
}

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
                .table
                .as_ref()
                .map(|t| t.rows.to_string())
                .unwrap_or_default(),
            change = delta.map(TableDelta::delta_text).unwrap_or_default(),
            size = dbrelease_remote::progress::human_bytes(artifact.bytes),
            sha = artifact.sha256,
        ));
    }
    for gone in comparison.tables.iter().filter(|d| d.rows_after.is_none()) {
        text.push_str(&format!(
            "| {} (removed) | | gone | | |\n",
            crate::escape::markdown_text(&gone.table)
        ));
    }
    if let Some(first) = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Table)
    {
        let url = format!("{base}/{}", first.name);
        text.push_str(&format!(
            "\nQuery a table in place (only the parts you read are downloaded):\n\n```sql\n-- DuckDB\nSELECT * FROM read_parquet('{url}') LIMIT 10;\n```\n\n```python\n# Polars\nimport polars as pl\npl.scan_parquet(\"{url}\").head(10).collect()\n```\n"
        )); // GitHub's own pointer to the newest published version: it switches in one step when
        // a version is published, so it never shows a half-uploaded one.
        if let Some((repository, _)) = base.rsplit_once("/releases/download/") {
            text.push_str(&format!(
                "\nThis version, pinned: `{url}`. Always the newest version: `{repository}/releases/latest/download/{}`.\n",
                first.name
            ));
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
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Database)
    {
        let plain = database.name.strip_suffix(".gz").unwrap_or(&database.name);
        text.push_str(&format!(
            "\nDownload the database and check it:\n\n```sh\ncurl -fL -O {base}/SHA256SUMS -O {base}/{name}\nsha256sum --check --ignore-missing SHA256SUMS && gunzip {name} && duckdb {plain}\n```\n",
            name = database.name
        ));
        // The example data-repository workflow attests every file of SHA256SUMS.
        text.push_str(&format!(
            "\nWhere a file came from, when the publishing workflow attests its files (the example data-repository workflow does): `gh attestation verify {name} --repo {repo}`.\n",
            name = database.name
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbrelease_manifest::{Artifact, Column, Generator, Source};

    fn table(name: &str, rows: u64, columns: &[(&str, &str)]) -> Artifact {
        Artifact {
            name: format!("{name}.parquet"),
            kind: ArtifactKind::Table,
            media_type: "application/vnd.apache.parquet".into(),
            bytes: 100,
            sha256: "ab".repeat(32),
            description: None,
            table: Some(TableInfo {
                schema: "main".into(),
                name: name.into(),
                rows,
                columns: columns
                    .iter()
                    .map(|(n, t)| Column {
                        name: n.to_string(),
                        duckdb_type: t.to_string(),
                        parquet_type: None,
                        nullable: true,
                    })
                    .collect(),
                sort_by: vec![],
                primary_key: vec![],
            }),
            database: None,
            duckdb_file: None,
        }
    }

    fn manifest(tag: &str, artifacts: Vec<Artifact>) -> Manifest {
        Manifest {
            manifest_version: 1,
            dataset: "d".into(),
            title: None,
            tag: Some(tag.into()),
            version: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            generator: Generator {
                name: "dbrelease".into(),
                version: "0".into(),
                duckdb_version: "v".into(),
            },
            source: Source {
                file_name: "d.duckdb".into(),
                bytes: 1,
                sha256: "00".repeat(32),
                storage_version: 64,
                storage_compatibility: None,
                written_by: None,
                wal_checkpointed: false,
            },
            artifacts,
        }
    }

    #[test]
    fn growth_and_new_tables_are_not_regressions() {
        let old = manifest("v1", vec![table("a", 10, &[("x", "INTEGER")])]);
        let new = manifest(
            "v2",
            vec![
                table("a", 12, &[("x", "INTEGER"), ("y", "VARCHAR")]),
                table("b", 5, &[("z", "DATE")]),
            ],
        );
        let comparison = compare(Some(&old), &new);
        assert!(comparison.regressions.is_empty(), "{comparison:?}");
        let deltas: Vec<String> = comparison.tables.iter().map(|d| d.delta_text()).collect();
        assert_eq!(deltas, ["+2", "new"]);
        assert_eq!(comparison.previous_tag.as_deref(), Some("v1"));
    }

    #[test]
    fn lost_rows_dropped_columns_changed_types_and_missing_tables_are_named() {
        let old = manifest(
            "v1",
            vec![
                table("a", 10, &[("x", "INTEGER"), ("y", "VARCHAR")]),
                table("b", 3, &[("z", "DATE")]),
                table("c", 1, &[("w", "BIGINT")]),
            ],
        );
        let new = manifest(
            "v2",
            vec![
                table("a", 7, &[("x", "INTEGER")]),
                table("c", 1, &[("w", "VARCHAR")]),
            ],
        );
        let comparison = compare(Some(&old), &new);
        assert_eq!(
            comparison.regressions,
            [
                "table a lost 3 rows (10 in v1, 7 now)",
                "table a: column y (VARCHAR) was dropped",
                "table c: column w changed type from BIGINT to VARCHAR",
                "table b disappeared (it had 3 rows in v1)",
            ]
        );
        let deltas: Vec<String> = comparison.tables.iter().map(|d| d.delta_text()).collect();
        assert_eq!(deltas, ["-3", "0", "gone"]);
    }

    #[test]
    fn the_first_release_has_nothing_to_compare() {
        let new = manifest("v1", vec![table("a", 1, &[("x", "INTEGER")])]);
        let comparison = compare(None, &new);
        assert!(comparison.regressions.is_empty());
        assert_eq!(comparison.tables[0].delta_text(), "");
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
