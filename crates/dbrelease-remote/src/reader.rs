//! Reading a published release over HTTP, for the people who use the data (`fetch`) and for
//! `verify`: find the version, read its manifest, and stream its files with Range resume,
//! retries and a sha256 computed on the way.
//!
//! Two origins publish the same layout: a GitHub release (assets named like the manifest's
//! artifacts) and a plain URL prefix (S3 or a CDN in front of it) holding `{tag}/{name}` and
//! `versions.json`.

use std::path::Path;

use dbrelease_manifest::versions::{VERSIONS_FILE, VersionEntry, VersionsIndex};
use dbrelease_manifest::{DATAPACKAGE_FILE, MANIFEST_FILE, Manifest, SHA256SUMS_FILE};
use reqwest::header::{CONTENT_RANGE, ETAG, IF_NONE_MATCH, RANGE};
use reqwest::{RequestBuilder, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::debug;

use crate::error::{Error, Result};
use crate::github::{Asset, GitHub, Latest, Release};
use crate::http::{self, Failure, Retrier, RetryPolicy, header, url_segment};

/// Largest `manifest.json`, `versions.json`, `SHA256SUMS` or `datapackage.json` a reader
/// accepts: a hostile or broken server cannot make it buffer more.
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Where a release is published.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A GitHub repository's releases.
    GitHub(GitHub),
    /// A URL prefix holding `versions.json` and `{tag}/{name}` (S3, a CDN).
    Url(String),
}

/// Where one file's bytes come from.
#[derive(Debug, Clone)]
pub enum Location {
    /// A plain URL.
    Url(String),
    /// A GitHub asset: through the API with a token (private repositories), else its public
    /// download URL (no API rate limit).
    GitHubAsset {
        /// Asset id.
        id: u64,
        /// Public download URL (`https://github.com/o/r/releases/download/tag/name`).
        browser_url: String,
    },
}

impl Location {
    /// The URL a person would use.
    pub fn public_url(&self) -> &str {
        match self {
            Location::Url(url) => url,
            Location::GitHubAsset { browser_url, .. } => browser_url,
        }
    }
}

/// One published file, with the size and sha256 it must have.
#[derive(Debug, Clone)]
pub struct RemoteFile {
    /// File name.
    pub name: String,
    /// Expected size.
    pub bytes: u64,
    /// Expected sha256 (hex).
    pub sha256: String,
    /// Where to get it.
    pub location: Location,
}

/// A published version: its manifest and where each artifact lives.
#[derive(Debug, Clone)]
pub struct Version {
    /// Tag.
    pub tag: String,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The manifest's bytes, as published (cached verbatim).
    pub manifest_bytes: Vec<u8>,
    /// Artifacts listed in the manifest that the origin holds.
    pub files: Vec<RemoteFile>,
    /// Artifacts listed in the manifest that the origin does not hold (GitHub only; on a URL
    /// origin a missing file shows up as a 404 when it is read).
    pub missing: Vec<String>,
    /// Where the metadata files (SHA256SUMS, datapackage.json) are, by name.
    pub metadata: Vec<(String, Location)>,
    /// The release page (GitHub) or the versioned URL prefix.
    pub page_url: String,
}

impl Version {
    /// The file called `name`.
    pub fn file(&self, name: &str) -> Option<&RemoteFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// A version as listed by `--list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// Tag.
    pub tag: String,
    /// Publication (GitHub) or build (URL origin) time.
    pub date: Option<String>,
    /// Pre-release (GitHub only).
    pub prerelease: bool,
}

/// Outcome of a conditional lookup of the newest version.
#[derive(Debug)]
pub enum LatestTag {
    /// The newest tag and the validator to send next time.
    Tag(String, Option<String>),
    /// Unchanged since the validator we sent.
    NotModified,
}

/// An HTTP reader of one origin.
#[derive(Debug, Clone)]
pub struct Reader {
    origin: Origin,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Byte bars per file on a terminal; silent otherwise.
    progress: std::sync::Arc<crate::progress::Progress>,
}

/// Why one attempt at a transfer stopped.
type Stop = Failure<Error>;

impl Reader {
    /// A reader for `origin`.
    pub fn new(origin: Origin, retry: RetryPolicy) -> Self {
        let http = http::client(&retry);
        Reader {
            origin,
            http,
            retry,
            progress: std::sync::Arc::new(crate::progress::Progress::new(false)),
        }
    }

    /// Shows a byte bar per transferred file.
    pub fn with_progress(mut self, progress: crate::progress::Progress) -> Self {
        self.progress = std::sync::Arc::new(progress);
        self
    }

    /// The origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    fn get(&self, url: &str) -> RequestBuilder {
        self.http.get(url)
    }

    /// A GET that the origin answers with 304 Not Modified while `validator` (the ETag it gave
    /// last time) still holds.
    fn get_if_changed(&self, url: &str, validator: Option<&str>) -> RequestBuilder {
        match validator {
            Some(validator) => self.get(url).header(IF_NONE_MATCH, validator),
            None => self.get(url),
        }
    }

    fn request(&self, location: &Location) -> RequestBuilder {
        match (&self.origin, location) {
            (Origin::GitHub(github), Location::GitHubAsset { id, .. }) if github.has_token() => {
                github.asset_request(*id)
            }
            (_, location) => self.get(location.public_url()),
        }
    }

    /// The newest published version, asked with the validator of the previous answer.
    pub async fn latest(&self, validator: Option<&str>) -> Result<LatestTag> {
        match &self.origin {
            Origin::GitHub(github) => match github.latest_release(validator).await? {
                Latest::Release(release, etag) => Ok(LatestTag::Tag(release.tag_name, etag)),
                Latest::NotModified => Ok(LatestTag::NotModified),
                Latest::None => Err(Error::Remote(format!(
                    "{} has no published release yet (drafts and pre-releases are never \"latest\"); pass --tag",
                    github.repo()
                ))),
            },
            Origin::Url(base) => {
                let url = format!("{base}/{VERSIONS_FILE}");
                let request = self.get_if_changed(&url, validator);
                let response = self
                    .send_small(&url, request)
                    .await?
                    .ok_or_else(|| no_index(base))?;
                if response.status() == StatusCode::NOT_MODIFIED {
                    return Ok(LatestTag::NotModified);
                }
                let etag = header(&response, ETAG);
                let index = self.parse_versions(&url, response).await?;
                let newest = index.latest_release().ok_or_else(|| {
                    Error::Remote(format!(
                        "{url} lists no release yet (pre-releases and rolling tags such as nightly are never \"latest\"); pass --tag"
                    ))
                })?;
                Ok(LatestTag::Tag(newest.tag.clone(), etag))
            }
        }
    }

    /// Whether the manifest of `tag` is still `cached` (the bytes this reader cached, with the
    /// origin's `validator` for them): an ETag-conditional GET on a URL origin, the manifest
    /// asset's digest on GitHub. Returns the version as it is now when it changed, and the
    /// validator to send next time.
    pub async fn revalidate(
        &self,
        tag: &str,
        cached: &[u8],
        validator: Option<&str>,
    ) -> Result<(Option<Version>, Option<String>)> {
        let cached_sha256 = hex::encode(Sha256::digest(cached));
        match &self.origin {
            Origin::GitHub(github) => {
                let release = github
                    .published_release(tag)
                    .await?
                    .ok_or_else(|| self.not_published(tag))?;
                let digest = release
                    .assets
                    .iter()
                    .find(|a| a.name == MANIFEST_FILE)
                    .and_then(|a| a.digest.clone());
                if digest.as_deref() == Some(format!("sha256:{cached_sha256}").as_str()) {
                    return Ok((None, digest));
                }
                let version = self.github_version(tag, &release).await?;
                let changed = version.manifest_bytes != cached;
                Ok((changed.then_some(version), digest))
            }
            Origin::Url(base) => {
                let url = format!("{base}/{}/{MANIFEST_FILE}", url_segment(tag));
                let request = self.get_if_changed(&url, validator);
                let response = self
                    .send_small(&url, request)
                    .await?
                    .ok_or_else(|| self.not_published(tag))?;
                let etag = header(&response, ETAG);
                if response.status() == StatusCode::NOT_MODIFIED {
                    return Ok((None, etag.or(validator.map(str::to_string))));
                }
                let bytes = read_capped(&url, response).await?;
                if bytes == cached {
                    return Ok((None, etag));
                }
                // Changed: read it again the checked way (against versions.json's record).
                Ok((Some(self.version(tag).await?), etag))
            }
        }
    }

    /// The version that was the latest release at the end of `day` (UTC): from
    /// `versions.json`'s `published_at` on a URL origin, from GitHub's `published_at` there.
    /// A day before the first version is an error that names the first one.
    pub async fn as_of(&self, day: dbrelease_manifest::dated::Day) -> Result<String> {
        let before_first = |first: Option<(String, String)>| match first {
            Some((tag, at)) => Error::Usage(format!(
                "--as-of {day}: no version was published by the end of that day (UTC); the first one is {tag}, published {at}"
            )),
            None => Error::Usage(format!(
                "--as-of {day}: no version was published by the end of that day (UTC)"
            )),
        };
        match &self.origin {
            Origin::GitHub(github) => match github.latest_at(&day.end_rfc3339()).await? {
                Some(release) => Ok(release.tag_name),
                None => Err(before_first(None)),
            },
            Origin::Url(base) => {
                let index = self
                    .versions_index(base)
                    .await?
                    .ok_or_else(|| no_index(base))?;
                match index.latest_as_of(day) {
                    Some(entry) => Ok(entry.tag.clone()),
                    None => Err(before_first(
                        index
                            .first_release()
                            .map(|v| (v.tag.clone(), v.published().to_string())),
                    )),
                }
            }
        }
    }

    /// Published versions, newest first: on GitHub the newest 100 (one request, however many
    /// there are; older ones are fetched by tag), on a URL origin every one in `versions.json`.
    pub async fn list(&self) -> Result<Vec<Listed>> {
        match &self.origin {
            Origin::GitHub(github) => Ok(github
                .releases_page(1)
                .await?
                .unwrap_or_default()
                .into_iter()
                .filter(|r| !r.draft)
                .map(|r| Listed {
                    tag: r.tag_name,
                    date: r.published_at,
                    prerelease: r.prerelease,
                })
                .collect()),
            Origin::Url(base) => {
                let index = self
                    .versions_index(base)
                    .await?
                    .ok_or_else(|| no_index(base))?;
                Ok(index
                    .versions
                    .into_iter()
                    .rev()
                    .map(|v| Listed {
                        date: Some(v.published().to_string()),
                        prerelease: !v.is_release(),
                        tag: v.tag,
                    })
                    .collect())
            }
        }
    }

    /// `versions.json` under `base`, or None when there is none.
    async fn versions_index(&self, base: &str) -> Result<Option<VersionsIndex>> {
        let url = format!("{base}/{VERSIONS_FILE}");
        match self.send_small(&url, self.get(&url)).await? {
            Some(response) => Ok(Some(self.parse_versions(&url, response).await?)),
            None => Ok(None),
        }
    }

    async fn parse_versions(
        &self,
        url: &str,
        response: reqwest::Response,
    ) -> Result<VersionsIndex> {
        let bytes = read_capped(url, response).await?;
        VersionsIndex::parse(&bytes).map_err(|err| {
            Error::Integrity(format!(
                "{url} {err}; is --base-url the prefix that holds versions.json?"
            ))
        })
    }

    /// The version `tag`: its manifest (checked against the origin's own record of its sha256
    /// when there is one) and the location of every artifact. An error when it is not
    /// published.
    pub async fn version(&self, tag: &str) -> Result<Version> {
        self.find_version(tag)
            .await?
            .ok_or_else(|| self.not_published(tag))
    }

    /// The error for a tag the origin has no release of.
    pub fn not_published(&self, tag: &str) -> Error {
        match &self.origin {
            Origin::GitHub(github) => Error::Remote(format!(
                "{} has no published release tagged {tag} (or the repository is private: set GITHUB_TOKEN); `dbrelease fetch --list` shows the published ones",
                github.repo()
            )),
            Origin::Url(base) => Error::Remote(format!(
                "no release {tag} under {base} (no {tag}/{MANIFEST_FILE}); `dbrelease fetch --base-url {base} --list` shows the published ones"
            )),
        }
    }

    /// Like [`Reader::version`], with None when the origin has no release `tag`.
    pub async fn find_version(&self, tag: &str) -> Result<Option<Version>> {
        match &self.origin {
            Origin::GitHub(github) => match github.published_release(tag).await? {
                Some(release) => Ok(Some(self.github_version(tag, &release).await?)),
                None => Ok(None),
            },
            Origin::Url(base) => {
                let folder = format!("{base}/{}", url_segment(tag));
                let manifest_url = format!("{folder}/{MANIFEST_FILE}");
                // versions.json records the manifest's sha256; a prefix without it (a plain
                // mirror) still works, with the manifest taken as served.
                let recorded: Option<VersionEntry> = match self.versions_index(base).await {
                    Ok(index) => index.and_then(|i| i.versions.into_iter().find(|v| v.tag == tag)),
                    Err(err) => {
                        debug!(%err, "unusable versions index");
                        None
                    }
                };
                let location = Location::Url(manifest_url.clone());
                let Some(manifest_bytes) = self
                    .read_small(
                        &location,
                        recorded.as_ref().map(|v| v.manifest_sha256.as_str()),
                    )
                    .await?
                else {
                    return Ok(None);
                };
                let manifest = parse_manifest(&manifest_url, &manifest_bytes)?;
                let files = manifest
                    .artifacts
                    .iter()
                    .map(|a| RemoteFile {
                        name: a.name.clone(),
                        bytes: a.bytes,
                        sha256: a.sha256.clone(),
                        location: Location::Url(format!("{folder}/{}", url_segment(&a.name))),
                    })
                    .collect();
                let metadata = [SHA256SUMS_FILE, DATAPACKAGE_FILE]
                    .iter()
                    .map(|name| (name.to_string(), Location::Url(format!("{folder}/{name}"))))
                    .collect();
                Ok(Some(Version {
                    tag: tag.to_string(),
                    manifest,
                    manifest_bytes,
                    files,
                    missing: Vec::new(),
                    metadata,
                    page_url: format!("{folder}/"),
                }))
            }
        }
    }

    async fn github_version(&self, tag: &str, release: &Release) -> Result<Version> {
        let uploaded = |name: &str| -> Option<&Asset> {
            release
                .assets
                .iter()
                .find(|a| a.name == name && a.state == "uploaded")
        };
        let location = |asset: &Asset| Location::GitHubAsset {
            id: asset.id,
            browser_url: asset.browser_download_url.clone(),
        };
        let manifest_asset = uploaded(MANIFEST_FILE).ok_or_else(|| {
            Error::Integrity(format!(
                "release {tag} has no {MANIFEST_FILE}: it was not published by dbrelease, or its publish did not finish (run `dbrelease republish --tag {tag}`)"
            ))
        })?;
        let manifest_bytes = self
            .read_small(
                &location(manifest_asset),
                manifest_asset.sha256().as_deref(),
            )
            .await?
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "the {MANIFEST_FILE} asset of release {tag} cannot be downloaded (404)"
                ))
            })?;
        let manifest = parse_manifest(&manifest_asset.browser_download_url, &manifest_bytes)?;
        let mut files = Vec::new();
        let mut missing = Vec::new();
        for artifact in &manifest.artifacts {
            match uploaded(&artifact.name) {
                Some(asset) => files.push(RemoteFile {
                    name: artifact.name.clone(),
                    bytes: artifact.bytes,
                    sha256: artifact.sha256.clone(),
                    location: location(asset),
                }),
                None => missing.push(artifact.name.clone()),
            }
        }
        let metadata = [SHA256SUMS_FILE, DATAPACKAGE_FILE]
            .iter()
            .filter_map(|name| uploaded(name).map(|a| (name.to_string(), location(a))))
            .collect();
        Ok(Version {
            tag: tag.to_string(),
            manifest,
            manifest_bytes,
            files,
            missing,
            metadata,
            page_url: release.html_url.clone(),
        })
    }

    /// Reads a small file whole (manifest, SHA256SUMS), checking `sha256` when given; None
    /// when it does not exist (404).
    pub async fn read_small(
        &self,
        location: &Location,
        sha256: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        let url = location.public_url().to_string();
        let Some(response) = self.send_small(&url, self.request(location)).await? else {
            return Ok(None);
        };
        let bytes = read_capped(&url, response).await?;
        if let Some(expected) = sha256 {
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != expected {
                return Err(Error::Integrity(format!(
                    "{url} has sha256 {actual}, but the release records {expected}: the file was changed after publishing; do not use it"
                )));
            }
        }
        Ok(Some(bytes))
    }

    /// Sends a request for a small document with retries; None for 404, errors name the URL
    /// and status.
    async fn send_small(
        &self,
        url: &str,
        request: RequestBuilder,
    ) -> Result<Option<reqwest::Response>> {
        http::retry(
            &self.retry,
            url,
            || async {
                let response = request
                    .try_clone()
                    .expect("GET requests have no streaming body")
                    .send()
                    .await
                    .map_err(|err| Failure::transient(http::describe(&err)))?;
                match response.status() {
                    status if status.is_success() || status == StatusCode::NOT_MODIFIED => {
                        Ok(Some(response))
                    }
                    StatusCode::NOT_FOUND => Ok(None),
                    status if http::is_transient(status) => {
                        Err(Failure::transient(format!("{url} answered {status}")))
                    }
                    status => Err(Failure::Fatal(Error::Remote(format!(
                        "{url} answered {status}"
                    )))),
                }
            },
            |exhausted| Error::Remote(format!("{url} {exhausted}")),
        )
        .await
    }

    /// True when the file's public URL answers a one-byte Range request with 206, so
    /// consumers can resume downloads and query Parquet remotely.
    pub async fn answers_ranges(&self, location: &Location) -> Result<bool> {
        let url = location.public_url();
        // Through the same route as downloads: the API with a token (private repositories).
        let response = self
            .request(location)
            .header(RANGE, "bytes=0-0")
            .send()
            .await
            .map_err(|err| Error::Remote(format!("{url}: {}", http::describe(&err))))?;
        Ok(response.status() == StatusCode::PARTIAL_CONTENT)
    }

    /// Streams `file` and returns its size and sha256 without storing it (verify).
    pub async fn digest(&self, file: &RemoteFile) -> Result<(u64, String)> {
        let mut hasher = Sha256::new();
        let mut offset = 0;
        self.transfer(file, &mut hasher, &mut offset, None).await?;
        Ok((offset, hex::encode(hasher.finalize())))
    }

    /// Downloads `file` to `part`, resuming from the bytes already there (an interrupted
    /// earlier run), and returns once `part` holds exactly the published bytes. A file whose
    /// sha256 differs is deleted and reported.
    pub async fn download(&self, file: &RemoteFile, part: &Path) -> Result<()> {
        let io_error = |err: std::io::Error| Error::local(part, &err);
        // Resumed only when it is a regular file of ours with one name; anything else at that
        // name (a planted link, a hard link to a file elsewhere) is removed, never written.
        let existing = crate::localfs::open_resumable(part)?;
        let sink = match existing {
            Some(file) => file,
            None => crate::localfs::create_fresh(part)?,
        };
        let mut sink = tokio::fs::File::from_std(sink);
        let mut offset = sink.metadata().await.map_err(io_error)?.len();
        let mut hasher = Sha256::new();
        if offset > file.bytes {
            sink.set_len(0).await.map_err(io_error)?;
            offset = 0;
        }
        if offset > 0 {
            // Hash what an earlier run left, then continue after it.
            let mut buffer = vec![0u8; 1 << 20];
            let mut remaining = offset;
            while remaining > 0 {
                let read = sink.read(&mut buffer).await.map_err(io_error)?;
                if read == 0 {
                    break;
                }
                let take = read.min(remaining as usize);
                hasher.update(&buffer[..take]);
                remaining -= take as u64;
            }
            debug!(name = %file.name, offset, "resuming a partial download");
        }
        sink.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(io_error)?;
        let result = self
            .transfer(file, &mut hasher, &mut offset, Some(&mut sink))
            .await;
        sink.flush().await.map_err(io_error)?;
        sink.sync_all().await.map_err(io_error)?;
        drop(sink);
        if let Err(err) = result {
            if matches!(err, Error::Integrity(_)) {
                let _ = std::fs::remove_file(part);
            }
            return Err(err);
        }
        let sha256 = hex::encode(hasher.finalize());
        if sha256 != file.sha256 {
            let _ = std::fs::remove_file(part);
            return Err(mismatch(file, offset, &sha256));
        }
        Ok(())
    }

    /// Moves `file`'s bytes from `offset` into `hasher` (and `sink`), retrying transient
    /// failures with a Range request from where the last attempt stopped.
    async fn transfer(
        &self,
        file: &RemoteFile,
        hasher: &mut Sha256,
        offset: &mut u64,
        mut sink: Option<&mut tokio::fs::File>,
    ) -> Result<()> {
        let what = format!("downloading {}", file.name);
        let mut retrier = Retrier::new(&self.retry, &what);
        let bar = self.progress.bytes(&file.name, file.bytes);
        let mut first = true;
        while *offset < file.bytes || first {
            first = false;
            let (reason, wait) = match self
                .attempt(file, hasher, offset, sink.as_deref_mut(), &bar)
                .await
            {
                Ok(()) => {
                    bar.finish();
                    continue;
                }
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Retry { reason, wait }) => (reason, wait),
            };
            debug!(name = %file.name, offset = *offset, "transfer interrupted");
            retrier.wait(reason, wait).await.map_err(|exhausted| {
                Error::Remote(format!(
                    "downloading {} ({}) {exhausted}; run the command again to resume",
                    file.name,
                    file.location.public_url()
                ))
            })?;
        }
        Ok(())
    }

    async fn attempt(
        &self,
        file: &RemoteFile,
        hasher: &mut Sha256,
        offset: &mut u64,
        mut sink: Option<&mut tokio::fs::File>,
        bar: &crate::progress::Bar,
    ) -> Result<(), Stop> {
        let url = file.location.public_url();
        let mut request = self.request(&file.location);
        if *offset > 0 {
            request = request.header(RANGE, format!("bytes={}-", *offset));
        }
        let mut response = request
            .send()
            .await
            .map_err(|err| Stop::transient(http::describe(&err)))?;
        let status = response.status();
        match status {
            StatusCode::PARTIAL_CONTENT
                if header(&response, CONTENT_RANGE)
                    .is_some_and(|range| range.starts_with(&format!("bytes {}-", *offset))) => {}
            StatusCode::OK => {
                if *offset > 0 {
                    // The server ignored the Range header: start over.
                    debug!(name = %file.name, "server sent the whole file; restarting");
                    restart(hasher, offset, sink.as_deref_mut()).await?;
                }
            }
            StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE => {
                restart(hasher, offset, sink.as_deref_mut()).await?;
                return Err(Stop::transient(format!(
                    "{url}: unusable range answer {status}"
                )));
            }
            StatusCode::NOT_FOUND => {
                return Err(Stop::Fatal(Error::Integrity(format!(
                    "{} is listed in the manifest but missing: {url} answered 404",
                    file.name
                ))));
            }
            status if http::is_transient(status) => {
                return Err(Stop::transient(format!("{url} answered {status}")));
            }
            status => {
                return Err(Stop::Fatal(Error::Remote(format!(
                    "{url} answered {status}"
                ))));
            }
        }
        let expected_in_body = response.content_length();
        let mut received = 0u64;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(err) => {
                    return Err(Stop::transient(format!(
                        "connection lost after {} of {} bytes: {}",
                        *offset,
                        file.bytes,
                        http::describe(&err)
                    )));
                }
            };
            if *offset + chunk.len() as u64 > file.bytes {
                return Err(Stop::Fatal(Error::Integrity(format!(
                    "{} is larger than the {} bytes its manifest records ({url}): the published file was changed; it was not kept",
                    file.name, file.bytes
                ))));
            }
            if let Some(sink) = sink.as_deref_mut() {
                sink.write_all(&chunk)
                    .await
                    .map_err(|err| Stop::Fatal(Error::local(Path::new(&file.name), &err)))?;
            }
            hasher.update(&chunk);
            *offset += chunk.len() as u64;
            received += chunk.len() as u64;
            bar.set(*offset);
        }
        if *offset < file.bytes {
            if expected_in_body.is_some_and(|length| length == received) {
                // A complete answer that is too short: the file itself is shorter.
                return Err(Stop::Fatal(Error::Integrity(format!(
                    "{} is {} bytes at {url}, but its manifest records {}: the published file was changed; it was not kept",
                    file.name, *offset, file.bytes
                ))));
            }
            return Err(Stop::transient(format!(
                "the answer ended after {} of {} bytes",
                *offset, file.bytes
            )));
        }
        Ok(())
    }
}

async fn restart(
    hasher: &mut Sha256,
    offset: &mut u64,
    sink: Option<&mut tokio::fs::File>,
) -> Result<(), Stop> {
    *hasher = Sha256::new();
    *offset = 0;
    if let Some(sink) = sink {
        let fatal = |err: std::io::Error| Stop::Fatal(Error::local(Path::new("download"), &err));
        sink.set_len(0).await.map_err(fatal)?;
        sink.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(fatal)?;
    }
    Ok(())
}

fn no_index(base: &str) -> Error {
    Error::Remote(format!(
        "there is no {base}/versions.json: is --base-url the prefix that holds versions.json (the S3 prefix, not a version folder)? A pinned --tag works without it"
    ))
}

/// The error for bytes that arrived complete but hash differently.
pub fn mismatch(file: &RemoteFile, bytes: u64, sha256: &str) -> Error {
    Error::Integrity(format!(
        "{} does not match its manifest: got {bytes} bytes with sha256 {sha256}, expected {} bytes with sha256 {} ({}); the download was deleted",
        file.name,
        file.bytes,
        file.sha256,
        file.location.public_url()
    ))
}

/// Parses a published manifest: every name in it that becomes a path is checked first.
pub fn parse_manifest(url: &str, bytes: &[u8]) -> Result<Manifest> {
    Manifest::parse(bytes).map_err(|err| Error::Integrity(format!("{url} {err}")))
}

/// A small document's body, refused once it exceeds [`MAX_DOCUMENT_BYTES`].
async fn read_capped(url: &str, response: reqwest::Response) -> Result<Vec<u8>> {
    http::read_capped(response, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|err| match err {
            http::BodyError::TooLarge(max) => Error::Integrity(format!(
                "{url} is larger than {} MiB, far more than any dbrelease document; refusing to read it",
                max >> 20
            )),
            http::BodyError::Network(reason) => Error::Remote(format!("reading {url}: {reason}")),
        })
}
