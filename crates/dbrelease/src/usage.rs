//! Who uses the data, as plain data: the download counts of every asset of every published
//! release totalled per version, per file and per month of publication, against the study's
//! threshold (500 downloads a month: below it GitHub Releases is enough, above it a CDN or S3
//! pays). Built by pure functions; `commands::stats` reads GitHub and the `--record` file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use dbrelease_remote::github::Release;

/// Downloads a month from which the study says a CDN or S3 pays.
pub const CDN_THRESHOLD: u64 = 500;

/// What `stats` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub repository: String,
    /// When the counts were read (RFC 3339).
    pub taken_at: String,
    /// Published releases counted.
    pub releases: usize,
    /// Downloads of every asset of every release, cumulative.
    pub total_downloads: u64,
    /// Newest first.
    pub versions: Vec<VersionStats>,
    /// Per file name, summed over versions, most downloaded first.
    pub files: Vec<FileStats>,
    /// Per month of publication (`YYYY-MM`), oldest first.
    pub months: Vec<MonthStats>,
    /// Downloads measured between two snapshots of `--record`, when there is an older one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
    /// The threshold, stated plainly.
    pub verdict: String,
    /// GitHub API requests this run made.
    pub requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionStats {
    pub tag: String,
    pub published_at: Option<String>,
    pub prerelease: bool,
    pub downloads: u64,
    pub files: Vec<FileStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileStats {
    pub name: String,
    pub downloads: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthStats {
    pub month: String,
    pub releases: usize,
    pub downloads: u64,
}

/// Downloads between an earlier snapshot and now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub since: String,
    pub days: f64,
    pub downloads: u64,
    /// Scaled to 30 days.
    pub per_month: u64,
}

/// One line of a `--record` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: String,
    pub repository: String,
    pub total_downloads: u64,
    /// Downloads per tag.
    pub versions: BTreeMap<String, u64>,
}

/// Pure: the statistics of `releases` as read at `now`, with the snapshots of earlier runs.
pub fn summarize(repo: &str, now: &str, releases: &[Release], history: &[Snapshot]) -> Stats {
    let mut versions: Vec<VersionStats> = releases
        .iter()
        .filter(|r| !r.draft)
        .map(|release| {
            let mut files: Vec<FileStats> = release
                .assets
                .iter()
                .map(|a| FileStats {
                    name: a.name.clone(),
                    downloads: a.download_count,
                })
                .collect();
            files.sort_by(|a, b| b.downloads.cmp(&a.downloads).then(a.name.cmp(&b.name)));
            VersionStats {
                tag: release.tag_name.clone(),
                published_at: release.published_at.clone(),
                prerelease: release.prerelease,
                downloads: files.iter().map(|f| f.downloads).sum(),
                files,
            }
        })
        .collect();
    versions.sort_by(|a, b| b.published_at.cmp(&a.published_at));
    let mut by_file: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_month: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for version in &versions {
        for file in &version.files {
            *by_file.entry(file.name.as_str()).or_default() += file.downloads;
        }
        let month = version
            .published_at
            .as_deref()
            .and_then(|at| at.get(..7))
            .unwrap_or("unknown")
            .to_string();
        let entry = by_month.entry(month).or_default();
        entry.0 += 1;
        entry.1 += version.downloads;
    }
    let mut files: Vec<FileStats> = by_file
        .into_iter()
        .map(|(name, downloads)| FileStats {
            name: name.to_string(),
            downloads,
        })
        .collect();
    files.sort_by(|a, b| b.downloads.cmp(&a.downloads).then(a.name.cmp(&b.name)));
    let months: Vec<MonthStats> = by_month
        .into_iter()
        .map(|(month, (releases, downloads))| MonthStats {
            month,
            releases,
            downloads,
        })
        .collect();
    let total_downloads = versions.iter().map(|v| v.downloads).sum();
    let measured = measured(now, total_downloads, history, repo);
    let verdict = verdict(now, &months, measured.as_ref());
    Stats {
        repository: repo.to_string(),
        taken_at: now.to_string(),
        releases: versions.len(),
        total_downloads,
        versions,
        files,
        months,
        measured,
        verdict,
        requests: 0,
    }
}

fn seconds(at: &str) -> Option<i64> {
    at.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Downloads since the oldest snapshot of this repository at least a day old.
fn measured(now: &str, total: u64, history: &[Snapshot], repo: &str) -> Option<Measured> {
    let now_seconds = seconds(now)?;
    let oldest = history
        .iter()
        .filter(|s| s.repository == repo)
        .filter_map(|s| Some((seconds(&s.taken_at)?, s)))
        .filter(|(at, _)| now_seconds - at >= 86_400)
        .min_by_key(|(at, _)| *at)?;
    let days = (now_seconds - oldest.0) as f64 / 86_400.0;
    let downloads = total.saturating_sub(oldest.1.total_downloads);
    Some(Measured {
        since: oldest.1.taken_at.clone(),
        days,
        downloads,
        per_month: (downloads as f64 * 30.0 / days).round() as u64,
    })
}

fn month_name(month: &str) -> String {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (year, number) = month.split_once('-').unwrap_or((month, ""));
    match number.parse::<usize>() {
        Ok(n @ 1..=12) => format!("{} {year}", NAMES[n - 1]),
        _ => month.to_string(),
    }
}

fn side(per_month: u64) -> &'static str {
    if per_month >= CDN_THRESHOLD {
        "at or above"
    } else {
        "below"
    }
}

/// The threshold in one sentence: measured when two snapshots allow, else from the versions
/// published last month (a lower bound on that month's downloads is not known from cumulative
/// counts: say what is counted).
fn verdict(now: &str, months: &[MonthStats], measured: Option<&Measured>) -> String {
    if let Some(measured) = measured {
        return format!(
            "{} downloads in the last {:.0} days (since the snapshot of {}), about {} a month: {} the {CDN_THRESHOLD}/month where a CDN or S3 pays",
            measured.downloads,
            measured.days,
            measured.since,
            measured.per_month,
            side(measured.per_month)
        );
    }
    // The last whole month before now.
    let current = now.get(..7).unwrap_or("");
    let Some(last) = months
        .iter()
        .rev()
        .find(|m| m.month.as_str() < current && m.month != "unknown")
    else {
        return format!(
            "no version published before this month yet; run with --record FILE regularly to measure downloads a month (the threshold is {CDN_THRESHOLD}/month)"
        );
    };
    format!(
        "{} downloads of the {} versions published in {}: {} the {CDN_THRESHOLD}/month where a CDN or S3 pays (GitHub's counts are cumulative; --record FILE on a schedule measures each month exactly)",
        last.downloads,
        last.releases,
        month_name(&last.month),
        side(last.downloads)
    )
}

/// The line `--record` appends for this run.
pub fn snapshot(stats: &Stats) -> Snapshot {
    Snapshot {
        taken_at: stats.taken_at.clone(),
        repository: stats.repository.clone(),
        total_downloads: stats.total_downloads,
        versions: stats
            .versions
            .iter()
            .map(|v| (v.tag.clone(), v.downloads))
            .collect(),
    }
}
