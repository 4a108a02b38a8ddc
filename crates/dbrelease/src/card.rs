//! The data card of a version (Hugging Face's dataset card is the model): per table its rows,
//! its columns with type, null count and range, and what changed since the previous version.
//! Plain data built from the manifest (whose column statistics come from the Parquet footers,
//! so no data is scanned again) and the [`Comparison`]; rendered as Markdown for the release
//! notes, as one self-contained HTML page for S3's `index.html`, and as JSON by `describe`.

use serde::Serialize;

use dbrelease_manifest::{ArtifactKind, BuildRun, Manifest};
use dbrelease_remote::progress::human_bytes;

use crate::compare::{Comparison, NewRange, Retyped, TableDelta};
use crate::escape::{html_text, markdown_text};

/// File name of the card page on S3, in each version's folder and in `latest/`.
pub const INDEX_FILE: &str = "index.html";

/// Release notes on GitHub hold at most 125,000 characters; the card's tables stop well
/// before, leaving room for the user's notes and the rest of the data section.
const NOTES_CARD_CHARS: usize = 60_000;

/// One version, described.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    pub dataset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub tag: Option<String>,
    pub created_at: String,
    /// The version compared with (None: the first, or not looked up).
    pub previous_tag: Option<String>,
    /// The CI run that built it, when the manifest records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_by: Option<BuildRun>,
    pub tables: Vec<CardTable>,
    /// Tables the previous version had and this one does not.
    pub removed_tables: Vec<String>,
    /// Every file of the version.
    pub files: Vec<CardFile>,
}

/// One table of the card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardTable {
    /// `name`, or `schema.name` outside `main`.
    pub table: String,
    /// The Parquet file.
    pub artifact: String,
    pub rows: u64,
    /// Rows in the previous version (None: new table, or nothing to compare with).
    pub rows_before: Option<u64>,
    /// `+12`, `-3`, `0`, `new`, or empty.
    pub change: String,
    pub columns: Vec<CardColumn>,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub columns_retyped: Vec<Retyped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_range: Option<NewRange>,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// None when the manifest has no statistics for it (nested types, older manifests).
    pub null_count: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
}

/// One file of the version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardFile {
    pub name: String,
    pub kind: ArtifactKind,
    pub bytes: u64,
    pub sha256: String,
}

/// Pure: the card of `manifest`, with the changes of `comparison`.
pub fn card(manifest: &Manifest, comparison: &Comparison) -> Card {
    let delta_of = |artifact: &str| -> Option<&TableDelta> {
        comparison
            .tables
            .iter()
            .find(|d| d.artifact.as_deref() == Some(artifact))
    };
    let tables = manifest
        .tables()
        .into_iter()
        .map(|files| {
            let (table, artifact) = (files.info, files.artifacts[0]);
            let delta = delta_of(&artifact.name);
            CardTable {
                table: delta.map(|d| d.table.clone()).unwrap_or_else(|| {
                    if table.schema == "main" {
                        table.name.clone()
                    } else {
                        format!("{}.{}", table.schema, table.name)
                    }
                }),
                artifact: artifact.name.clone(),
                rows: table.rows,
                rows_before: delta.and_then(|d| d.rows_before),
                change: delta.map(TableDelta::delta_text).unwrap_or_default(),
                columns: table
                    .columns
                    .iter()
                    .map(|column| CardColumn {
                        name: column.name.clone(),
                        type_name: column.duckdb_type.clone(),
                        null_count: column.stats.as_ref().map(|s| s.null_count),
                        min: column.stats.as_ref().and_then(|s| s.min.clone()),
                        max: column.stats.as_ref().and_then(|s| s.max.clone()),
                    })
                    .collect(),
                columns_added: delta.map(|d| d.columns_added.clone()).unwrap_or_default(),
                columns_removed: delta.map(|d| d.columns_removed.clone()).unwrap_or_default(),
                columns_retyped: delta.map(|d| d.columns_retyped.clone()).unwrap_or_default(),
                new_range: delta.and_then(|d| d.new_range.clone()),
            }
        })
        .collect();
    Card {
        dataset: manifest.dataset.clone(),
        title: manifest.title.clone(),
        tag: manifest.tag.clone(),
        created_at: manifest.created_at.clone(),
        previous_tag: comparison.previous_tag.clone(),
        built_by: manifest.built_by.clone(),
        tables,
        removed_tables: comparison
            .tables
            .iter()
            .filter(|d| d.rows_after.is_none())
            .map(|d| d.table.clone())
            .collect(),
        files: manifest
            .artifacts
            .iter()
            .map(|a| CardFile {
                name: a.name.clone(),
                kind: a.kind,
                bytes: a.bytes,
                sha256: a.sha256.clone(),
            })
            .collect(),
    }
}

impl CardTable {
    /// `720 rows (+24), 17 columns`.
    fn headline(&self) -> String {
        let change = match self.change.as_str() {
            "" => String::new(),
            change => format!(" ({change})"),
        };
        format!("{} rows{change}, {} columns", self.rows, self.columns.len())
    }

    /// What changed besides the rows, one sentence each (plain text: escape where shown).
    fn changes(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(range) = &self.new_range {
            lines.push(format!(
                "New {}: {} → {}",
                range.column, range.after, range.through
            ));
        }
        if !self.columns_added.is_empty() {
            lines.push(format!("Columns added: {}", self.columns_added.join(", ")));
        }
        if !self.columns_removed.is_empty() {
            lines.push(format!(
                "Columns removed: {}",
                self.columns_removed.join(", ")
            ));
        }
        for retyped in &self.columns_retyped {
            lines.push(format!(
                "Column {} changed type: {} → {}",
                retyped.column, retyped.from, retyped.to
            ));
        }
        lines
    }
}

fn cell(value: Option<&str>) -> &str {
    value.unwrap_or("")
}

/// The card's tables for the release notes: one collapsed `<details>` per table (the notes
/// stay short), its columns as a Markdown table and what changed. Names and values from the
/// data are escaped for where they go: HTML in the summary, Markdown in the table.
pub fn markdown(card: &Card) -> String {
    let mut text = String::new();
    for (index, table) in card.tables.iter().enumerate() {
        let mut block = format!(
            "<details><summary><b>{}</b>: {}</summary>\n\n",
            html_text(&table.table),
            html_text(&table.headline())
        );
        for line in table.changes() {
            block.push_str(&format!("- {}\n", markdown_text(&line)));
        }
        if !table.changes().is_empty() {
            block.push('\n');
        }
        block.push_str("| column | type | nulls | min | max |\n|---|---|---:|---|---|\n");
        for column in &table.columns {
            block.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                markdown_text(&column.name),
                markdown_text(&column.type_name),
                column.null_count.map(|n| n.to_string()).unwrap_or_default(),
                markdown_text(cell(column.min.as_deref())),
                markdown_text(cell(column.max.as_deref())),
            ));
        }
        block.push_str("\n</details>\n");
        if text.len() + block.len() > NOTES_CARD_CHARS {
            text.push_str(&format!(
                "\n{} more tables: `dbrelease describe --tag {}` shows every one.\n",
                card.tables.len() - index,
                card.tag.as_deref().unwrap_or("TAG")
            ));
            break;
        }
        text.push_str(&block);
    }
    text
}

/// The card as one self-contained HTML page (inline style, no script, nothing loaded from
/// elsewhere), for the version's folder on S3: file links are relative, so the same page
/// works in `{tag}/` and in `latest/`.
pub fn html(card: &Card) -> String {
    let name = card.title.as_deref().unwrap_or(&card.dataset);
    let tag = card.tag.as_deref().unwrap_or("(untagged)");
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} {tag}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title} <span class=\"tag\">{tag}</span></h1>\n",
        title = html_text(name),
        tag = html_text(tag),
    );
    let mut facts = vec![format!("Built {}", html_text(&card.created_at))];
    if let Some(run) = &card.built_by {
        facts.push(format!(
            "by <a href=\"{}\">{} run {}</a>",
            html_text(&run.url),
            html_text(&run.repository),
            html_text(&run.run_id)
        ));
    }
    match &card.previous_tag {
        Some(previous) => facts.push(format!("compared with {}", html_text(previous))),
        None => facts.push("first version".into()),
    }
    page.push_str(&format!(
        "<p class=\"facts\">{}. Every file is listed with its sha256 in <a href=\"SHA256SUMS\">SHA256SUMS</a>; \
         <a href=\"manifest.json\">manifest.json</a> describes them, <a href=\"../versions.json\">versions.json</a> lists every version.</p>\n",
        facts.join(", ")
    ));
    page.push_str("<h2>Tables</h2>\n");
    for table in &card.tables {
        page.push_str(&format!(
            "<section>\n<h3><a href=\"{artifact}\">{name}</a></h3>\n<p class=\"rows\">{headline}</p>\n",
            artifact = html_text(&table.artifact),
            name = html_text(&table.table),
            headline = html_text(&table.headline()),
        ));
        let changes = table.changes();
        if !changes.is_empty() {
            page.push_str("<ul class=\"changes\">\n");
            for line in changes {
                page.push_str(&format!("<li>{}</li>\n", html_text(&line)));
            }
            page.push_str("</ul>\n");
        }
        page.push_str(
            "<table>\n<thead><tr><th>column</th><th>type</th><th class=\"n\">nulls</th><th>min</th><th>max</th></tr></thead>\n<tbody>\n",
        );
        for column in &table.columns {
            page.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>\n",
                html_text(&column.name),
                html_text(&column.type_name),
                column.null_count.map(|n| n.to_string()).unwrap_or_default(),
                html_text(cell(column.min.as_deref())),
                html_text(cell(column.max.as_deref())),
            ));
        }
        page.push_str("</tbody>\n</table>\n</section>\n");
    }
    if !card.removed_tables.is_empty() {
        page.push_str(&format!(
            "<p>Removed since {}: {}</p>\n",
            html_text(
                card.previous_tag
                    .as_deref()
                    .unwrap_or("the previous version")
            ),
            html_text(&card.removed_tables.join(", "))
        ));
    }
    page.push_str("<h2>Files</h2>\n<table>\n<thead><tr><th>file</th><th class=\"n\">size</th><th>sha256</th></tr></thead>\n<tbody>\n");
    for file in &card.files {
        page.push_str(&format!(
            "<tr><td><a href=\"{name}\">{name}</a></td><td class=\"n\">{size}</td><td><code>{sha}</code></td></tr>\n",
            name = html_text(&file.name),
            size = human_bytes(file.bytes),
            sha = html_text(&file.sha256),
        ));
    }
    page.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    page
}

const STYLE: &str = "body { font: 16px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1f24; }
h1 .tag { font-weight: normal; color: #57606a; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.n, th.n { text-align: right; }
code { font-size: 0.85em; }
.rows { font-weight: 600; }
.changes { color: #1a7f37; }
";

/// The card for a terminal: per table its headline, changes and columns.
pub fn text(card: &Card) -> String {
    let mut out = format!(
        "{} {}{}\n",
        card.dataset,
        card.tag.as_deref().unwrap_or("(untagged)"),
        card.previous_tag
            .as_deref()
            .map(|p| format!(" (compared with {p})"))
            .unwrap_or_default()
    );
    if let Some(run) = &card.built_by {
        out.push_str(&format!("built by {}\n", run.url));
    }
    for table in &card.tables {
        out.push_str(&format!("\n{}: {}\n", table.table, table.headline()));
        for line in table.changes() {
            out.push_str(&format!("  {line}\n"));
        }
        let width = table
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for column in &table.columns {
            let range = match (&column.min, &column.max) {
                (Some(min), Some(max)) => format!("  {min} … {max}"),
                _ => String::new(),
            };
            let nulls = column
                .null_count
                .map(|n| format!("  nulls {n}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:width$}  {}{nulls}{range}\n",
                column.name, column.type_name
            ));
        }
    }
    for table in &card.removed_tables {
        out.push_str(&format!("\n{table}: removed\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::compare::tests::{manifest, table};
    use dbrelease_manifest::ColumnStats;

    /// `name` with a `date` sort key whose range ends at `last`.
    fn daily(
        name: &str,
        rows: u64,
        last: &str,
        extra: &[(&str, &str)],
    ) -> dbrelease_manifest::Artifact {
        let mut columns = vec![("date", "DATE")];
        columns.extend_from_slice(extra);
        let mut artifact = table(name, rows, &columns);
        let info = artifact.table.as_mut().unwrap();
        info.sort_by = vec!["date".into()];
        info.columns[0].stats = Some(ColumnStats {
            null_count: 0,
            min: Some("2026-01-01".into()),
            max: Some(last.into()),
        });
        artifact
    }

    #[test]
    fn the_card_says_what_is_new_per_table() {
        let old = manifest(
            "v1",
            vec![daily("k", 10, "2026-12-04", &[("x", "INTEGER")])],
        );
        let new = manifest(
            "v2",
            vec![daily(
                "k",
                12,
                "2026-12-05",
                &[("x", "BIGINT"), ("y", "VARCHAR")],
            )],
        );
        let card = card(&new, &compare(Some(&old), &new));
        let table = &card.tables[0];
        assert_eq!(table.headline(), "12 rows (+2), 3 columns");
        assert_eq!(
            table.changes(),
            [
                "New date: 2026-12-04 → 2026-12-05",
                "Columns added: y",
                "Column x changed type: INTEGER → BIGINT",
            ]
        );
        let notes = markdown(&card);
        assert!(
            notes.starts_with("<details><summary><b>k</b>: 12 rows (+2), 3 columns</summary>"),
            "{notes}"
        );
        assert!(
            notes.contains("| date | DATE | 0 | 2026-01-01 | 2026-12-05 |"),
            "{notes}"
        );
        let page = html(&card);
        assert!(
            page.contains("<li>New date: 2026-12-04 → 2026-12-05</li>"),
            "{page}"
        );
        assert!(!page.contains("<script"), "{page}");
    }

    #[test]
    fn names_and_values_from_the_data_stay_text() {
        let mut artifact = daily("k", 1, "</td><script>x</script>", &[]);
        artifact.table.as_mut().unwrap().name = "<img src=x onerror=alert(1)>".into();
        artifact.table.as_mut().unwrap().columns[0].name = "a|b](http://e)".into();
        let new = manifest("v1", vec![artifact]);
        let card = card(&new, &compare(None, &new));
        let page = html(&card);
        assert!(
            !page.contains("<img") && !page.contains("<script>"),
            "{page}"
        );
        let notes = markdown(&card);
        assert!(
            !notes.contains("<img") && !notes.contains("<script>"),
            "{notes}"
        );
        assert!(notes.contains("a\\|b\\](http://e)"), "{notes}");
    }

    #[test]
    fn notes_stop_listing_tables_before_githubs_limit() {
        let wide: Vec<(String, String)> = (0..40)
            .map(|i| (format!("column_{i}"), "VARCHAR".to_string()))
            .collect();
        let columns: Vec<(&str, &str)> =
            wide.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let tables = (0..200)
            .map(|i| table(&format!("t{i}"), 1, &columns))
            .collect();
        let new = manifest("v1", tables);
        let notes = markdown(&card(&new, &compare(None, &new)));
        assert!(notes.len() <= NOTES_CARD_CHARS + 200, "{}", notes.len());
        assert!(
            notes.contains("more tables: `dbrelease describe --tag v1`"),
            "{notes}"
        );
    }
}
