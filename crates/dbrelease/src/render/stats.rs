//! `dbrelease stats` for people: the threshold sentence, bar charts of downloads per month
//! and per version in the terminal, and the same per-month chart as a standalone SVG.

use crate::escape::html_text;
use crate::usage::{CDN_THRESHOLD, Stats};

/// Width of the longest bar in the terminal, in characters.
const BAR_CHARS: usize = 40;

/// A bar of `value` out of `max` in eighths of a block, so small differences still show.
fn bar(value: u64, max: u64) -> String {
    if max == 0 {
        return String::new();
    }
    let eighths = (value as f64 / max as f64 * (BAR_CHARS * 8) as f64).round() as usize;
    let mut text = "█".repeat(eighths / 8);
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    text.push_str(PARTS[eighths % 8]);
    if text.is_empty() && value > 0 {
        text.push('▏');
    }
    text
}

/// Rows of `label  bar  value`, labels padded to one width.
fn chart(rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(label, value)| {
            format!(
                "  {label:width$}  {:<w$} {value}\n",
                bar(*value, max),
                w = BAR_CHARS + 1
            )
        })
        .collect()
}

/// The text report.
pub fn text(stats: &Stats) -> String {
    let mut out = format!(
        "{}: {} downloads of {} releases (GitHub's cumulative counts, read {}; {} API requests)\n\n{}.\n",
        stats.repository,
        stats.total_downloads,
        stats.releases,
        stats.taken_at,
        stats.requests,
        stats.verdict
    );
    if !stats.months.is_empty() {
        out.push_str("\nDownloads by month of publication:\n");
        let rows: Vec<(String, u64)> = stats
            .months
            .iter()
            .map(|m| {
                (
                    format!("{} ({} releases)", m.month, m.releases),
                    m.downloads,
                )
            })
            .collect();
        out.push_str(&chart(&rows));
    }
    if !stats.versions.is_empty() {
        out.push_str(&format!(
            "\nNewest {} versions:\n",
            stats.versions.len().min(20)
        ));
        let rows: Vec<(String, u64)> = stats
            .versions
            .iter()
            .take(20)
            .map(|v| (v.tag.clone(), v.downloads))
            .collect();
        out.push_str(&chart(&rows));
    }
    if !stats.files.is_empty() {
        out.push_str("\nBy file (all versions):\n");
        let rows: Vec<(String, u64)> = stats
            .files
            .iter()
            .take(10)
            .map(|f| (f.name.clone(), f.downloads))
            .collect();
        out.push_str(&chart(&rows));
    }
    out.push_str(
        "\nmanifest.json counts every `dbrelease fetch` and Python `dbrelease.fetch` (each reads it); \
         queries over HTTP read Parquet in ranges, each counted. S3 keeps no counts (enable server access logs).\n",
    );
    out
}

/// Downloads per month of publication as a self-contained SVG bar chart, with the threshold
/// drawn as a line. `top` limits the months shown to the newest ones.
pub fn svg(stats: &Stats, top: usize) -> String {
    let months: Vec<_> = stats
        .months
        .iter()
        .skip(stats.months.len().saturating_sub(top.max(1)))
        .collect();
    let (bar_width, gap, left, top_margin, height) = (36.0, 12.0, 70.0, 50.0, 260.0);
    let width = left + months.len() as f64 * (bar_width + gap) + 40.0;
    let max = months
        .iter()
        .map(|m| m.downloads)
        .max()
        .unwrap_or(0)
        .max(CDN_THRESHOLD) as f64;
    let y = |value: f64| top_margin + height - value / max * height;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{title}</text>\n",
        w = width,
        h = top_margin + height + 70.0,
        title = html_text(&format!(
            "{}: downloads by month of publication ({} in all)",
            stats.repository, stats.total_downloads
        )),
    );
    for (index, month) in months.iter().enumerate() {
        let x = left + index as f64 * (bar_width + gap);
        let top = y(month.downloads as f64);
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{top:.1}\" width=\"{bar_width}\" height=\"{:.1}\" fill=\"#0969da\"><title>{} downloads</title></rect>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-45 {:.1} {:.1})\">{}</text>\n",
            top_margin + height - top,
            month.downloads,
            x + bar_width / 2.0,
            top - 4.0,
            month.downloads,
            x + bar_width / 2.0,
            top_margin + height + 16.0,
            x + bar_width / 2.0,
            top_margin + height + 16.0,
            html_text(&month.month),
        ));
    }
    let line = y(CDN_THRESHOLD as f64);
    svg.push_str(&format!(
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{line:.1}\" y2=\"{line:.1}\" stroke=\"#cf222e\" stroke-dasharray=\"6 4\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#cf222e\">{CDN_THRESHOLD}/month: a CDN pays</text>\n\
         <line x1=\"{left}\" x2=\"{left}\" y1=\"{top_margin}\" y2=\"{:.1}\" stroke=\"#57606a\"/>\n</svg>\n",
        width - 30.0,
        width - 30.0,
        line - 4.0,
        top_margin + height,
    ));
    svg
}
