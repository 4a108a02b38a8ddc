//! `dbrelease stats` on the GitHub fake: every release counted, also past the 1000 GitHub
//! lists, totals per version, file and month, the threshold sentence, the chart, and a
//! `--record` history that turns cumulative counts into downloads per month.

mod support;

use std::process::Output;

use support::github_fake::GitHubFake;
use support::*;

const TOKEN: &str = "token-stats-1";

fn stats(fake: &GitHubFake, now: &str, args: &[&str]) -> Output {
    dbrelease()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("DBRELEASE_RETRY_MIN_MS", "5")
        .env("DBRELEASE_NOW", now)
        .env_remove("GITHUB_REPOSITORY")
        .arg("stats")
        .args(["--repo", "owner/data"])
        .args(args)
        .output()
        .unwrap()
}

/// Seeds one release a day for `days` days from 2023-08-24, each with a manifest and a table;
/// the table of the release of day `i` has been downloaded `i % 7` times, its manifest once.
/// Returns the total of the downloads seeded.
fn seed(fake: &GitHubFake, days: usize) -> u64 {
    let mut state = fake.state.lock().unwrap();
    let mut day = jiff::civil::date(2023, 8, 24);
    let mut total = 0;
    for index in 0..days {
        let tag = format!("v{}.{}{:02}.0", day.year(), day.month(), day.day());
        state.seed_release(
            &tag,
            &format!("{day}T04:17:00Z"),
            &[
                ("manifest.json", b"{}".to_vec()),
                ("t.parquet", b"PAR1".to_vec()),
            ],
        );
        let release = state.releases.last_mut().unwrap();
        release.assets[0].downloads = 1;
        release.assets[1].downloads = (index % 7) as u64;
        total += 1 + (index % 7) as u64;
        day = day.tomorrow().unwrap();
    }
    total
}

#[test]
fn every_release_is_counted_past_the_1000_github_lists() {
    let fake = GitHubFake::start("owner", "data", TOKEN);
    // 1,200 days: 2023-08-24 … 2026-12-05.
    let total = seed(&fake, 1200);
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("downloads.svg");
    let history = dir.path().join("downloads.jsonl");
    let before = fake.state.lock().unwrap().requests.len();
    let output = stats(
        &fake,
        "2026-12-06T08:00:00Z",
        &[
            "--json",
            "--svg",
            svg.to_str().unwrap(),
            "--record",
            history.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let made = fake.state.lock().unwrap().requests.len() - before;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["releases"], 1200);
    assert_eq!(report["total_downloads"], total);
    assert_eq!(report["versions"][0]["tag"], "v2026.1205.0");
    // The oldest release is only reachable by its tag.
    assert_eq!(report["versions"][1199]["tag"], "v2023.824.0");
    assert_eq!(report["files"][0]["name"], "t.parquet");
    assert_eq!(report["files"][1]["name"], "manifest.json");
    assert_eq!(report["files"][1]["downloads"], 1200);
    let november = report["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["month"] == "2026-11")
        .unwrap();
    // The seed's downloads of the releases published in November 2026.
    let first_november = jiff::civil::date(2023, 8, 24)
        .until(jiff::civil::date(2026, 11, 1))
        .unwrap()
        .get_days() as usize;
    let expected: u64 = (first_november..first_november + 30)
        .map(|i| 1 + (i % 7) as u64)
        .sum();
    assert_eq!(november["releases"], 30);
    assert_eq!(november["downloads"], expected);
    assert_eq!(
        report["verdict"].as_str().unwrap(),
        format!(
            "{expected} downloads of the 30 versions published in November 2026: below the 500/month where a CDN or S3 pays (GitHub's counts are cumulative; --record FILE on a schedule measures each month exactly)"
        )
    );
    // 10 pages of releases, the 422 past them, 12 pages of tags, 200 releases by tag.
    assert_eq!(
        report["requests"], made as u64,
        "the report counts its own requests"
    );
    assert!(made <= 10 + 1 + 13 + 200, "{made} requests");
    eprintln!("stats over 1,200 releases: {made} requests");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{chart}"
    );
    assert!(
        chart.contains(">2026-11</text>") && chart.contains("500/month"),
        "{chart}"
    );
    assert_eq!(
        std::fs::read_to_string(&history).unwrap().lines().count(),
        1
    );

    // The text report: the sentence and bar charts.
    let human = stats(&fake, "2026-12-06T08:00:00Z", &[]);
    let shown = String::from_utf8_lossy(&human.stdout);
    assert!(
        shown.contains(&format!("owner/data: {total} downloads of 1200 releases")),
        "{shown}"
    );
    assert!(
        shown.contains("Downloads by month of publication:") && shown.contains('█'),
        "{shown}"
    );

    // A month later, with more downloads: the history measures them.
    {
        let mut state = fake.state.lock().unwrap();
        state.releases.last_mut().unwrap().assets[1].downloads += 700;
    }
    let later = stats(
        &fake,
        "2027-01-05T08:00:00Z",
        &["--json", "--record", history.to_str().unwrap()],
    );
    assert!(later.status.success(), "{}", text(&later));
    let report: serde_json::Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(report["measured"]["downloads"], 700);
    assert_eq!(report["measured"]["per_month"], 700);
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .starts_with("700 downloads in the last 30 days (since the snapshot of 2026-12-06T08:00:00Z), about 700 a month: at or above the 500/month"),
        "{}",
        report["verdict"]
    );
    assert_eq!(
        std::fs::read_to_string(&history).unwrap().lines().count(),
        2
    );
}

#[test]
fn a_history_file_that_is_not_ours_is_refused_not_overwritten() {
    let fake = GitHubFake::start("owner", "data", TOKEN);
    seed(&fake, 3);
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("notes.txt");
    std::fs::write(&history, "my own notes\n").unwrap();
    let output = stats(
        &fake,
        "2026-12-06T08:00:00Z",
        &["--record", history.to_str().unwrap()],
    );
    assert_exit_with(
        &output,
        2,
        "not a snapshot written by `dbrelease stats --record`",
    );
    assert_eq!(std::fs::read_to_string(&history).unwrap(), "my own notes\n");
}
