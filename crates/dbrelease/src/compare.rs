//! What changed since the previous release, as plain data: per-table row deltas and the
//! regressions that stop a publish (a table lost rows or disappeared, a column was dropped or
//! changed type) — the signature of a failed restore about to publish a shrunken database.
//! The "data" section of the release notes is rendered from it by the notes module.

use serde::Serialize;

use dbrelease_manifest::{Column, Manifest, TableInfo};

/// One table's rows before and after.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    /// Columns this release has and the previous one did not.
    pub columns_added: Vec<String>,
    /// Columns the previous release had and this one does not.
    pub columns_removed: Vec<String>,
    /// Columns whose type changed.
    pub columns_retyped: Vec<Retyped>,
    /// The values of the first sort key (else primary-key column) that are new in this
    /// release, when both releases recorded its range and it moved (a daily table: the new
    /// days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_range: Option<NewRange>,
}

/// A column whose type changed between two releases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retyped {
    pub column: String,
    pub from: String,
    pub to: String,
}

/// The part of a sort key's range that is new: above the previous largest value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRange {
    /// The sort key (first `sort_by` column).
    pub column: String,
    /// Largest value in the previous release.
    pub after: String,
    /// Largest value now.
    pub through: String,
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

/// Each table once (a table in parts by its first file), with its total rows.
fn tables(manifest: &Manifest) -> Vec<(String, &str, &TableInfo)> {
    manifest
        .tables()
        .into_iter()
        .map(|t| (table_label(t.info), t.artifacts[0].name.as_str(), t.info))
        .collect()
}

/// The column-level changes of one table (rows and names left empty for the caller).
fn column_changes(old: Option<&TableInfo>, now: &TableInfo) -> TableDelta {
    let mut delta = TableDelta::default();
    let Some(old) = old else {
        return delta;
    };
    let find = |table: &'_ TableInfo, name: &str| -> Option<Column> {
        table.columns.iter().find(|c| c.name == name).cloned()
    };
    for column in &now.columns {
        match find(old, &column.name) {
            None => delta.columns_added.push(column.name.clone()),
            Some(before) if before.duckdb_type != column.duckdb_type => {
                delta.columns_retyped.push(Retyped {
                    column: column.name.clone(),
                    from: before.duckdb_type,
                    to: column.duckdb_type.clone(),
                })
            }
            Some(_) => {}
        }
    }
    delta.columns_removed = old
        .columns
        .iter()
        .filter(|c| find(now, &c.name).is_none())
        .map(|c| c.name.clone())
        .collect();
    // The key new rows extend: the first sort key, else the first primary-key column.
    let key = now.sort_by.first().or(now.primary_key.first());
    delta.new_range = key.and_then(|key| {
        let largest = |table: &TableInfo| {
            find(table, key)
                .filter(|c| find(now, key).is_some_and(|n| n.duckdb_type == c.duckdb_type))
                .and_then(|c| c.stats)
                .and_then(|s| s.max)
        };
        let (after, through) = (largest(old)?, largest(now)?);
        (after != through).then(|| NewRange {
            column: key.clone(),
            after,
            through,
        })
    });
    delta
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
            ..column_changes(old, table)
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
                rows_before: Some(table.rows),
                ..TableDelta::default()
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dbrelease_manifest::{Artifact, ArtifactKind, Column, Generator, Source};

    pub(crate) fn table(name: &str, rows: u64, columns: &[(&str, &str)]) -> Artifact {
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
                        stats: None,
                    })
                    .collect(),
                sort_by: vec![],
                primary_key: vec![],
                partition_by: vec![],
            }),
            database: None,
            duckdb_file: None,
            part_of: None,
            table_part: None,
        }
    }

    pub(crate) fn manifest(tag: &str, artifacts: Vec<Artifact>) -> Manifest {
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
            built_by: None,
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
    }
}
