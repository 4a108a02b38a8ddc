//! GitHub Actions integration, active only when `GITHUB_ACTIONS=true`: collapsible log groups
//! per phase, `::error::` annotations, a Markdown step summary, and step outputs.
//!
//! Workflow commands go to stderr: the runner reads commands from both streams, and stdout
//! stays reserved for the report (`--json` must remain parseable).

use std::io::Write;
use std::path::PathBuf;

use crate::env::EnvVars;

/// True inside a GitHub Actions job.
pub fn enabled() -> bool {
    crate::env::var(EnvVars::GITHUB_ACTIONS).is_some_and(|v| v == "true")
}

/// A log group, closed when dropped.
pub struct Group {
    open: bool,
}

/// Opens a collapsible log group titled `title` (nothing outside Actions).
pub fn group(title: &str) -> Group {
    let open = enabled();
    if open {
        eprintln!("::group::{}", escape_data(title));
    }
    Group { open }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.open {
            eprintln!("::endgroup::");
        }
    }
}

/// Workflow-command data escaping (`%`, CR, LF), as the runner expects.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// An `::error::` annotation shown on the run's summary page.
pub fn error(message: &str) {
    if enabled() {
        eprintln!("::error title=dbrelease::{}", escape_data(message));
    }
}

fn env_file(name: &str) -> Option<PathBuf> {
    crate::env::var_os(name).map(PathBuf::from)
}

fn append(path: &PathBuf, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Appends Markdown to the job's step summary.
pub fn summary(markdown: &str) {
    if !enabled() {
        return;
    }
    if let Some(path) = env_file(EnvVars::GITHUB_STEP_SUMMARY)
        && let Err(err) = append(&path, markdown)
    {
        tracing::warn!(%err, "cannot write the step summary");
    }
}

/// Sets step outputs. Values use the multi-line `name<<DELIMITER` form, so any text is safe;
/// the delimiter is random and checked not to occur in the value.
pub fn outputs(pairs: &[(&str, String)]) {
    if !enabled() {
        return;
    }
    let Some(path) = env_file(EnvVars::GITHUB_OUTPUT) else {
        return;
    };
    let mut text = String::new();
    for (name, value) in pairs {
        let mut delimiter = format!("dbrelease_{:016x}", rand_u64());
        while value.contains(&delimiter) {
            delimiter = format!("dbrelease_{:016x}", rand_u64());
        }
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    if let Err(err) = append(&path, &text) {
        tracing::warn!(%err, "cannot write step outputs");
    }
}

/// Enough randomness for a heredoc delimiter, without a dependency.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_data_is_escaped_so_a_message_cannot_end_the_annotation() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
    }
}
