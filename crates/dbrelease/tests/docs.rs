//! The README says what the code does: its exit-code table and its environment-variable table
//! are the code's own lists.

use dbrelease::env::EnvVars;
use dbrelease::error::EXIT_CODES;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

/// The rows of the Markdown table under `heading`.
fn table_rows(readme: &str, heading: &str) -> Vec<(String, String)> {
    let section = readme
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has a section `## {heading}`"));
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].trim_matches('`').to_string(), cells[1..].join("|"))
        })
        .collect()
}

#[test]
fn the_readme_exit_codes_are_the_codes_table() {
    let rows = table_rows(&readme(), "Exit codes");
    let expected: Vec<(String, String)> = EXIT_CODES
        .iter()
        .map(|(code, meaning)| (code.to_string(), meaning.to_string()))
        .collect();
    assert_eq!(
        rows, expected,
        "README ## Exit codes differs from error::EXIT_CODES"
    );
}

#[test]
fn the_readme_lists_every_environment_variable_the_tool_reads() {
    let rows = table_rows(&readme(), "Environment");
    let listed: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        listed,
        EnvVars::ALL,
        "README ## Environment differs from env::EnvVars::ALL"
    );
}

#[test]
fn help_prints_the_exit_codes() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dbrelease"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for (code, _) in EXIT_CODES {
        assert!(help.contains(&format!("  {code}  ")), "{help}");
    }
}
