//! Verify a release served over HTTP against its own manifest:
//! every listed artifact present with its size and sha256 (streamed, never stored), the
//! metadata files present and consistent, and (GitHub) downloads that answer Range requests.

use futures::StreamExt;
use serde::Serialize;

use dbrelease_manifest::{DATAPACKAGE_FILE, SHA256SUMS_FILE, sums};

use crate::error::{Error, Result};
use crate::reader::{Origin, Reader, RemoteFile, Version};

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
    let listed = sums::parse(&sums);
    problems.extend(sums::problems(&version.manifest, &listed));
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
