//! `dbrelease verify`: read a published release back and check it against its own manifest:
//! every listed artifact present with its size and sha256 (streamed, never stored), the
//! metadata files present and consistent, and (GitHub) downloads that answer Range requests.

use futures::StreamExt;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::manifest::{DATAPACKAGE_FILE, Manifest, SHA256SUMS_FILE};
use crate::remote::{Origin, Reader, RemoteFile, Version};

/// Files checked at once: enough to hide latency on many small Parquet files.
const CONCURRENCY: usize = 3;

/// One checked file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// Name.
    pub name: String,
    /// Size the manifest records.
    pub bytes: u64,
    /// sha256 the manifest records.
    pub sha256: String,
    /// True when the published bytes match.
    pub ok: bool,
}

/// The checks of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// `github owner/name`, `s3://bucket/prefix` or the URL.
    pub target: String,
    /// Tag.
    pub tag: String,
    /// Release page or versioned folder.
    pub location: String,
    /// Per artifact.
    pub files: Vec<FileCheck>,
    /// Every mismatch, in words.
    pub problems: Vec<String>,
}

impl TargetCheck {
    /// A target whose release could not even be read as a dbrelease release.
    pub fn unreadable(target: String, tag: &str, problem: String) -> Self {
        TargetCheck {
            target,
            tag: tag.to_string(),
            location: String::new(),
            files: Vec::new(),
            problems: vec![problem],
        }
    }
}

/// Runs `dbrelease verify` on every target asked for.
pub fn run_verify(args: &crate::cli::VerifyArgs) -> Result<Vec<TargetCheck>> {
    if !args.targets.github && !args.targets.s3 && args.url.is_none() {
        return Err(Error::Config(
            "choose what to verify: --github, --s3 and/or --url BASE".into(),
        ));
    }
    let config = crate::config::load_target_config(
        args.config
            .as_deref()
            .unwrap_or(std::path::Path::new("dbrelease.toml")),
        args.config.is_some(),
    )?;
    let crate::publish::Targets { repo, s3 } =
        crate::publish::resolve_targets(&args.targets, config.github_repo.as_deref(), &config.s3)?;
    let repo = repo.filter(|_| args.targets.github);
    let runtime = crate::remote::runtime()?;
    let retry = crate::publish::retry_policy_from_env();
    runtime.block_on(async {
        let mut checks = Vec::new();
        if let Some(repo) = repo {
            let reader = Reader::new(
                Origin::GitHub(crate::publish::github_client(&repo)),
                retry.clone(),
            );
            checks.push(verify_http(&reader, format!("github {repo}"), &args.tag).await?);
        }
        if let Some(options) = s3 {
            let bucket = crate::publish::s3::Bucket::connect(&options).await?;
            checks.push(crate::publish::s3::verify_version(&bucket, &args.tag).await?);
        }
        if let Some(url) = &args.url {
            let base = url.trim_end_matches('/').to_string();
            let reader = Reader::new(Origin::Url(base.clone()), retry.clone());
            checks.push(verify_http(&reader, base, &args.tag).await?);
        }
        Ok(checks)
    })
}

/// Checks a release served over HTTP (GitHub or a URL prefix).
pub async fn verify_http(reader: &Reader, target: String, tag: &str) -> Result<TargetCheck> {
    match reader.find_version(tag).await {
        Ok(Some(version)) => verify_version(reader, target, &version).await,
        Ok(None) => Err(reader.not_published(tag)),
        Err(Error::Integrity(problem)) => Ok(TargetCheck::unreadable(target, tag, problem)),
        Err(err) => Err(err),
    }
}

/// Checks a version already read from `reader` against its manifest.
pub async fn verify_version(
    reader: &Reader,
    target: String,
    version: &Version,
) -> Result<TargetCheck> {
    let tag = version.tag.as_str();
    let mut problems: Vec<String> = version
        .missing
        .iter()
        .map(|name| format!("{name} is listed in the manifest but not published"))
        .collect();
    let results: Vec<(FileCheck, Option<String>)> = futures::stream::iter(&version.files)
        .map(|file| check_file(reader, file))
        .buffered(CONCURRENCY)
        .collect::<Vec<Result<_>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let mut files = Vec::new();
    for (check, problem) in results {
        files.push(check);
        problems.extend(problem);
    }
    for name in &version.missing {
        if let Some(artifact) = version.manifest.artifacts.iter().find(|a| &a.name == name) {
            files.push(FileCheck {
                name: name.clone(),
                bytes: artifact.bytes,
                sha256: artifact.sha256.clone(),
                ok: false,
            });
        }
    }
    problems.extend(check_metadata(reader, version).await?);
    if let (Origin::GitHub(_), Some(file)) = (reader.origin(), version.files.first())
        && !reader.answers_ranges(&file.location).await?
    {
        problems.push(format!(
            "{} does not answer Range requests with 206: remote Parquet queries and resumed downloads will not work",
            file.location.public_url()
        ));
    }
    Ok(TargetCheck {
        target,
        tag: tag.to_string(),
        location: version.page_url.clone(),
        files,
        problems,
    })
}

async fn check_file(reader: &Reader, file: &RemoteFile) -> Result<(FileCheck, Option<String>)> {
    let (ok, problem) = match reader.digest(file).await {
        Ok((bytes, sha256)) if bytes == file.bytes && sha256 == file.sha256 => (true, None),
        Ok((bytes, sha256)) => (
            false,
            Some(format!(
                "{}: published {bytes} bytes with sha256 {sha256}, the manifest records {} bytes with sha256 {}",
                file.name, file.bytes, file.sha256
            )),
        ),
        Err(Error::Integrity(problem)) => (false, Some(problem)),
        Err(err) => return Err(err),
    };
    Ok((
        FileCheck {
            name: file.name.clone(),
            bytes: file.bytes,
            sha256: file.sha256.clone(),
            ok,
        },
        problem,
    ))
}

/// SHA256SUMS must list every artifact with the manifest's sha256, and datapackage.json
/// must be present (and match its SHA256SUMS line).
async fn check_metadata(reader: &Reader, version: &Version) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let location = |name: &str| {
        version
            .metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
    };
    let sums = match location(SHA256SUMS_FILE) {
        None => {
            problems.push(format!("{SHA256SUMS_FILE} is not published"));
            None
        }
        Some(location) => match reader.read_small(&location, None).await? {
            Some(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            None => {
                problems.push(format!("{SHA256SUMS_FILE} is not published"));
                None
            }
        },
    };
    let Some(sums) = sums else {
        return Ok(problems);
    };
    let listed = parse_sha256sums(&sums);
    problems.extend(sums_problems(&version.manifest, &listed));
    match location(DATAPACKAGE_FILE) {
        None => problems.push(format!("{DATAPACKAGE_FILE} is not published")),
        Some(location) => {
            let expected = listed
                .iter()
                .find(|(_, name)| name == DATAPACKAGE_FILE)
                .map(|(sha, _)| sha.as_str());
            match reader.read_small(&location, expected).await {
                Ok(Some(_)) => {}
                Ok(None) => problems.push(format!("{DATAPACKAGE_FILE} is not published")),
                Err(Error::Integrity(problem)) => problems.push(problem),
                Err(err) => return Err(err),
            }
        }
    }
    Ok(problems)
}

/// `(sha256, name)` pairs of a `sha256sum` file.
pub fn parse_sha256sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once("  ").or_else(|| line.split_once(" *")))
        .map(|(sha, name)| (sha.trim().to_string(), name.trim().to_string()))
        .collect()
}

/// Where SHA256SUMS disagrees with the manifest.
pub fn sums_problems(manifest: &Manifest, listed: &[(String, String)]) -> Vec<String> {
    manifest
        .artifacts
        .iter()
        .filter_map(
            |artifact| match listed.iter().find(|(_, name)| *name == artifact.name) {
                Some((sha, _)) if *sha == artifact.sha256 => None,
                Some((sha, _)) => Some(format!(
                    "{SHA256SUMS_FILE} lists {} with sha256 {sha}, the manifest {}",
                    artifact.name, artifact.sha256
                )),
                None => Some(format!("{SHA256SUMS_FILE} does not list {}", artifact.name)),
            },
        )
        .collect()
}

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
            target.target, target.tag
        ));
        for file in &target.files {
            text.push_str(&format!(
                "| {} | {} | `{}` | {} |\n",
                file.name,
                file.bytes,
                file.sha256,
                if file.ok { "ok" } else { "**mismatch**" }
            ));
        }
        for problem in &target.problems {
            text.push_str(&format!("\n- {problem}"));
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
                crate::report::human_bytes(file.bytes),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sums_lines_in_text_and_binary_mode_are_read() {
        let listed = parse_sha256sums("aa  a.parquet\nbb *b.duckdb.gz\n\n");
        assert_eq!(
            listed,
            [
                ("aa".to_string(), "a.parquet".to_string()),
                ("bb".to_string(), "b.duckdb.gz".to_string())
            ]
        );
    }
}
