//! `dbrelease build` as a user runs it: the binary on real DuckDB files.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use dbrelease::build::source::quote_literal;
use dbrelease_manifest::{ArtifactKind, Manifest};
use support::*;

/// Opens an in-memory DuckDB with the source database attached read-only as `src`.
fn attach(db: &Path) -> duckdb::Connection {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS src (READ_ONLY)",
        db.to_string_lossy().replace('\'', "''")
    ))
    .unwrap();
    conn
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

/// A SQL list of the files `names` in `dist`, for `read_parquet([…])`.
fn sql_file_list<S: AsRef<str>>(dist: &Path, names: &[S]) -> String {
    names
        .iter()
        .map(|name| quote_literal(&dist.join(name.as_ref()).to_string_lossy()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asserts every table artifact reads back with DuckDB to the same rows (after the documented
/// conversion, if any) and the logical types the manifest promises.
fn assert_round_trip(db: &Path, dist: &Path, manifest: &Manifest) {
    let conn = attach(db);
    for artifact in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Table)
    {
        let table = artifact.table.as_ref().unwrap();
        let parquet = dist
            .join(&artifact.name)
            .to_string_lossy()
            .replace('\'', "''");
        let described: Vec<(String, String)> = conn
            .prepare(&format!("DESCRIBE SELECT * FROM read_parquet('{parquet}')"))
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(described.len(), table.columns.len(), "{}", artifact.name);
        let mut source_projection = Vec::new();
        for (column, (name, read_type)) in table.columns.iter().zip(&described) {
            assert_eq!(&column.name, name);
            let expected = column
                .parquet_type
                .as_deref()
                .unwrap_or(&column.duckdb_type);
            assert_eq!(read_type, expected, "{}.{}", table.name, column.name);
            source_projection.push(match &column.parquet_type {
                Some(target) => format!("CAST({} AS {target})", quote(name)),
                None => quote(name),
            });
        }
        let source = format!(
            "SELECT {} FROM src.{}.{}",
            source_projection.join(", "),
            quote(&table.schema),
            quote(&table.name)
        );
        let exported = format!("SELECT * FROM read_parquet('{parquet}')");
        for (left, right) in [(&source, &exported), (&exported, &source)] {
            let missing = count(
                &conn,
                &format!("SELECT count(*) FROM ({left} EXCEPT ALL {right})"),
            );
            assert_eq!(
                missing, 0,
                "rows differ for {}: {left} vs {right}",
                table.name
            );
        }
        assert_eq!(
            count(&conn, &format!("SELECT count(*) FROM ({exported})")) as u64,
            table.rows
        );
    }
}

#[test]
fn the_committed_fixture_builds_into_a_verifiable_release() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo_root().join("fixtures/binance_futures_availability.duckdb");
    let before = sha256_file(&fixture);
    let dist = dir.path().join("dist");
    let output = dbrelease()
        .current_dir(repo_root())
        .args(["build", "--tag", "v1.0.0", "--out"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        sha256_file(&fixture),
        before,
        "the source database was modified"
    );

    let manifest = manifest(&dist);
    let names: Vec<&str> = manifest.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily_availability.parquet",
            "daily_symbol_counts.parquet",
            "binance_futures_availability.duckdb.gz",
            // Tagged, with the repository in the config: the views' URLs are known.
            "catalog.duckdb"
        ]
    );
    assert_eq!(manifest.tag.as_deref(), Some("v1.0.0"));
    assert_eq!(manifest.version.as_deref(), Some("1.0.0"));
    assert_eq!(manifest.source.sha256, before);
    assert_eq!(manifest.source.storage_version, 64);
    assert_eq!(
        manifest.source.written_by.as_deref().map(|v| &v[..4]),
        Some("v1.4")
    );
    let availability = manifest.artifacts[0].table.as_ref().unwrap();
    assert_eq!(availability.sort_by, ["date", "symbol"]);
    assert_eq!(availability.primary_key, ["date", "symbol"]);
    assert_eq!(availability.columns.len(), 17);
    assert!(!availability.columns[0].nullable);

    // Every byte matches the manifest, and sha256sum agrees.
    for artifact in &manifest.artifacts {
        let path = dist.join(&artifact.name);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), artifact.bytes);
        assert_eq!(sha256_file(&path), artifact.sha256);
    }
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  manifest.json\n") && sums.contains("  datapackage.json\n"));

    // The .gz is plain gzip: `gzip -d` restores the exact database.
    let gz = dist.join("binance_futures_availability.duckdb.gz");
    let restored = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    assert!(restored.status.success());
    assert_eq!(restored.stdout, std::fs::read(&fixture).unwrap());
    let database = manifest.artifacts[2].database.as_ref().unwrap();
    assert_eq!(database.uncompressed_sha256, before);

    // The summary table names every artifact.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for name in names {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert_round_trip(&fixture, &dist, &manifest);

    // datapackage.json describes the same files.
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("datapackage.json")).unwrap())
            .unwrap();
    assert_eq!(package["name"], "binance-futures-availability");
    assert_eq!(package["resources"].as_array().unwrap().len(), 4);
    assert_eq!(
        package["resources"][0]["hash"],
        format!("sha256:{}", manifest.artifacts[0].sha256)
    );
    assert_eq!(package["resources"][0]["schema"]["primaryKey"][1], "symbol");
}

#[test]
fn parquet_files_carry_statistics_sorting_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let output = dbrelease()
        .current_dir(repo_root())
        .args(["build", "--tag", "v9.9.9", "--out"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let parquet = dist.join("daily_availability.parquet");
    let file = std::fs::File::open(&parquet).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let metadata = reader.metadata();
    let key_values = metadata.file_metadata().key_value_metadata().unwrap();
    let get = |key: &str| {
        key_values
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
    };
    // The tag is the manifest's: the same data gives the same file in every version.
    assert_eq!(get("dbrelease.tag"), None);
    assert_eq!(
        get("dbrelease.source").as_deref(),
        Some("binance_futures_availability.duckdb")
    );
    let row_group = metadata.row_group(0);
    let date = row_group.column(0);
    assert!(
        matches!(date.compression(), parquet::basic::Compression::ZSTD(_)),
        "{:?}",
        date.compression()
    );
    assert!(
        date.statistics().is_some(),
        "min/max statistics are written"
    );
    // One page per column chunk, so no page index repeating the chunk statistics.
    assert!(date.column_index_offset().is_none() && date.offset_index_offset().is_none());
    // Bloom filter on `symbol` (column 1).
    assert!(row_group.column(1).bloom_filter_offset().is_some());

    // Rows are in (date, symbol) order.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let unsorted = count(
        &conn,
        &format!(
            "SELECT count(*) FROM (SELECT date, symbol, \
             lag(date) OVER (ORDER BY file_row_number) AS pd, \
             lag(symbol) OVER (ORDER BY file_row_number) AS ps \
             FROM read_parquet('{}', file_row_number = true)) \
             WHERE pd > date OR (pd = date AND ps > symbol)",
            parquet.display()
        ),
    );
    assert_eq!(unsorted, 0);
}

/// Row groups are encoded a few at a time on every core; the file must not depend on how many
/// there are: one CPU (taskset) and all of them give the same bytes, across many row groups.
#[test]
fn parquet_bytes_do_not_depend_on_the_number_of_cores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wide.duckdb");
    make_db(
        &db,
        "CREATE TABLE t AS SELECT range AS id, (hash(range) % 50) / 4.0 AS price,
           hash(range) / 7.0 AS noise, 'label ' || (range % 9)::VARCHAR AS label,
           [range % 3, range % 5] AS pair FROM range(20000);",
    );
    write_config(dir.path(), &db, "[export]\nrow_group_rows = 700\n");
    let mut files: Vec<Vec<u8>> = Vec::new();
    for (run, cores) in [("all", None), ("one", Some("0"))] {
        let mut command = match cores {
            Some(cpu) => {
                let mut command = std::process::Command::new("taskset");
                command
                    .args(["-c", cpu])
                    .arg(env!("CARGO_BIN_EXE_dbrelease"));
                command
            }
            None => dbrelease(),
        };
        let output = command
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("build")
            .arg("--config")
            .arg(dir.path().join("dbrelease.toml"))
            .arg("--out")
            .arg(dir.path().join(run))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        files.push(std::fs::read(dir.path().join(run).join("t.parquet")).unwrap());
    }
    assert!(
        files[0] == files[1],
        "t.parquet differs between 1 core and all cores"
    );
}

#[test]
fn builds_are_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = Vec::new();
    for run in ["a", "b"] {
        let out = dir.path().join(run);
        let output = dbrelease()
            .current_dir(repo_root())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["build", "--tag", "v1.0.0", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        manifests.push(std::fs::read(out.join("manifest.json")).unwrap());
        let gz = std::fs::read(out.join("binance_futures_availability.duckdb.gz")).unwrap();
        // gzip header: mtime from SOURCE_DATE_EPOCH, no file name flag.
        assert_eq!(&gz[4..8], &1_700_000_000u32.to_le_bytes());
        assert_eq!(gz[3], 0);
    }
    assert_eq!(
        manifests[0], manifests[1],
        "manifest.json differs between runs"
    );
    for name in list_dir(&dir.path().join("a")) {
        assert_eq!(
            std::fs::read(dir.path().join("a").join(&name)).unwrap(),
            std::fs::read(dir.path().join("b").join(&name)).unwrap(),
            "{name} differs between runs"
        );
    }
    let manifest: Manifest = serde_json::from_slice(&manifests[0]).unwrap();
    assert_eq!(manifest.created_at, "2023-11-14T22:13:20Z");
}

const ALL_TYPES_SQL: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE all_types (
    i8 TINYINT, i16 SMALLINT, i32 INTEGER, i64 BIGINT, i128 HUGEINT,
    u8 UTINYINT, u16 USMALLINT, u32 UINTEGER, u64 UBIGINT, u128 UHUGEINT,
    d4 DECIMAL(4,1), d18 DECIMAL(18,3), d38 DECIMAL(38,10),
    f FLOAT, g DOUBLE, s VARCHAR, b BLOB, ok BOOLEAN,
    dt DATE, t TIME, ts TIMESTAMP, ts_s TIMESTAMP_S, ts_ms TIMESTAMP_MS, ts_ns TIMESTAMP_NS,
    tstz TIMESTAMPTZ, iv INTERVAL, id UUID, m mood, tz TIMETZ, bits BIT,
    l INTEGER[], arr INTEGER[3], st STRUCT(a INTEGER, "b c" VARCHAR, e mood),
    mp MAP(VARCHAR, INTEGER), nested STRUCT(x HUGEINT[], y MAP(VARCHAR, UUID)),
    un UNION(num INTEGER, str VARCHAR)
);
INSERT INTO all_types VALUES (
    -128, -32768, -2147483648, -9223372036854775808, -170141183460469231731687303715884105,
    255, 65535, 4294967295, 18446744073709551615, 340282366920938463463374607431768211,
    -999.9, 123456789012345.678, 1234567890123456789012345678.0123456789,
    3.5, -1.25e300, 'héllo "wörld"', '\x00\xFF'::BLOB, true,
    DATE '1970-01-01', TIME '23:59:59.999999', TIMESTAMP '2024-02-29 12:34:56.789012',
    TIMESTAMP_S '2024-01-01 00:00:01', TIMESTAMP_MS '2024-01-01 00:00:01.123',
    TIMESTAMP_NS '2024-01-01 00:00:01.123456789', TIMESTAMPTZ '2024-06-01 12:00:00+02',
    INTERVAL '1 year 2 months 3 days 04:05:06.789', '6f1c2a3b-0000-4000-8000-00000000abcd',
    'happy', TIMETZ '12:00:00+05:30', '10110'::BIT,
    [1, NULL, 3], [1, 2, 3], {'a': 1, 'b c': 'x', 'e': 'ok'},
    MAP {'k1': 1, 'k2': NULL}, {'x': [1, NULL], 'y': MAP {'u': '6f1c2a3b-0000-4000-8000-00000000abcd'}},
    union_value(str := 'tagged')
);
INSERT INTO all_types VALUES (
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
);
INSERT INTO all_types (i8, f, g, s, l, st, mp) VALUES
    (0, 'nan'::FLOAT, '-inf'::DOUBLE, '', [], {'a': NULL, 'b c': NULL, 'e': NULL}, MAP {});
"#;

#[test]
fn every_supported_type_round_trips_exactly_or_by_a_documented_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("types.duckdb");
    make_db(&db, ALL_TYPES_SQL);
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    let table = manifest.artifacts[0].table.as_ref().unwrap();
    let conversions: Vec<(String, Option<String>)> = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.parquet_type.clone()))
        .filter(|(_, converted)| converted.is_some())
        .collect();
    let expect = |name: &str, to: &str| (name.to_string(), Some(to.to_string()));
    assert_eq!(
        conversions,
        [
            expect("i128", "DECIMAL(38,0)"),
            expect("u128", "DECIMAL(38,0)"),
            expect("ts_s", "TIMESTAMP"),
            expect("ts_ms", "TIMESTAMP"),
            expect("iv", "VARCHAR"),
            expect("id", "VARCHAR"),
            expect("m", "VARCHAR"),
            expect("tz", "VARCHAR"),
            expect("bits", "VARCHAR"),
            expect("arr", "INTEGER[]"),
            expect("st", "STRUCT(a INTEGER, \"b c\" VARCHAR, e VARCHAR)"),
            expect(
                "nested",
                "STRUCT(x DECIMAL(38,0)[], y MAP(VARCHAR, VARCHAR))"
            ),
            expect("un", "VARCHAR"),
        ]
    );
    assert_round_trip(&db, &dist, &manifest);
}

/// A table name is data: one that carries a line break and a workflow command reaches the
/// error message, the log and the Actions annotation, and starts no command in any of them.
#[test]
fn a_table_name_cannot_inject_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hostile.duckdb");
    make_db(
        &db,
        "CREATE TABLE \"t\n::warning::injected\r\n  ::add-mask::x\" (v HUGEINT);
         INSERT INTO \"t\n::warning::injected\r\n  ::add-mask::x\" VALUES (170141183460469231731687303715884105727);",
    );
    write_config(dir.path(), &db, "");
    let output = dbrelease()
        .env("GITHUB_ACTIONS", "true")
        .arg("build")
        .arg("--config")
        .arg(dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(dir.path().join("dist"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_SOURCE), "{}", text(&output));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("injected"), "the name is still shown: {all}");
    let commands: Vec<&str> = all
        .lines()
        .filter(|l| l.trim_start().starts_with("::"))
        .collect();
    // Only dbrelease's own annotation, with the name's line breaks escaped inside it.
    assert_eq!(commands.len(), 1, "{commands:#?}");
    assert!(
        commands[0].starts_with("::error title=dbrelease::"),
        "{commands:#?}"
    );
    assert!(!all.contains('\r'), "{all:?}");
}

#[test]
fn huge_integers_beyond_parquet_decimal_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("huge.duckdb");
    make_db(
        &db,
        "CREATE TABLE big (v HUGEINT); INSERT INTO big VALUES (170141183460469231731687303715884105727);",
    );
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_SOURCE), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("table big"), "{stderr}");
    assert!(!dir.path().join("dist/manifest.json").exists());
}

/// A table's file name follows from its own name: adding a table whose name changes into the
/// same text (and sorts first) renames nothing that was already published.
#[test]
fn adding_a_table_never_renames_another_tables_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(
        &db,
        r#"CREATE TABLE "with space" (x INTEGER); CREATE TABLE plain (x INTEGER);"#,
    );
    write_config(dir.path(), &db, "");
    let names = || {
        let output = build(dir.path(), &[]);
        assert!(output.status.success(), "{}", text(&output));
        manifest(&dir.path().join("dist"))
            .artifacts
            .iter()
            .filter_map(|a| Some((a.table.as_ref()?.name.clone(), a.name.clone())))
            .collect::<std::collections::BTreeMap<String, String>>()
    };
    let before = names();
    assert_eq!(before["plain"], "plain.parquet");
    assert!(
        before["with space"].starts_with("with_space-"),
        "{before:?}"
    );
    // Sorts before "with space" and sanitizes to the same text.
    make_db(
        &db,
        "CREATE TABLE \"with\tspace\" (x INTEGER); CREATE TABLE with_space (x INTEGER);",
    );
    let after = names();
    assert_eq!(after["with space"], before["with space"]);
    assert_eq!(after["plain"], before["plain"]);
    assert_eq!(after["with_space"], "with_space.parquet");
    assert_ne!(after["with\tspace"], after["with space"]);
}

#[test]
fn odd_table_names_get_safe_unique_artifact_names_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("odd.duckdb");
    let mut sql = String::from(
        r#"
        CREATE TABLE "select" ("from" INTEGER, "weird ""col""" VARCHAR);
        INSERT INTO "select" VALUES (1, 'a'), (2, NULL);
        CREATE TABLE "with space" (x INTEGER); INSERT INTO "with space" VALUES (1);
        CREATE TABLE "with_space" (x INTEGER); INSERT INTO "with_space" VALUES (2);
        CREATE TABLE "../escape" (x INTEGER); INSERT INTO "../escape" VALUES (3);
        CREATE TABLE "a/b\c" (x INTEGER);
        CREATE TABLE "tab	and
newline" (x INTEGER);
        CREATE TABLE "ünïcødé_表" (x VARCHAR); INSERT INTO "ünïcødé_表" VALUES ('ß');
        CREATE TABLE "manifest.json" (x INTEGER);
        CREATE TABLE empty_table (x INTEGER, y VARCHAR[]);
        CREATE SCHEMA other; CREATE TABLE other."select" (x INTEGER); INSERT INTO other."select" VALUES (9);
        "#,
    );
    for index in 0..40 {
        sql.push_str(&format!(
            "CREATE TABLE many_{index:02} AS SELECT range AS id FROM range({index});\n"
        ));
    }
    make_db(&db, &sql);
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    assert_eq!(manifest.artifacts.len(), 51);
    let mut lowercase = std::collections::BTreeSet::new();
    for artifact in &manifest.artifacts {
        let name = &artifact.name;
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "unsafe artifact name {name:?}"
        );
        assert!(!name.starts_with('.'), "{name}");
        assert!(
            lowercase.insert(name.to_ascii_lowercase()),
            "duplicate {name}"
        );
        assert!(dist.join(name).is_file(), "{name} missing");
    }
    for generated in ["manifest.json", "SHA256SUMS", "datapackage.json"] {
        assert!(!manifest.artifacts.iter().any(|a| a.name == generated));
    }
    let find = |schema: &str, table: &str| {
        manifest
            .artifacts
            .iter()
            .find(|a| {
                a.table
                    .as_ref()
                    .is_some_and(|t| t.schema == schema && t.name == table)
            })
            .unwrap_or_else(|| panic!("{schema}.{table} not exported"))
    };
    assert_eq!(find("main", "empty_table").table.as_ref().unwrap().rows, 0);
    assert_eq!(find("main", "many_39").table.as_ref().unwrap().rows, 39);
    assert_eq!(find("other", "select").name, "other.select.parquet");
    assert_round_trip(&db, &dist, &manifest);
    // Nothing was written outside the output directory.
    assert_eq!(
        list_dir(dir.path()),
        ["dbrelease.toml", "dist", "odd.duckdb"]
    );
}

#[test]
fn include_exclude_extra_files_and_stale_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(
        &db,
        "CREATE TABLE keep AS SELECT range AS id FROM range(10); CREATE TABLE drop_me (x INTEGER);",
    );
    let extra = dir.path().join("rankings.parquet");
    std::fs::write(&extra, b"PAR1 not really PAR1").unwrap();
    write_config(dir.path(), &db, "");
    assert!(build(dir.path(), &[]).status.success());
    let dist = dir.path().join("dist");
    assert!(dist.join("drop_me.parquet").exists());

    write_config(
        dir.path(),
        &db,
        "[export]\nexclude = [\"drop_me\"]\n[[files]]\npath = \"rankings.parquet\"\ndescription = \"ranks\"\n",
    );
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let manifest = manifest(&dist);
    let names: Vec<&str> = manifest.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["keep.parquet", "data.duckdb.gz", "rankings.parquet"]
    );
    assert!(
        !dist.join("drop_me.parquet").exists(),
        "stale artifact left behind"
    );
    let rankings = &manifest.artifacts[2];
    assert_eq!(rankings.kind, ArtifactKind::File);
    assert_eq!(rankings.media_type, "application/vnd.apache.parquet");
    assert_eq!(rankings.sha256, sha256_file(&extra));
    assert_eq!(
        list_dir(&dist),
        [
            "SHA256SUMS",
            "data.duckdb.gz",
            "datapackage.json",
            "keep.parquet",
            "manifest.json",
            "rankings.parquet"
        ]
    );

    // Typos in table names are caught, not ignored.
    write_config(dir.path(), &db, "[export]\ninclude = [\"kep\"]\n");
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"kep\""));
}

/// Leaves `db` with changes only in its write-ahead log.
fn make_db_with_wal(db: &Path) {
    make_db(db, "CREATE TABLE t AS SELECT range AS id FROM range(100);");
    let conn = duckdb::Connection::open(db).unwrap();
    conn.execute_batch(
        "PRAGMA disable_checkpoint_on_shutdown; SET checkpoint_threshold = '10GB'; \
         INSERT INTO t SELECT range + 100 FROM range(50);",
    )
    .unwrap();
    drop(conn);
    let wal = db.with_extension("duckdb.wal");
    assert!(
        std::fs::metadata(&wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "test setup: expected a WAL at {}",
        wal.display()
    );
}

#[test]
fn a_pending_wal_is_refused_or_released_as_a_checkpointed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("walled.duckdb");
    make_db_with_wal(&db);
    let wal = db.with_extension("duckdb.wal");
    let (db_before, wal_before) = (sha256_file(&db), sha256_file(&wal));
    write_config(dir.path(), &db, "");

    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_SOURCE), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CHECKPOINT") && stderr.contains("--checkpoint-wal"),
        "{stderr}"
    );
    assert!(!dir.path().join("dist/manifest.json").exists());

    let output = build(dir.path(), &["--checkpoint-wal"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(sha256_file(&db), db_before, "source database modified");
    assert_eq!(sha256_file(&wal), wal_before, "source WAL modified");

    // Parquet and .gz agree: both hold the 150 rows, WAL rows included.
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    assert!(manifest.source.wal_checkpointed);
    assert_eq!(manifest.artifacts[0].table.as_ref().unwrap().rows, 150);
    let mut restored = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dist.join("walled.duckdb.gz")).unwrap())
        .read_to_end(&mut restored)
        .unwrap();
    let restored_path = dir.path().join("restored.duckdb");
    std::fs::write(&restored_path, &restored).unwrap();
    let conn = attach(&restored_path);
    assert_eq!(count(&conn, "SELECT count(*) FROM src.t"), 150);
    assert_eq!(manifest.source.sha256, sha256_file(&restored_path));
    assert_eq!(
        list_dir(&dist)
            .iter()
            .filter(|n| n.starts_with('.'))
            .count(),
        0
    );
}

#[test]
fn python_duckdb_14_reads_the_release() {
    if !python_duckdb_14() {
        skip(
            "python_duckdb_14_reads_the_release",
            "Python duckdb 1.4.x is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("walled.duckdb");
    // A 1.4 file with a WAL written by this DuckDB, checkpointed by --checkpoint-wal:
    // DuckDB 1.4 users must still open the released copy.
    let fixture = repo_root().join("fixtures/binance_futures_availability.duckdb");
    std::fs::copy(&fixture, &db).unwrap();
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA disable_checkpoint_on_shutdown; SET checkpoint_threshold = '10GB'; \
         DELETE FROM daily_symbol_counts WHERE date > DATE '2019-10-10';",
    )
    .unwrap();
    drop(conn);
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &["--checkpoint-wal"]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let script = format!(
        r#"
import duckdb, gzip, shutil
with gzip.open({gz:?}, 'rb') as src, open({out:?}, 'wb') as dst:
    shutil.copyfileobj(src, dst)
con = duckdb.connect({out:?}, read_only=True)
print(con.execute('SELECT count(*) FROM daily_symbol_counts').fetchone()[0])
print(duckdb.execute("SELECT count(*) FROM read_parquet(?)", [{pq:?}]).fetchone()[0])
"#,
        gz = dist.join("walled.duckdb.gz").to_string_lossy(),
        out = dir.path().join("restored.duckdb").to_string_lossy(),
        pq = dist.join("daily_availability.parquet").to_string_lossy(),
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "33\n720\n");
}

#[test]
fn bad_databases_get_clear_errors_and_no_finished_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo_root().join("fixtures/binance_futures_availability.duckdb");
    let fixture_bytes = std::fs::read(&fixture).unwrap();

    type Setup = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        ("missing", Box::new(|_: &Path| {}), "not found"),
        (
            "text",
            Box::new(|p: &Path| {
                std::fs::write(p, "just some text, definitely not a database").unwrap()
            }),
            "not a DuckDB database file",
        ),
        (
            "gzipped",
            Box::new(|p: &Path| {
                std::fs::write(
                    p,
                    [
                        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                    ],
                )
                .unwrap()
            }),
            "gzip-compressed",
        ),
        (
            "truncated",
            Box::new({
                let bytes = fixture_bytes.clone();
                move |p: &Path| std::fs::write(p, &bytes[..100_000]).unwrap()
            }),
            "truncated or corrupt",
        ),
        (
            "newer",
            Box::new({
                let mut bytes = fixture_bytes.clone();
                bytes[12..20].copy_from_slice(&100_000u64.to_le_bytes());
                move |p: &Path| std::fs::write(p, &bytes).unwrap()
            }),
            "upgrade dbrelease",
        ),
        (
            "empty-db",
            Box::new(|p: &Path| make_db(p, "SELECT 1")),
            "no tables",
        ),
    ];
    for (label, setup, expected) in cases {
        let case_dir = dir.path().join(label);
        std::fs::create_dir(&case_dir).unwrap();
        let db = case_dir.join("data.duckdb");
        setup(&db);
        let before = std::fs::read(&db).ok();
        write_config(&case_dir, &db, "");
        let output = build(&case_dir, &[]);
        assert_eq!(
            output.status.code(),
            Some(EXIT_SOURCE),
            "{label}: {}",
            text(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{label}: expected {expected:?} in {stderr}"
        );
        assert!(
            stderr.contains("data.duckdb"),
            "{label}: the message names the file: {stderr}"
        );
        assert!(!case_dir.join("dist/manifest.json").exists(), "{label}");
        assert_eq!(
            list_dir(&case_dir.join("dist")).len(),
            0,
            "{label}: leftovers"
        );
        assert_eq!(std::fs::read(&db).ok(), before, "{label}: source modified");
    }
}

#[test]
fn a_database_locked_by_a_writer_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.duckdb");
    make_db(&db, "CREATE TABLE t (x INTEGER);");
    // This process holds DuckDB's write lock, as a running ingestion job would.
    let writer = duckdb::Connection::open(&db).unwrap();
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &[]);
    drop(writer);
    assert_eq!(output.status.code(), Some(EXIT_SOURCE), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("locked by another process"),
        "{}",
        text(&output)
    );
}

#[test]
fn config_and_output_problems_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo_root().join("fixtures/binance_futures_availability.duckdb");

    write_config(dir.path(), &fixture, "[export]\ncompresion = \"zstd\"\n");
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("compresion"));

    let output = dbrelease()
        .args(["build", "--config"])
        .arg(dir.path().join("nope.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.toml"));

    write_config(
        dir.path(),
        &fixture,
        "[export.tables.daily_availability]\nsort_by = [\"dat\"]\n",
    );
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"dat\""));

    // Failed validation created nothing.
    assert!(!dir.path().join("dist").exists());

    // The output directory is a file.
    write_config(dir.path(), &fixture, "");
    std::fs::write(dir.path().join("dist"), "in the way").unwrap();
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_OUTPUT), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("dist"));
}

#[test]
fn a_full_disk_fails_cleanly() {
    // A 40 KiB tmpfs cannot hold the fixture's artifacts (~110 KiB). Mounting needs root:
    // as root here, through passwordless sudo on GitHub's runners.
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().join("small");
    std::fs::create_dir(&mount_point).unwrap();
    let as_root = |program: &str| {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if is_root {
            Command::new(program)
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", program]);
            sudo
        }
    };
    let mounted = as_root("mount")
        .args(["-t", "tmpfs", "-o", "size=40k,mode=1777", "tmpfs"])
        .arg(&mount_point)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        skip(
            "a_full_disk_fails_cleanly",
            "cannot mount a tmpfs (needs root or passwordless sudo)",
        );
        return;
    }
    let fixture = repo_root().join("fixtures/binance_futures_availability.duckdb");
    write_config(dir.path(), &fixture, "");
    let output = dbrelease()
        .args(["build", "--config"])
        .arg(dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(&mount_point)
        .output()
        .unwrap();
    let leftovers = list_dir(&mount_point);
    let _ = as_root("umount").arg(&mount_point).status();
    assert_eq!(output.status.code(), Some(EXIT_OUTPUT), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("disk is full"),
        "{}",
        text(&output)
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn manifest_schema_documents_every_field() {
    let output = dbrelease().arg("manifest-schema").output().unwrap();
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for field in [
        "manifest_version",
        "dataset",
        "tag",
        "created_at",
        "generator",
        "source",
        "artifacts",
    ] {
        assert!(
            properties[field]["description"].is_string()
                || properties[field].get("$ref").is_some()
                || properties[field].get("allOf").is_some(),
            "{field} is undocumented: {}",
            properties[field]
        );
    }
    assert!(
        schema
            .to_string()
            .contains("application/vnd.apache.parquet")
    );
}

#[test]
fn row_groups_split_at_the_configured_size_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("groups.duckdb");
    make_db(
        &db,
        "CREATE TABLE g AS SELECT range AS id, range * 0.5 AS x, 's' || (range % 7) AS s, \
         [range, NULL] AS l, {'a': range % 3, 'b': NULL} AS st FROM range(10001);",
    );
    write_config(dir.path(), &db, "[export]\nrow_group_rows = 1000\n");
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let file = std::fs::File::open(dist.join("g.parquet")).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|group| group.num_rows())
        .collect();
    assert_eq!(groups.len(), 11);
    assert!(groups[..10].iter().all(|&rows| rows == 1000), "{groups:?}");
    assert_eq!(groups[10], 1);
    assert_round_trip(&db, &dist, &manifest(&dist));
    // Storage order is kept when no sort_by is configured.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let out_of_order = count(
        &conn,
        &format!(
            "SELECT count(*) FROM read_parquet('{}', file_row_number = true) WHERE id <> file_row_number",
            dist.join("g.parquet").display()
        ),
    );
    assert_eq!(out_of_order, 0);
}

#[test]
fn datapackage_json_is_a_valid_frictionless_data_package() {
    let has_frictionless = Command::new("python3")
        .args(["-c", "import frictionless"])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if !has_frictionless {
        skip(
            "datapackage_json_is_a_valid_frictionless_data_package",
            "Python frictionless is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let output = dbrelease()
        .current_dir(repo_root())
        .args(["build", "--tag", "v1.0.0", "--out"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // frictionless validates against the Data Package v2 profile offline; any metadata
    // error (or an exception for an invalid field type) fails the script.
    let script = r#"
import json, sys
from frictionless import Package
descriptor = json.load(open("datapackage.json"))
errors = list(Package.metadata_validate(descriptor))
for error in errors:
    print(error.message)
package = Package("datapackage.json")
print(len(errors), len(package.resources), package.resources[0].schema.primary_key)
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "0 4 ['date', 'symbol']\n"
    );
}

#[test]
fn build_needs_no_config_file_when_given_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("My Prices.duckdb");
    make_db(
        &db,
        "CREATE TABLE quotes AS SELECT range AS id FROM range(10)",
    );
    let output = dbrelease()
        .current_dir(dir.path())
        .args(["build", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.path().join("dist/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.dataset, "my-prices");
    let names: Vec<&str> = manifest.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["quotes.parquet", "My_Prices.duckdb.gz"]);
}

/// A `manifest.json` left in `--out` by someone else names files `build` must not delete:
/// outside `--out` (a planted `../notes.txt`), or inside it when dbrelease did not write it.
#[test]
fn build_removes_only_stale_artifacts_it_wrote_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("small.duckdb");
    make_db(&db, "CREATE TABLE t AS SELECT 1 AS x");
    let out = dir.path().join("dist");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("data.csv"), "mine too").unwrap();
    let planted = |generator: &str, name: &str| {
        serde_json::json!({
            "manifest_version": 1, "dataset": "x", "tag": null, "version": null,
            "created_at": "2026-01-01T00:00:00Z",
            "generator": { "name": generator, "version": "0", "duckdb_version": "v1" },
            "source": { "file_name": "x.duckdb", "bytes": 1, "sha256": "00", "storage_version": 64,
                        "storage_compatibility": null, "written_by": null, "wal_checkpointed": false },
            "artifacts": [{ "name": name, "kind": "file", "media_type": "text/plain", "bytes": 1, "sha256": "00" }]
        })
        .to_string()
    };
    for (generator, name) in [("dbrelease", "../notes.txt"), ("other-tool", "data.csv")] {
        std::fs::write(out.join("manifest.json"), planted(generator, name)).unwrap();
        let output = dbrelease()
            .current_dir(dir.path())
            .args(["build", "--db"])
            .arg(&db)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("data.csv")).unwrap(),
        "mine too"
    );
}

#[test]
fn init_writes_a_config_that_builds_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("prices.duckdb");
    make_db(
        &db,
        "CREATE TABLE quotes (day DATE, symbol VARCHAR, price DOUBLE, PRIMARY KEY (day, symbol));
         INSERT INTO quotes VALUES ('2026-01-02', 'B', 2.0), ('2026-01-01', 'A', 1.0);",
    );
    let init = || {
        dbrelease()
            .current_dir(dir.path())
            .args(["init", "--db", "prices.duckdb"])
            .output()
            .unwrap()
    };
    let output = init();
    assert!(output.status.success(), "{}", text(&output));
    let config = std::fs::read_to_string(dir.path().join("dbrelease.toml")).unwrap();
    assert!(
        config.contains("sort_by = [\"day\", \"symbol\"]"),
        "{config}"
    );
    let build = dbrelease()
        .current_dir(dir.path())
        .arg("build")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.path().join("dist/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.dataset, "prices");
    assert_eq!(
        manifest.artifacts[0].table.as_ref().unwrap().sort_by,
        ["day", "symbol"]
    );

    let again = init();
    assert_eq!(again.status.code(), Some(EXIT_CONFIG), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dbrelease.toml")).unwrap(),
        config
    );
}

/// Each column is written the way that is smallest for its data (measured on its first rows),
/// and every encoding chosen reads back to exactly the source rows.
#[test]
fn encodings_follow_the_data_and_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shapes.duckdb");
    make_db(
        &db,
        "CREATE TABLE t AS SELECT range AS id, \
           hash(range) / 18446744073709551615.0 AS measurement, \
           'https://data.example.org/futures/daily/SYM' || (range // 50)::VARCHAR || '/' || md5(range::VARCHAR) || '.zip' AS url, \
           ['buy', 'sell'][1 + range % 2] AS side, \
           CASE WHEN range % 11 = 0 THEN NULL ELSE range * 3 END AS sparse \
         FROM range(50000);",
    );
    write_config(dir.path(), &db, "");
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let file = std::fs::File::open(dist.join("t.parquet")).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    use parquet::basic::Encoding;
    use parquet::file::reader::FileReader;
    let group = reader.metadata().row_group(0);
    let encodings = |column: usize| group.column(column).encodings().collect::<Vec<_>>();
    // A running id packs into deltas; random doubles split into byte streams; URLs under one
    // stem share their prefix; two labels get a dictionary.
    for (column, name, expected) in [
        (0, "id", Encoding::DELTA_BINARY_PACKED),
        (1, "measurement", Encoding::BYTE_STREAM_SPLIT),
        (2, "url", Encoding::DELTA_BYTE_ARRAY),
        (3, "side", Encoding::RLE_DICTIONARY),
    ] {
        let found = encodings(column);
        assert!(found.contains(&expected), "{name}: {found:?}");
    }
    // One page per column chunk: no page index that would repeat the chunk statistics.
    assert!(group.column(0).offset_index_offset().is_none());
    assert_round_trip(&db, &dist, &manifest(&dist));

    // The people who use the data read it with other tools: Polars and DuckDB 1.4 (Python)
    // must read every one of these encodings to the same values as the source.
    let conn = attach(&db);
    let expected: String = conn
        .query_row(
            "SELECT printf('%d %d %.17g %.17g %d %d %d %d %d', count(*), sum(id), min(measurement), \
             max(measurement), count(DISTINCT measurement), sum(length(url)), count(DISTINCT url), \
             count(*) FILTER (side = 'buy'), sum(sparse)) FROM src.t",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let missing = [
        ("polars", python_polars()),
        ("duckdb 1.4", python_duckdb_14()),
    ];
    for (reader, installed) in missing {
        if !installed {
            skip(
                "encodings_follow_the_data_and_read_back_exactly",
                &format!("Python {reader} is not installed"),
            );
            return;
        }
    }
    let script = format!(
        r#"
import duckdb, polars as pl
t = pl.read_parquet({pq:?})
print("%d %d %.17g %.17g %d %d %d %d %d" % (t.height, t["id"].sum(), t["measurement"].min(),
    t["measurement"].max(), t["measurement"].n_unique(), t["url"].str.len_bytes().sum(),
    t["url"].n_unique(), (t["side"] == "buy").sum(), t["sparse"].sum()))
print(duckdb.sql("SELECT printf('%d %d %.17g %.17g %d %d %d %d %d', count(*), sum(id), min(measurement), "
    "max(measurement), count(DISTINCT measurement), sum(length(url)), count(DISTINCT url), "
    "count(*) FILTER (side = 'buy'), sum(sparse)) FROM read_parquet(?)", params=[{pq:?}]).fetchone()[0])
"#,
        pq = dist.join("t.parquet").to_string_lossy(),
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{expected}\n{expected}\n")
    );
}

/// `sort_by` gives sorted files whether or not the table is stored in that order; a table
/// already stored in key order (NULLs last) keeps its storage order, ties included, without
/// being sorted again.
#[test]
fn sort_by_sorts_unless_the_table_is_already_stored_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("order.duckdb");
    make_db(
        &db,
        "CREATE TABLE stored_sorted AS SELECT range AS id, \
           CASE WHEN range >= 9000 THEN NULL ELSE range // 10 END AS k, \
           'v' || (range % 7)::VARCHAR AS v FROM range(10000) ORDER BY k NULLS LAST, v, id DESC; \
         CREATE TABLE shuffled AS SELECT range AS id, \
           CASE WHEN range % 97 = 0 THEN NULL ELSE range // 10 END AS k, \
           'v' || (range % 7)::VARCHAR AS v FROM range(10000) ORDER BY hash(range);",
    );
    write_config(
        dir.path(),
        &db,
        "[export]\nrow_group_rows = 1000\n\
         [export.tables.stored_sorted]\nsort_by = [\"k\", \"v\"]\n\
         [export.tables.shuffled]\nsort_by = [\"k\", \"v\"]\n",
    );
    let output = build(dir.path(), &["-v"]);
    assert!(output.status.success(), "{}", text(&output));
    // Only the table stored in order skips the sort (its order was checked as it was read).
    let log = String::from_utf8_lossy(&output.stderr);
    let skipped = |table: &str| {
        log.lines()
            .any(|line| line.contains("not sorting") && line.contains(&format!("table={table}")))
    };
    assert!(skipped("stored_sorted"), "{log}");
    assert!(!skipped("shuffled"), "{log}");
    let dist = dir.path().join("dist");
    let conn = attach(&db);
    for table in ["stored_sorted", "shuffled"] {
        let parquet = dist.join(format!("{table}.parquet"));
        let out_of_order = count(
            &conn,
            &format!(
                "SELECT count(*) FROM (SELECT k, v, \
                 lag(k) OVER (ORDER BY file_row_number) AS pk, \
                 lag(v) OVER (ORDER BY file_row_number) AS pv, \
                 lag(k IS NULL) OVER (ORDER BY file_row_number) AS pnull \
                 FROM read_parquet('{}', file_row_number = true)) \
                 WHERE (pnull AND k IS NOT NULL) OR pk > k OR (pk = k AND pv > v)",
                parquet.display()
            ),
        );
        assert_eq!(out_of_order, 0, "{table} is not in (k, v) order");
        assert_eq!(
            count(
                &conn,
                &format!("SELECT count(*) FROM read_parquet('{}')", parquet.display())
            ),
            10_000
        );
    }
    // Already in order: the file lists the rows exactly as they are stored.
    let stored: String = conn
        .query_row(
            "SELECT md5(string_agg(id::VARCHAR, ',' ORDER BY rowid)) FROM src.stored_sorted",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let written: String = conn
        .query_row(
            &format!(
                "SELECT md5(string_agg(id::VARCHAR, ',' ORDER BY file_row_number)) \
                 FROM read_parquet('{}', file_row_number = true)",
                dist.join("stored_sorted.parquet").display()
            ),
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(written, stored);
    // The manifest says how the files are sorted either way.
    let manifest = manifest(&dist);
    for artifact in &manifest.artifacts[..2] {
        assert_eq!(artifact.table.as_ref().unwrap().sort_by, ["k", "v"]);
    }
}

#[test]
fn the_catalog_reads_every_table_through_its_versions_url_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(
        &db,
        "CREATE TABLE trades (id INTEGER, price DOUBLE);
         INSERT INTO trades SELECT range, range / 2 FROM range(1000);
         CREATE SCHEMA other;
         CREATE TABLE other.\"odd 'name\" (d DATE);
         INSERT INTO other.\"odd 'name\" VALUES (DATE '2026-12-01');",
    );
    // The views' URL prefix is a local folder here, so the bundled DuckDB can follow it.
    let served = dir.path().join("served");
    let config_for = |extra: &str| {
        write_config(
            dir.path(),
            &db,
            &format!(
                "[catalog]\nurl = \"{}/{{tag}}/\"\n{extra}",
                served.display()
            ),
        )
    };
    config_for("");
    let output = build(dir.path(), &["--tag", "v1.0.0"]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    let catalog = manifest
        .artifacts
        .iter()
        .find(|a| a.name == "catalog.duckdb")
        .expect("a catalog");
    let file = catalog.duckdb_file.as_ref().unwrap();
    assert_eq!(file.opens_with, "1.2.0");
    assert!(
        file.attach
            .contains(&format!("{}/v1.0.0/catalog.duckdb", served.display()))
    );
    // Published: the files where the catalog says they are.
    let version = served.join("v1.0.0");
    std::fs::create_dir_all(&version).unwrap();
    for artifact in &manifest.artifacts {
        std::fs::copy(dist.join(&artifact.name), version.join(&artifact.name)).unwrap();
    }
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS d (READ_ONLY)",
        version.join("catalog.duckdb").display()
    ))
    .unwrap();
    let sum: f64 = conn
        .query_row("SELECT sum(price) FROM d.trades", [], |row| row.get(0))
        .unwrap();
    assert_eq!(sum, (0..1000).map(|i| i as f64 / 2.0).sum::<f64>());
    let odd: String = conn
        .query_row("SELECT d::VARCHAR FROM d.other.\"odd 'name\"", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(odd, "2026-12-01");
    // Nothing of the build's staging folder is left in it: only the published prefix.
    let bytes = std::fs::read(dist.join("catalog.duckdb")).unwrap();
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(
        !haystack.contains(".dbrelease-staging"),
        "the staging path leaked"
    );
    // Reproducible: another build into another folder gives the same bytes.
    let again = dbrelease()
        .args(["build", "-q", "--tag", "v1.0.0", "--config"])
        .arg(dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(dir.path().join("elsewhere/with/a/longer/path"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        sha256_file(
            &dir.path()
                .join("elsewhere/with/a/longer/path/catalog.duckdb")
        ),
        catalog.sha256
    );
    // Untagged builds and `enabled = false` make none; a URL without {tag} is refused.
    let untagged = build(dir.path(), &[]);
    assert!(untagged.status.success(), "{}", text(&untagged));
    assert!(!list_dir(&dist).contains(&"catalog.duckdb".to_string()));
    config_for("enabled = false\n");
    let disabled = build(dir.path(), &["--tag", "v1.0.0"]);
    assert!(disabled.status.success(), "{}", text(&disabled));
    assert!(!list_dir(&dist).contains(&"catalog.duckdb".to_string()));
    write_config(
        dir.path(),
        &db,
        "[catalog]\nurl = \"https://cdn.example.org/data/latest/\"\n",
    );
    assert_exit_with(&build(dir.path(), &["--tag", "v1.0.0"]), 2, "has no {tag}");
}

#[test]
fn the_uncompressed_database_is_released_beside_its_gz() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(&db, "CREATE TABLE t AS SELECT range AS x FROM range(10);");
    write_config(dir.path(), &db, "[database]\nuncompressed = true\n");
    let output = build(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    let plain = manifest
        .artifacts
        .iter()
        .find(|a| a.name == "data.duckdb")
        .expect("the database as it is");
    assert_eq!(sha256_file(&dist.join("data.duckdb")), sha256_file(&db));
    assert_eq!(plain.sha256, manifest.source.sha256);
    let info = plain.duckdb_file.as_ref().unwrap();
    assert_eq!(
        Some(info.storage_version.clone()),
        manifest
            .source
            .storage_compatibility
            .map(|v| v.trim_end_matches('+').to_string())
    );
    // The gzipped one is still the default download.
    assert_eq!(
        manifest
            .artifacts
            .iter()
            .filter(|a| a.database.is_some())
            .count(),
        1
    );
}

#[test]
fn a_part_size_out_of_range_or_making_too_many_parts_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.duckdb");
    // md5 text barely compresses: a .gz of several MB, over 999 parts of 4 KiB.
    make_db(
        &db,
        "CREATE TABLE t AS SELECT md5(i::VARCHAR) || md5((i * 7)::VARCHAR) AS h FROM range(150000) r(i);",
    );
    write_config(dir.path(), &db, "[database]\npart_size = 4096\n");
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(
        text(&output).contains(
            "more than 999 parts of 4096 bytes ([database] part_size); set a larger part_size"
        ),
        "{}",
        text(&output)
    );
    assert!(
        !dir.path().join("dist/manifest.json").exists(),
        "nothing looks finished"
    );
    write_config(dir.path(), &db, "[database]\npart_size = 100\n");
    let output = build(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(EXIT_CONFIG), "{}", text(&output));
    assert!(
        text(&output).contains("database.part_size 100 is outside 4096..="),
        "{}",
        text(&output)
    );
}

#[test]
fn a_table_past_part_size_is_several_parquet_files_that_read_as_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(
        &db,
        "CREATE TABLE trades (id INTEGER, price DOUBLE, note VARCHAR);
         INSERT INTO trades SELECT range, hash(range) % 100000 / 7, 'note ' || hash(range)
           FROM range(20000);
         CREATE TABLE small (d DATE);
         INSERT INTO small VALUES (DATE '2026-12-01');",
    );
    let served = dir.path().join("served");
    let part_size = 65536u64;
    write_config(
        dir.path(),
        &db,
        &format!(
            "[export]\nrow_group_rows = 1000\npart_size = {part_size}\n[catalog]\nurl = \"{}/{{tag}}/\"\n",
            served.display()
        ),
    );
    let output = build(dir.path(), &["--tag", "v1.0.0"]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let manifest = manifest(&dist);
    assert_eq!(manifest.manifest_version, 2, "table parts need format 2");
    let tables = manifest.tables();
    assert_eq!(tables.len(), 2, "each table once: {tables:#?}");
    let trades = tables.iter().find(|t| t.info.name == "trades").unwrap();
    let names = trades.file_names();
    assert!(names.len() >= 3, "{names:?}");
    for (name, index) in names.iter().zip(1..) {
        assert_eq!(*name, format!("trades-{index:04}.parquet"));
    }
    assert!(!dist.join("trades.parquet").exists());
    // The table's total, and each file's own rows adding up to it.
    assert_eq!(trades.info.rows, 20000);
    let part_rows: u64 = trades
        .artifacts
        .iter()
        .map(|a| a.table_part.as_ref().unwrap().rows)
        .sum();
    assert_eq!(part_rows, 20000);
    // Statistics are the whole table's, not one file's.
    let id = &trades.info.columns[0].stats.as_ref().unwrap();
    assert_eq!(
        (id.min.as_deref(), id.max.as_deref()),
        (Some("0"), Some("19999"))
    );
    // Each file's row groups stay within part_size (its footer comes on top), and each is a
    // complete Parquet file DuckDB reads on its own.
    let conn = attach(&db);
    for artifact in &trades.artifacts {
        let bytes = std::fs::read(dist.join(&artifact.name)).unwrap();
        assert_eq!(bytes.len() as u64, artifact.bytes);
        let footer =
            u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        let data = bytes.len() as u64 - u64::from(footer) - 8;
        assert!(
            data <= part_size,
            "{}: {data} bytes of row groups",
            artifact.name
        );
        let rows = count(
            &conn,
            &format!(
                "SELECT count(*) FROM read_parquet('{}')",
                dist.join(&artifact.name).display()
            ),
        );
        assert_eq!(rows as u64, artifact.table_part.as_ref().unwrap().rows);
    }
    // Together they are the table, row for row.
    let differing = count(
        &conn,
        &format!(
            "SELECT count(*) FROM (SELECT * FROM read_parquet([{}]) EXCEPT ALL SELECT * FROM src.trades)",
            sql_file_list(&dist, &names)
        ),
    );
    assert_eq!(differing, 0);
    // A small table keeps one file and its plain name.
    let small = tables.iter().find(|t| t.info.name == "small").unwrap();
    assert_eq!(small.file_names(), ["small.parquet"]);
    assert!(small.artifacts[0].table_part.is_none());
    // datapackage.json: one resource listing the files.
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("datapackage.json")).unwrap()).unwrap();
    let resource = package["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "main.trades")
        .unwrap();
    assert_eq!(resource["path"], serde_json::json!(names));
    // The catalog's view reads every file.
    let version = served.join("v1.0.0");
    std::fs::create_dir_all(&version).unwrap();
    for artifact in &manifest.artifacts {
        std::fs::copy(dist.join(&artifact.name), version.join(&artifact.name)).unwrap();
    }
    let reader = duckdb::Connection::open_in_memory().unwrap();
    reader
        .execute_batch(&format!(
            "ATTACH '{}' AS d (READ_ONLY)",
            version.join("catalog.duckdb").display()
        ))
        .unwrap();
    assert_eq!(count(&reader, "SELECT count(*) FROM d.trades"), 20000);
    // The same data builds the same files.
    let again = dir.path().join("again");
    let output = dbrelease()
        .args(["build", "--tag", "v1.0.0", "--config"])
        .arg(dir.path().join("dbrelease.toml"))
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    for name in &names {
        assert_eq!(
            std::fs::read(dist.join(name)).unwrap(),
            std::fs::read(again.join(name)).unwrap(),
            "{name} is reproducible"
        );
    }
}

#[test]
fn partition_by_writes_one_file_per_value_and_unchanged_partitions_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    // Stored out of order (the export sorts), with a row whose date is unknown.
    make_db(
        &db,
        "CREATE TABLE klines (day DATE, symbol VARCHAR, close DOUBLE);
         INSERT INTO klines SELECT DATE '2026-01-01' + CAST((range * 7919) % 90 AS INTEGER),
             'S' || (range % 3), range / 10 FROM range(900);
         INSERT INTO klines VALUES (NULL, 'S0', 1.5);
         CREATE TABLE empty_one (day DATE, v INTEGER);",
    );
    write_config(
        dir.path(),
        &db,
        "[export.tables.klines]\npartition_by = [\"strftime(day, '%Y-%m')\"]\nsort_by = [\"day\", \"symbol\"]\n\
         [export.tables.empty_one]\npartition_by = [\"day\"]\n",
    );
    let output = build(dir.path(), &["--tag", "v1.0.0"]);
    assert!(output.status.success(), "{}", text(&output));
    let dist = dir.path().join("dist");
    let first = manifest(&dist);
    let tables = first.tables();
    let klines = tables.iter().find(|t| t.info.name == "klines").unwrap();
    // One file per month in order, NULL last, each named by its value.
    assert_eq!(
        klines.file_names(),
        [
            "klines.2026-01.parquet",
            "klines.2026-02.parquet",
            "klines.2026-03.parquet",
            "klines.null.parquet"
        ]
    );
    assert_eq!(klines.info.partition_by, ["strftime(day, '%Y-%m')"]);
    assert_eq!(klines.info.rows, 901);
    let conn = attach(&db);
    for (artifact, month) in
        klines
            .artifacts
            .iter()
            .zip([Some("2026-01"), Some("2026-02"), Some("2026-03"), None])
    {
        let part = artifact.table_part.as_ref().unwrap();
        assert_eq!(
            part.partition,
            [dbrelease_manifest::PartitionValue {
                by: "strftime(day, '%Y-%m')".into(),
                value: month.map(String::from),
            }]
        );
        // Every row of the file has its month, and the file holds all of that month's rows.
        let path = dist.join(&artifact.name).display().to_string();
        let months: Vec<Option<String>> = conn
            .prepare(&format!(
                "SELECT DISTINCT strftime(day, '%Y-%m') FROM read_parquet('{path}')"
            ))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(months, [month.map(String::from)], "{}", artifact.name);
        let in_source = count(
            &conn,
            &format!(
                "SELECT count(*) FROM src.klines WHERE strftime(day, '%Y-%m') IS NOT DISTINCT FROM {}",
                month.map_or("NULL".to_string(), |m| format!("'{m}'"))
            ),
        );
        assert_eq!(in_source as u64, part.rows, "{}", artifact.name);
    }
    // Together the files are the table, row for row, sorted by day within each file.
    let list = sql_file_list(&dist, &klines.file_names());
    let differing = count(
        &conn,
        &format!(
            "SELECT count(*) FROM (SELECT * FROM read_parquet([{list}]) EXCEPT ALL SELECT * FROM src.klines)"
        ),
    );
    assert_eq!(differing, 0);
    let unsorted = count(
        &conn,
        &format!(
            "SELECT count(*) FROM (SELECT day < lag(day) OVER (PARTITION BY filename ORDER BY file_row_number) AS back \
             FROM read_parquet([{list}], filename = true, file_row_number = true)) WHERE back"
        ),
    );
    assert_eq!(unsorted, 0, "rows are sorted by day within each file");
    // A partitioned table without rows is one empty file under its plain name.
    let empty = tables.iter().find(|t| t.info.name == "empty_one").unwrap();
    assert_eq!(empty.file_names(), ["empty_one.parquet"]);
    drop(conn);

    // A new day in March: January and February are the same bytes, March is not.
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO klines VALUES (DATE '2026-03-31', 'S1', 99.5), (DATE '2026-03-31', 'S2', 98.5); CHECKPOINT",
    )
    .unwrap();
    drop(conn);
    let output = build(dir.path(), &["--tag", "v1.0.1"]);
    assert!(output.status.success(), "{}", text(&output));
    let second = manifest(&dist);
    let sha = |manifest: &Manifest, name: &str| {
        manifest
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.sha256.clone())
            .unwrap()
    };
    for unchanged in [
        "klines.2026-01.parquet",
        "klines.2026-02.parquet",
        "klines.null.parquet",
    ] {
        assert_eq!(
            sha(&first, unchanged),
            sha(&second, unchanged),
            "{unchanged}"
        );
    }
    assert_ne!(
        sha(&first, "klines.2026-03.parquet"),
        sha(&second, "klines.2026-03.parquet")
    );
}

/// A table stored in order for its first rows only: the export starts in storage order, finds
/// rows out of order after it has written files, and sorts instead. The release holds the sorted
/// files, every row once, and only them.
#[test]
fn rows_found_out_of_order_after_files_were_written_are_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    // 2,500 rows in day order (more than DuckDB's first batch), then 60,000 in random days.
    make_db(
        &db,
        "CREATE TABLE klines (day DATE, symbol VARCHAR, close DOUBLE);
         INSERT INTO klines SELECT DATE '2026-01-01' + CAST(range // 1000 AS INTEGER),
             'S' || (range % 3), hash(range) % 100000 / 7 FROM range(2500);
         INSERT INTO klines SELECT DATE '2026-01-01' + CAST(hash(range) % 90 AS INTEGER),
             'S' || (range % 3), hash(range * 7) % 100000 / 7 FROM range(60000);
         CREATE TABLE trades AS SELECT * FROM klines;",
    );
    write_config(
        dir.path(),
        &db,
        "[export]\nrow_group_rows = 1000\npart_size = 65536\n\
         [export.tables.klines]\npartition_by = [\"strftime(day, '%Y-%m')\"]\n\
         [export.tables.trades]\nsort_by = [\"day\"]\n",
    );
    let output = build(dir.path(), &["-v"]);
    assert!(output.status.success(), "{}", text(&output));
    let log = String::from_utf8_lossy(&output.stderr);
    for table in ["klines", "trades"] {
        assert!(
            log.lines().any(|line| line
                .contains("not stored in partition and sort_by order: sorting")
                && line.contains(&format!("table={table}"))),
            "{log}"
        );
    }
    let dist = dir.path().join("dist");
    let release = manifest(&dist);
    let listed: Vec<String> = release
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Table)
        .map(|a| a.name.clone())
        .collect();
    let mut on_disk: Vec<String> = list_dir(&dist)
        .into_iter()
        .filter(|name| name.ends_with(".parquet"))
        .collect();
    on_disk.sort();
    let mut expected = listed.clone();
    expected.sort();
    assert_eq!(on_disk, expected, "only the sorted export's files");
    let tables = release.tables();
    let klines = tables.iter().find(|t| t.info.name == "klines").unwrap();
    let trades = tables.iter().find(|t| t.info.name == "trades").unwrap();
    assert!(
        trades.file_names().len() > 1,
        "trades is in parts: {:?}",
        trades.file_names()
    );
    assert!(
        klines.file_names().contains(&"klines.2026-01-0001.parquet"),
        "January is in parts: {:?}",
        klines.file_names()
    );
    assert_eq!(klines.info.rows, 62_500);
    let conn = attach(&db);
    for table in [klines, trades] {
        let list = sql_file_list(&dist, &table.file_names());
        // Every row once, each partition's files one month only, and the sorted table's days in
        // order across its files.
        let differing = count(
            &conn,
            &format!(
                "SELECT count(*) FROM (SELECT * FROM read_parquet([{list}]) EXCEPT ALL SELECT * FROM src.klines)"
            ),
        );
        assert_eq!(differing, 0, "{}", table.info.name);
        let mixed_files = count(
            &conn,
            &format!(
                "SELECT count(*) FROM (SELECT filename, count(DISTINCT strftime(day, '%Y-%m')) AS months \
                 FROM read_parquet([{list}], filename = true) GROUP BY filename) WHERE months > 1"
            ),
        );
        if table.info.name == "klines" {
            assert_eq!(mixed_files, 0, "each file holds one month");
        } else {
            let unsorted = count(
                &conn,
                &format!(
                    "SELECT count(*) FROM (SELECT day < lag(day) OVER (ORDER BY filename, file_row_number) AS back \
                     FROM read_parquet([{list}], filename = true, file_row_number = true)) WHERE back"
                ),
            );
            assert_eq!(unsorted, 0, "trades is sorted by day");
        }
    }
}

#[test]
fn partition_by_that_names_no_column_or_no_valid_expression_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    make_db(
        &db,
        "CREATE TABLE t (day DATE, v INTEGER); INSERT INTO t VALUES (DATE '2026-01-01', 1);",
    );
    write_config(
        dir.path(),
        &db,
        "[export.tables.t]\npartition_by = [\"month\"]\n",
    );
    let output = build(dir.path(), &["--tag", "v1.0.0"]);
    assert_exit_with(
        &output,
        2,
        "partition_by names column \"month\", which table t does not have (columns: day, v)",
    );
    assert!(!dir.path().join("dist").join("manifest.json").exists());
    write_config(
        dir.path(),
        &db,
        "[export.tables.t]\npartition_by = [\"strftime(dya, '%Y')\"]\n",
    );
    let output = build(dir.path(), &["--tag", "v1.0.0"]);
    assert_exit_with(
        &output,
        2,
        "[export.tables.t] partition_by = [\"strftime(dya, '%Y')\"]: DuckDB cannot compute it",
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("dya"),
        "{}",
        text(&output)
    );
    assert!(!dir.path().join("dist").join("manifest.json").exists());
}
