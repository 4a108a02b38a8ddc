//! `verify`'s checks as text and as a Markdown step summary.

use dbrelease_remote::verify::TargetCheck;

use crate::escape::markdown_text;

/// The checks as a Markdown step summary (GitHub Actions).
pub fn summary_markdown(targets: &[TargetCheck]) -> String {
    let mut text = String::new();
    for target in targets {
        let verdict = if target.problems.is_empty() {
            "verified"
        } else {
            "MISMATCH"
        };
        text.push_str(&format!(
            "### dbrelease verify {} {}: {verdict}\n\n| file | bytes | sha256 | result |\n|---|---:|---|---|\n",
            markdown_text(&target.target),
            markdown_text(&target.tag)
        ));
        for file in &target.files {
            text.push_str(&format!(
                "| {} | {} | `{}` | {} |\n",
                markdown_text(&file.name),
                file.bytes,
                file.sha256,
                if file.ok { "ok" } else { "**mismatch**" }
            ));
        }
        for problem in &target.problems {
            text.push_str(&format!("\n- {}", markdown_text(problem)));
        }
        text.push_str("\n\n");
    }
    text
}

/// The checks as text: one line per file, then the problems.
pub fn report_text(targets: &[TargetCheck]) -> String {
    let mut text = String::new();
    for target in targets {
        text.push_str(&format!("{} {}", target.target, target.tag));
        if !target.location.is_empty() {
            text.push_str(&format!(" ({})", target.location));
        }
        text.push('\n');
        for file in &target.files {
            text.push_str(&format!(
                "  {:<8} {:>10}  {}\n",
                if file.ok { "ok" } else { "MISMATCH" },
                crate::render::build::human_bytes(file.bytes),
                file.name
            ));
        }
        if target.problems.is_empty() {
            text.push_str("  verified: every file matches the manifest\n");
        }
        for problem in &target.problems {
            text.push_str(&format!("  problem: {problem}\n"));
        }
    }
    text
}
