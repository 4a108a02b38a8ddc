//! `catalog.duckdb`: one view per table over the version's published Parquet URLs, so any
//! DuckDB client queries a release with one `ATTACH '…/catalog.duckdb'` and nothing else.
//!
//! DuckDB binds a view when it is created (it stores the column names and types, and DuckDB
//! 1.4 refuses a view whose stored types differ from what its query binds to), but the URLs
//! are not readable at build time: a GitHub draft's assets are private until it is published,
//! and the build runs before anything is uploaded. So each view reads
//! `read_parquet(dbrelease_url('daily_availability.parquet'))`, where `dbrelease_url` is a
//! macro stored in the catalog: while the views are created it names the staged Parquet files
//! (the very bytes that will be published, so the stored types are theirs), and it is then
//! replaced by the published URL prefix. A reader's DuckDB binds the view against the URL.
//!
//! The file is written in storage version v1.2.0 with 16 KiB blocks: every DuckDB since 1.2
//! opens it; a reader's ATTACH over HTTP transfers about 57 KB of it instead of 550 KB with
//! the default 256 KiB blocks (DuckDB reads the file once whole, then its blocks); and below
//! v1.4.0 DuckDB writes no random database identifier into the header, so the same tables
//! and URL give the same bytes (the release stays reproducible).

use std::path::Path;

use duckdb::{Config, Connection};

use super::source::{quote_ident, quote_literal};
use crate::error::{Error, Result};

/// The catalog's file name in a release.
pub const CATALOG_FILE: &str = "catalog.duckdb";
/// The storage version the catalog is written in.
pub const CATALOG_STORAGE_VERSION: &str = "v1.2.0";
/// DuckDB's smallest block size: the catalog holds a few views and macros.
const CATALOG_BLOCK_SIZE: u32 = 16 * 1024;
/// The macro every view reads its Parquet URL through.
const URL_MACRO: &str = "dbrelease_url";

/// One view of the catalog: the table's schema and name, and its Parquet file(s).
#[derive(Debug, Clone)]
pub struct CatalogView {
    pub schema: String,
    pub name: String,
    pub files: Vec<String>,
}

/// Writes `dest` (which must not exist): the views of `views` bound against the files in
/// `staging`, reading `{base_url}{file}` once published.
pub fn write_catalog(
    dest: &Path,
    staging: &Path,
    base_url: &str,
    views: &[CatalogView],
) -> Result<()> {
    let fail = |what: &str, err: duckdb::Error| {
        Error::Other(anyhow::anyhow!("writing {}: {what}: {err}", dest.display()))
    };
    // Nothing is downloaded or loaded: the views are bound against local files only.
    let config = Config::default()
        .enable_autoload_extension(false)
        .map_err(|err| fail("configuring DuckDB", err))?;
    let conn =
        Connection::open_in_memory_with_flags(config).map_err(|err| fail("opening DuckDB", err))?;
    conn.execute_batch(&format!(
        "ATTACH {} AS catalog (STORAGE_VERSION {}, BLOCK_SIZE {CATALOG_BLOCK_SIZE})",
        quote_literal(&dest.to_string_lossy()),
        quote_literal(CATALOG_STORAGE_VERSION)
    ))
    .map_err(|err| fail("creating the file", err))?;
    let staged_prefix = format!("{}/", staging.to_string_lossy().trim_end_matches('/'));
    let mut schemas: Vec<&str> = views.iter().map(|view| view.schema.as_str()).collect();
    schemas.sort_unstable();
    schemas.dedup();
    // The macro lives in every schema that has a view, so a view's unqualified call finds the
    // one beside it (DuckDB binds a view within its own catalog and schema).
    let define_macros = |prefix: &str| -> Vec<String> {
        schemas
            .iter()
            .map(|schema| {
                format!(
                    "CREATE OR REPLACE MACRO catalog.{}.{URL_MACRO}(name) AS {} || name",
                    quote_ident(schema),
                    quote_literal(prefix)
                )
            })
            .collect()
    };
    // One statement per call: DuckDB stores each expression's offset in the text it was
    // parsed from, so a view's bytes must not depend on the (random) staging path before it.
    let mut statements = vec!["BEGIN".to_string()];
    for schema in &schemas {
        if *schema != "main" {
            statements.push(format!("CREATE SCHEMA catalog.{}", quote_ident(schema)));
        }
    }
    statements.extend(define_macros(&staged_prefix));
    for view in views {
        let files: Vec<String> = view
            .files
            .iter()
            .map(|file| format!("{URL_MACRO}({})", quote_literal(file)))
            .collect();
        let source = match files.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        statements.push(format!(
            "CREATE VIEW catalog.{}.{} AS SELECT * FROM read_parquet({source})",
            quote_ident(&view.schema),
            quote_ident(&view.name)
        ));
    }
    statements.extend(define_macros(base_url));
    statements.push("COMMIT".into());
    for statement in &statements {
        conn.execute_batch(statement)
            .map_err(|err| fail("creating the views", err))?;
    }
    conn.execute_batch("DETACH catalog")
        .map_err(|err| fail("closing the file", err))?;
    Ok(())
}
