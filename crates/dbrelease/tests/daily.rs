//! Data that changes every day: `publish --tag auto` makes one immutable date version per day
//! of new data (none for a day without), GitHub's `latest` switches to it in one step, and
//! `fetch --as-of DAY` gives back what was the newest at the end of that day. The daily path of
//! the example workflow, end to end, on the GitHub fake and an S3 server.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use support::github_fake::GitHubFake;
use support::s3_server::{S3Server, Store, aws_env};
use support::*;

const TOKEN: &str = "token-daily-1";
const BUCKET: &str = "releases";

struct Daily {
    dir: tempfile::TempDir,
    fake: GitHubFake,
    s3: S3Server,
}

impl Daily {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.duckdb");
        std::fs::copy(
            repo_root().join("fixtures/binance_futures_availability.duckdb"),
            &db,
        )
        .unwrap();
        // The lax store answers anonymous GETs, so `fetch --base-url` reads the bucket as a
        // public one would be read.
        let s3 = S3Server::start_store(Store::Lax, BUCKET).expect("the lax store runs in-process");
        write_config(
            dir.path(),
            &db,
            &format!(
                "[github]\nrepo = \"owner/data\"\n[s3]\nbucket = \"{BUCKET}\"\nprefix = \"data\"\nendpoint = \"{}\"\n",
                s3.url
            ),
        );
        Daily {
            dir,
            fake: GitHubFake::start("owner", "data", TOKEN),
            s3,
        }
    }

    fn command(&self, now: &str, args: &[&str]) -> Command {
        let mut command = dbrelease();
        command
            .current_dir(self.dir.path())
            .env("GITHUB_API_URL", &self.fake.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .env("DBRELEASE_NOW", now)
            .env_remove("GITHUB_REPOSITORY")
            .args(args);
        aws_env(&mut command);
        command
    }

    /// One cron run at `now`: `publish --github --s3 --tag auto --json`, with the Actions
    /// outputs file, as the example workflow's daily job runs it.
    fn run_daily(&self, now: &str) -> (Output, String) {
        self.fake.state.lock().unwrap().now = now.to_string();
        let outputs = self.dir.path().join("github_output");
        let _ = std::fs::remove_file(&outputs);
        let output = self
            .command(
                now,
                &["publish", "--github", "--s3", "--tag", "auto", "--json"],
            )
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .output()
            .unwrap();
        (
            output,
            std::fs::read_to_string(&outputs).unwrap_or_default(),
        )
    }

    fn change_data(&self) {
        let conn = duckdb::Connection::open(self.dir.path().join("data.duckdb")).unwrap();
        conn.execute_batch(
            "UPDATE daily_symbol_counts SET total_symbols = total_symbols + 1; CHECKPOINT;",
        )
        .unwrap();
    }

    fn published_tags(&self) -> Vec<String> {
        let state = self.fake.state.lock().unwrap();
        state
            .releases
            .iter()
            .filter(|r| !r.draft)
            .map(|r| r.tag.clone())
            .collect()
    }

    fn fetch(&self, args: &[&str]) -> Output {
        dbrelease()
            .env("GITHUB_API_URL", &self.fake.url)
            .env("DBRELEASE_RETRY_MIN_MS", "5")
            .arg("fetch")
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .output()
            .unwrap()
    }

    fn versions_json(&self) -> serde_json::Value {
        let bytes = self
            .s3
            .object(BUCKET, "data/versions.json")
            .expect("versions.json on S3");
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// A step output from a `$GITHUB_OUTPUT` file (`name=value` or `name<<DELIMITER` blocks).
fn step_output(file: &str, name: &str) -> Option<String> {
    let mut lines = file.lines();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix(&format!("{name}=")) {
            return Some(value.to_string());
        }
        if let Some(delimiter) = line.strip_prefix(&format!("{name}<<")) {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            return Some(value.join("\n"));
        }
    }
    None
}

fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", text(output)))
}

/// What `releases/latest` answered at every request of the run (since `from`): each answer is a
/// complete release (every file of its manifest, the manifest included), or none at all before
/// the first version. Returns the tags in the order they were seen.
fn latest_during(daily: &Daily, from: usize, files: &BTreeSet<String>) -> Vec<String> {
    let state = daily.fake.state.lock().unwrap();
    let mut seen: Vec<String> = Vec::new();
    for (line, latest) in &state.latest_log[from..] {
        if let Some((tag, assets)) = latest {
            assert_eq!(
                assets, files,
                "at `{line}` releases/latest answered {tag} with only {assets:?}"
            );
            if seen.last() != Some(tag) {
                seen.push(tag.clone());
            }
        }
    }
    seen
}

#[test]
fn five_daily_runs_make_one_version_per_day_of_new_data_and_latest_never_shows_a_half_release() {
    let daily = Daily::new();
    let files: BTreeSet<String> = [
        "data.duckdb.gz",
        "catalog.duckdb",
        "daily_availability.parquet",
        "daily_symbol_counts.parquet",
        "datapackage.json",
        "SHA256SUMS",
        "manifest.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let mut log_from = 0;
    let mut runs = Vec::new();
    // (when the cron runs, whether the data changed since the run before, the tag expected)
    let days = [
        ("2026-12-01T04:17:00Z", true, Some("v2026.1201.0")),
        ("2026-12-02T04:17:00Z", false, None),
        ("2026-12-03T04:17:00Z", true, Some("v2026.1203.0")),
        ("2026-12-04T04:17:00Z", true, Some("v2026.1204.0")),
        ("2026-12-04T16:30:00Z", true, Some("v2026.1204.1")),
    ];
    let mut previous: Option<&str> = None;
    for (index, (now, changed, expected)) in days.into_iter().enumerate() {
        if changed && index > 0 {
            daily.change_data();
        }
        let (output, outputs) = daily.run_daily(now);
        assert!(output.status.success(), "{now}: {}", text(&output));
        let report = stdout_json(&output);
        match expected {
            Some(tag) => {
                assert_eq!(report["tag"], tag, "{now}");
                assert_eq!(
                    step_output(&outputs, "tag").as_deref(),
                    Some(tag),
                    "{outputs}"
                );
                assert_eq!(step_output(&outputs, "published").as_deref(), Some("true"));
            }
            None => {
                let since = previous.unwrap();
                assert_eq!(report["unchanged_since"], since, "{now}");
                assert_eq!(
                    step_output(&outputs, "tag").as_deref(),
                    Some(since),
                    "{outputs}"
                );
                assert_eq!(step_output(&outputs, "published").as_deref(), Some("false"));
                let human = daily
                    .command(now, &["publish", "--github", "--s3", "--tag", "auto"])
                    .output()
                    .unwrap();
                assert!(human.status.success(), "{}", text(&human));
                assert!(
                    String::from_utf8_lossy(&human.stdout).contains(&format!(
                        "up to date: the data has not changed since {since}"
                    )),
                    "{}",
                    text(&human)
                );
            }
        }
        let seen = latest_during(&daily, log_from, &files);
        log_from = daily.fake.state.lock().unwrap().latest_log.len();
        // Before the switch the previous complete version, after it the new one; no other.
        let want: Vec<String> = previous
            .into_iter()
            .chain(expected)
            .map(String::from)
            .collect();
        assert_eq!(seen, want, "{now}: releases/latest answered {seen:?}");
        runs.push((now, seen));
        if let Some(tag) = expected {
            previous = Some(tag);
        }
    }
    eprintln!("releases/latest during each run: {runs:#?}");
    assert_eq!(
        daily.published_tags(),
        [
            "v2026.1201.0",
            "v2026.1203.0",
            "v2026.1204.0",
            "v2026.1204.1"
        ]
    );
    // Every version is a normal, published, latest-eligible release.
    {
        let state = daily.fake.state.lock().unwrap();
        assert!(
            state
                .releases
                .iter()
                .all(|r| !r.prerelease && r.make_latest)
        );
    }

    // S3: versions.json lists each version once with when it was published; latest/ holds the
    // newest version's files.
    let index = daily.versions_json();
    let listed: Vec<(&str, &str)> = index["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["tag"].as_str().unwrap(),
                v["published_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("v2026.1201.0", "2026-12-01T04:17:00Z"),
            ("v2026.1203.0", "2026-12-03T04:17:00Z"),
            ("v2026.1204.0", "2026-12-04T04:17:00Z"),
            ("v2026.1204.1", "2026-12-04T16:30:00Z"),
        ]
    );
    let latest_manifest = daily
        .s3
        .object(BUCKET, "data/latest/manifest.json")
        .unwrap();
    let latest_manifest: serde_json::Value = serde_json::from_slice(&latest_manifest).unwrap();
    assert_eq!(latest_manifest["tag"], "v2026.1204.1");

    // fetch --as-of, from GitHub and from the bucket, for each day.
    let base_url = format!("{}/{BUCKET}/data", daily.s3.url);
    for (day, want) in [
        ("2026-12-01", "v2026.1201.0"),
        ("2026-12-02", "v2026.1201.0"),
        ("2026-12-03", "v2026.1203.0"),
        ("2026-12-04", "v2026.1204.1"),
        ("2026-12-05", "v2026.1204.1"),
    ] {
        for origin in [["--repo", "owner/data"], ["--base-url", base_url.as_str()]] {
            let output = daily.fetch(&[origin[0], origin[1], "--as-of", day, "--json"]);
            assert!(
                output.status.success(),
                "{day} {origin:?}: {}",
                text(&output)
            );
            assert_eq!(stdout_json(&output)["tag"], want, "{day} {origin:?}");
        }
    }
    // Resolved once, a past day works offline like a pinned tag.
    let offline = daily.fetch(&[
        "--repo",
        "owner/data",
        "--as-of",
        "2026-12-03",
        "--offline",
        "--json",
    ]);
    assert!(offline.status.success(), "{}", text(&offline));
    assert_eq!(stdout_json(&offline)["tag"], "v2026.1203.0");
    // Before the first version, and not a date: clear errors.
    let before = daily.fetch(&["--repo", "owner/data", "--as-of", "2026-11-30"]);
    assert_exit_with(
        &before,
        EXIT_CONFIG,
        "no version was published by the end of that day",
    );
    let before = daily.fetch(&["--base-url", &base_url, "--as-of", "2026-11-30"]);
    assert_exit_with(&before, EXIT_CONFIG, "the first one is v2026.1201.0");
    let bad = daily.fetch(&["--repo", "owner/data", "--as-of", "last tuesday"]);
    assert_exit_with(&bad, EXIT_CONFIG, "YYYY-MM-DD");
    // The newest version, through GitHub's own "latest" and through versions.json.
    for origin in [["--repo", "owner/data"], ["--base-url", base_url.as_str()]] {
        let output = daily.fetch(&[origin[0], origin[1], "--json"]);
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(stdout_json(&output)["tag"], "v2026.1204.1");
    }
}

#[test]
fn a_clock_behind_the_newest_version_or_a_semantic_release_tag_is_refused() {
    let daily = Daily::new();
    let (output, _) = daily.run_daily("2026-12-05T04:17:00Z");
    assert!(output.status.success(), "{}", text(&output));
    daily.change_data();
    let uploads = daily.fake.state.lock().unwrap().uploads_bytes;
    let (behind, _) = daily.run_daily("2026-12-04T23:00:00Z");
    assert_exit_with(&behind, EXIT_CONFIG, "is the clock of this machine behind?");
    assert_eq!(daily.fake.state.lock().unwrap().uploads_bytes, uploads);

    // A repository configured for date versions refuses a semantic-release tag.
    let config = daily.dir.path().join("dbrelease.toml");
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text_before}[release]\ntag = \"auto\"\n")).unwrap();
    let refused = daily
        .command(
            "2026-12-06T04:17:00Z",
            &["publish", "--github", "--tag", "v1.5.0"],
        )
        .output()
        .unwrap();
    assert_exit_with(&refused, EXIT_CONFIG, "would sort below them");
    // …and without --tag, the config's date version is made.
    let made = daily
        .command("2026-12-06T04:17:00Z", &["publish", "--github", "--json"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    assert_eq!(stdout_json(&made)["tag"], "v2026.1206.0");
    let wrong = std::fs::read_to_string(&config)
        .unwrap()
        .replace("tag = \"auto\"", "tag = \"daily\"");
    std::fs::write(&config, wrong).unwrap();
    let bad = daily
        .command("2026-12-07T04:17:00Z", &["publish", "--github"])
        .output()
        .unwrap();
    assert_exit_with(&bad, EXIT_CONFIG, "the only value is \"auto\"");
}

/// 1,500 earlier releases: naming today's version, finding `latest` and `--as-of` read a few
/// pages at most, never the whole history.
#[test]
fn many_versions_stay_cheap() {
    let daily = Daily::new();
    // A real first version, so the history's releases can carry its manifest.
    let (output, _) = daily.run_daily("2022-01-01T04:17:00Z");
    assert!(output.status.success(), "{}", text(&output));
    let (first_tag, manifest_bytes, table_bytes) = {
        let state = daily.fake.state.lock().unwrap();
        let release = &state.releases[0];
        let asset = |name: &str| {
            release
                .assets
                .iter()
                .find(|a| a.name == name)
                .unwrap()
                .data
                .to_vec()
        };
        (
            release.tag.clone(),
            String::from_utf8(asset("manifest.json")).unwrap(),
            asset("daily_symbol_counts.parquet"),
        )
    };
    {
        let mut state = daily.fake.state.lock().unwrap();
        // One version a day from 2022-01-02 on (with the first version's files listed: only
        // the newest is downloaded).
        let mut day = jiff::civil::date(2022, 1, 2);
        for _ in 0..1500 {
            let tag = format!("v{}.{}{:02}.0", day.year(), day.month(), day.day());
            let at = format!("{day}T04:17:00Z");
            let manifest = manifest_bytes.replace(&first_tag, &tag).into_bytes();
            state.seed_release(
                &tag,
                &at,
                &[
                    ("manifest.json", manifest),
                    ("daily_symbol_counts.parquet", table_bytes.clone()),
                ],
            );
            day = day.tomorrow().unwrap();
        }
    }
    let requests = |daily: &Daily| daily.fake.state.lock().unwrap().requests.len();
    let measure = |what: &str, run: &dyn Fn() -> Output| {
        let before = requests(&daily);
        let started = std::time::Instant::now();
        let output = run();
        let seconds = started.elapsed().as_secs_f64();
        let made = requests(&daily) - before;
        eprintln!("{what}: {made} requests to the GitHub API, {seconds:.2} s");
        (output, made)
    };
    // The newest seeded day is 2026-02-09; the next run is the day after.
    let (published, made) = measure("publish --tag auto (1,501 releases)", &|| {
        daily.change_data();
        daily.run_daily("2026-02-10T04:17:00Z").0
    });
    assert!(published.status.success(), "{}", text(&published));
    assert_eq!(stdout_json(&published)["tag"], "v2026.210.0");
    assert!(made <= 40, "publish made {made} requests");
    let (latest, made) = measure("fetch --tag latest", &|| {
        daily.fetch(&["--repo", "owner/data", "daily_symbol_counts", "--json"])
    });
    assert!(latest.status.success(), "{}", text(&latest));
    assert_eq!(stdout_json(&latest)["tag"], "v2026.210.0");
    assert!(made <= 6, "fetch latest made {made} requests");
    let (as_of, made) = measure("fetch --as-of a day 30 versions back", &|| {
        daily.fetch(&[
            "--repo",
            "owner/data",
            "--as-of",
            "2026-01-10",
            "daily_symbol_counts",
            "--json",
        ])
    });
    assert!(as_of.status.success(), "{}", text(&as_of));
    assert_eq!(stdout_json(&as_of)["tag"], "v2026.110.0");
    assert!(made <= 8, "fetch --as-of made {made} requests");
}

/// Adds the next day of rows to both tables (a copy of the newest day's rows, one day later).
fn add_a_day(daily: &Daily) {
    let conn = duckdb::Connection::open(daily.dir.path().join("data.duckdb")).unwrap();
    conn.execute_batch(
        "INSERT INTO daily_availability SELECT * REPLACE (date + 1 AS date) FROM daily_availability WHERE date = (SELECT max(date) FROM daily_availability);
         INSERT INTO daily_symbol_counts SELECT * REPLACE (date + 1 AS date) FROM daily_symbol_counts WHERE date = (SELECT max(date) FROM daily_symbol_counts);
         CHECKPOINT;",
    )
    .unwrap();
}

/// The data card of a day's version: the release notes say per table what is new (rows,
/// the new `date`), the manifest links the Actions run that built it, S3 serves the card as
/// a page a browser shows (checked on a screenshot, through OCR), and `describe` gives the
/// same card as JSON.
#[test]
fn a_new_day_shows_in_the_notes_the_card_page_and_describe() {
    let daily = Daily::new();
    let (first, _) = daily.run_daily("2026-12-04T04:17:00Z");
    assert!(first.status.success(), "{}", text(&first));
    add_a_day(&daily);
    let output = daily
        .command(
            "2026-12-05T04:17:00Z",
            &["publish", "--github", "--s3", "--tag", "auto", "--json"],
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "owner/data")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_OUTPUT", daily.dir.path().join("outputs"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let tag = "v2026.1205.0";
    assert_eq!(stdout_json(&output)["tag"], tag);

    // The notes: one collapsed block per table, with what is new.
    let release = daily.fake.releases(tag).pop().unwrap();
    let notes = &release.body;
    assert!(
        notes.contains(
            "<details><summary><b>daily_availability</b>: 745 rows (+25), 17 columns</summary>"
        ),
        "{notes}"
    );
    assert!(
        notes.contains(
            "<details><summary><b>daily_symbol_counts</b>: 41 rows (+1), 5 columns</summary>"
        ),
        "{notes}"
    );
    assert!(
        notes.contains("- New date: 2019-10-17 → 2019-10-18"),
        "{notes}"
    );
    assert!(
        notes.contains("| file_size_bytes | BIGINT | 13 | 20428 | 3014055 |"),
        "{notes}"
    );
    assert!(
        notes.contains(
            "Built by [owner/data run 4242](https://github.com/owner/data/actions/runs/4242)."
        ),
        "{notes}"
    );
    let manifest: dbrelease_manifest::Manifest = serde_json::from_slice(
        &release
            .assets
            .iter()
            .find(|a| a.name == "manifest.json")
            .unwrap()
            .data,
    )
    .unwrap();
    let run = manifest.built_by.expect("the manifest records the run");
    assert_eq!(run.url, "https://github.com/owner/data/actions/runs/4242");
    assert_eq!(
        run.commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );

    // The page, in the version's folder and in latest/, is what a browser shows.
    let page = daily
        .s3
        .object(BUCKET, &format!("data/{tag}/index.html"))
        .expect("index.html in the version's folder");
    assert_eq!(
        daily.s3.object(BUCKET, "data/latest/index.html").as_deref(),
        Some(page.as_slice()),
        "latest/ has the newest card"
    );
    let page_text = String::from_utf8(page).unwrap();
    assert!(
        !page_text.contains("<script") && !page_text.contains("src=\"http"),
        "self-contained"
    );
    let seen = screenshot_text(&format!("{}/{BUCKET}/data/{tag}/index.html", daily.s3.url));
    if let Some(seen) = seen {
        // OCR reads the rendered page: every table name and its row count is on screen.
        let squashed: String = seen.split_whitespace().collect::<Vec<_>>().join(" ");
        for wanted in [
            "daily_availability",
            "745 rows (+25), 17 columns",
            "daily_symbol_counts",
            "41 rows (+1), 5 columns",
        ] {
            assert!(
                squashed.contains(wanted),
                "{wanted:?} not in the screenshot's text:\n{seen}"
            );
        }
    }

    // describe: the same card as JSON, compared with the version before.
    let described = daily
        .command(
            "2026-12-05T05:00:00Z",
            &["describe", "--repo", "owner/data", "--json"],
        )
        .output()
        .unwrap();
    assert!(described.status.success(), "{}", text(&described));
    let card = stdout_json(&described);
    assert_eq!(card["tag"], tag);
    assert_eq!(card["previous_tag"], "v2026.1204.0");
    let table = &card["tables"][0];
    assert_eq!(table["table"], "daily_availability");
    assert_eq!(table["rows"], 745);
    assert_eq!(table["rows_before"], 720);
    assert_eq!(table["new_range"]["after"], "2019-10-17");
    assert_eq!(table["new_range"]["through"], "2019-10-18");
    assert_eq!(table["columns"][0]["max"], "2019-10-18");
    let human = daily
        .command(
            "2026-12-05T05:00:00Z",
            &["describe", "--repo", "owner/data", "--tag", "v2026.1204.0"],
        )
        .output()
        .unwrap();
    assert!(human.status.success(), "{}", text(&human));
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("daily_availability: 720 rows, 17 columns"),
        "{}",
        text(&human)
    );
}

/// The visible text of `url` as headless Chromium renders it, read back from a screenshot by
/// Tesseract OCR; None (and the test recorded as skipped) when either is not installed.
fn screenshot_text(url: &str) -> Option<String> {
    let found = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found("chromium") || !found("tesseract") {
        skip(
            "a_new_day_shows_in_the_notes_the_card_page_and_describe (screenshot)",
            "chromium and tesseract are not installed (scripts/test.sh installs them from Debian)",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("card.png");
    let shot = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=2",
            "--window-size=1300,2600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(png.is_file(), "no screenshot: {}", text(&shot));
    let ocr = Command::new("tesseract")
        .arg(&png)
        .arg("-")
        .output()
        .unwrap();
    assert!(ocr.status.success(), "{}", text(&ocr));
    Some(String::from_utf8_lossy(&ocr.stdout).into_owned())
}
