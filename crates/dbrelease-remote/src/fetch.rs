//! `fetch`: pinned, verified, cached data for the people who use it.
//!
//! Cache layout: `{root}/{owner}/{name}/{tag}/` for GitHub and `{root}/url/{host}/{path}/{tag}/`
//! for a URL origin, where `{root}` is `--cache-dir`, else `$XDG_CACHE_HOME/dbrelease`, else
//! `~/.cache/dbrelease` ([`default_cache_root`]). A file only ever appears there by a rename after its sha256 matched
//! the manifest, and a lock per version keeps concurrent runs from writing the same files.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use dbrelease_manifest::{ArtifactKind, MANIFEST_FILE, Manifest, WholeFile, versions};

use crate::error::{Error, Result};
use crate::http::RetryPolicy;
use crate::localfs;
use crate::reader::{LatestTag, Listed, Origin, Reader, RemoteFile, Version};

/// What to fetch, from where, into which cache: resolved once by the caller (the CLI's flags,
/// the Python package's arguments).
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Where the release is published.
    pub origin: Origin,
    /// A tag, or `latest` (newest published, not a pre-release).
    pub tag: String,
    /// Instead of `tag`: the version that was the latest release at the end of this UTC day.
    pub as_of: Option<dbrelease_manifest::dated::Day>,
    /// Artifact names, table names, or `all`; empty: the gzipped database.
    pub assets: Vec<String>,
    /// Cache root.
    pub cache_root: PathBuf,
    /// Also copy the files here: a file path for one file, a folder for several.
    pub out: Option<PathBuf>,
    /// Replace files in `out` that this fetch did not put there.
    pub force: bool,
    /// Gunzip the database into the cache.
    pub decompress: bool,
    /// Never use the network.
    pub offline: bool,
    /// Retries and timeouts.
    pub retry: RetryPolicy,
}

/// The default cache root: `$XDG_CACHE_HOME/dbrelease`, else `$HOME/.cache/dbrelease` (the
/// caller passes the two variables; relative or empty values are ignored, as XDG says).
pub fn default_cache_root(
    xdg_cache_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    let absolute = |value: Option<std::ffi::OsString>| {
        value
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    if let Some(xdg) = absolute(xdg_cache_home) {
        return Ok(xdg.join("dbrelease"));
    }
    if let Some(home) = absolute(home) {
        return Ok(home.join(".cache").join("dbrelease"));
    }
    Err(Error::Usage(
        "no cache folder: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir DIR".into(),
    ))
}

/// One fetched file.
#[derive(Debug, Clone, Serialize)]
pub struct FetchedFile {
    /// Artifact name (for a decompressed database: the name of the .gz it came from).
    pub name: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Size.
    pub bytes: u64,
    /// sha256 of the file at `path`.
    pub sha256: String,
    /// True when it was downloaded (or decompressed) by this run.
    pub downloaded: bool,
}

/// What `fetch` did.
#[derive(Debug, Clone, Serialize)]
pub struct FetchReport {
    /// The version fetched.
    pub tag: String,
    /// The cache folder of this version.
    pub cache_dir: PathBuf,
    /// The files, in the order asked for.
    pub files: Vec<FetchedFile>,
}

/// What `fetch --list` found.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ListReport {
    /// Published versions, newest first.
    Versions(Vec<ListedVersion>),
    /// The artifacts of one version.
    Artifacts {
        /// Tag.
        tag: String,
        /// Its artifacts.
        artifacts: Vec<ListedArtifact>,
    },
}

/// A version in `--list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListedVersion {
    /// Tag, publication date, pre-release flag.
    #[serde(flatten)]
    pub version: Listed,
    /// True when its manifest is in the cache.
    pub cached: bool,
}

/// An artifact in `--list --tag T`.
#[derive(Debug, Clone, Serialize)]
pub struct ListedArtifact {
    /// Name.
    pub name: String,
    /// `table`, `database` or `file`.
    pub kind: ArtifactKind,
    /// Size.
    pub bytes: u64,
    /// Rows (tables).
    pub rows: Option<u64>,
    /// sha256.
    pub sha256: String,
    /// True when it is in the cache.
    pub cached: bool,
}

/// The result of `fetch`.
pub enum FetchOutcome {
    /// Files were fetched.
    Files(FetchReport),
    /// `--list`.
    List(ListReport),
}

/// Where the newest tag was last seen, and the validator to ask again cheaply.
#[derive(Debug, Serialize, Deserialize)]
struct LatestPointer {
    tag: String,
    validator: Option<String>,
}

const LATEST_POINTER: &str = "latest.json";
/// Beside a rolling tag's cached manifest: the origin's validator for it (ETag or digest).
const MANIFEST_VALIDATOR: &str = "manifest.json.etag";

/// Downloads in flight at once.
const DOWNLOADS_IN_FLIGHT: usize = 3;

/// Fetches the files (or, with `list`, lists versions or one version's files).
pub fn run_fetch(
    options: &FetchOptions,
    list_only: bool,
    progress: crate::progress::Progress,
) -> Result<FetchOutcome> {
    let origin_dir = origin_dir(options)?;
    let reader = Reader::new(options.origin.clone(), options.retry.clone()).with_progress(progress);
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        if list_only {
            return list(options, &reader, &origin_dir)
                .await
                .map(FetchOutcome::List);
        }
        fetch(options, &reader, &origin_dir)
            .await
            .map(FetchOutcome::Files)
    })
}

/// The cache folder of the origin: the cache root made when missing (owner-only), and the
/// folders below it real folders of this user (see [`localfs`]).
fn origin_dir(options: &FetchOptions) -> Result<PathBuf> {
    if let Some(warning) = localfs::prepare_root(&options.cache_root)? {
        tracing::warn!("{warning}");
    }
    localfs::ensure_dirs(&options.cache_root, &origin_folder(&options.origin)?)
}

/// The cache folder of an origin, relative to the root.
fn origin_folder(origin: &Origin) -> Result<PathBuf> {
    match origin {
        Origin::GitHub(github) => Ok(github.repo().split('/').map(escape_segment).collect()),
        Origin::Url(base) => {
            let url = url::Url::parse(base).map_err(|err| Error::Usage(err.to_string()))?;
            let mut folder = PathBuf::from("url");
            let host = match url.port() {
                Some(port) => format!("{}_{port}", url.host_str().unwrap_or("host")),
                None => url.host_str().unwrap_or("host").to_string(),
            };
            folder.push(escape_segment(&host));
            for segment in url.path().split('/').filter(|s| !s.is_empty()) {
                folder.push(escape_segment(segment));
            }
            Ok(folder)
        }
    }
}

/// A tag or URL segment as one safe folder name: `/`, `..` and other bytes outside
/// `[A-Za-z0-9._+-]` become `%XX`.
fn escape_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'+' | b'-') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.chars().all(|c| c == '.') {
        out = out.replace('.', "%2E");
    }
    out
}

/// Beside the origin's versions: which tag `--as-of DAY` resolved to, once that day is over
/// (nothing published later can change the answer).
fn as_of_pointer(origin_dir: &Path, day: dbrelease_manifest::dated::Day) -> PathBuf {
    origin_dir.join(format!("as-of-{day}.json"))
}

async fn resolve_as_of(
    options: &FetchOptions,
    reader: &Reader,
    origin_dir: &Path,
    day: dbrelease_manifest::dated::Day,
) -> Result<String> {
    let pointer_path = as_of_pointer(origin_dir, day);
    let cached: Option<LatestPointer> = std::fs::read(&pointer_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if let Some(pointer) = cached {
        return Ok(pointer.tag);
    }
    if options.offline {
        return Err(Error::Remote(format!(
            "--offline: --as-of {day} was not resolved yet ({} has no {}); run once without --offline",
            origin_dir.display(),
            pointer_path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        )));
    }
    let tag = reader.as_of(day).await?;
    info!(%tag, as_of = %day, "resolved --as-of");
    let day_is_over = jiff::Timestamp::now().to_string().as_str() >= day.end_rfc3339().as_str();
    if day_is_over {
        let pointer = LatestPointer {
            tag: tag.clone(),
            validator: None,
        };
        write_atomic(
            &pointer_path,
            &serde_json::to_vec_pretty(&pointer).expect("pointer serializes"),
        )?;
    }
    Ok(tag)
}

async fn resolve_tag(options: &FetchOptions, reader: &Reader, origin_dir: &Path) -> Result<String> {
    if let Some(day) = options.as_of {
        return resolve_as_of(options, reader, origin_dir, day).await;
    }
    if options.tag != "latest" {
        return Ok(options.tag.clone());
    }
    let pointer_path = origin_dir.join(LATEST_POINTER);
    let pointer: Option<LatestPointer> = std::fs::read(&pointer_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if options.offline {
        return pointer.map(|p| p.tag).ok_or_else(|| {
            Error::Remote(format!(
                "--offline: no release of this origin was fetched yet ({} has no {LATEST_POINTER}); run once without --offline or pass --tag",
                origin_dir.display()
            ))
        });
    }
    match reader
        .latest(pointer.as_ref().and_then(|p| p.validator.as_deref()))
        .await?
    {
        LatestTag::NotModified => match pointer {
            Some(pointer) => {
                info!(tag = %pointer.tag, "latest release unchanged");
                Ok(pointer.tag)
            }
            None => Err(Error::Remote(
                "the origin answered 304 Not Modified to an unconditional request".into(),
            )),
        },
        LatestTag::Tag(tag, validator) => {
            let pointer = LatestPointer {
                tag: tag.clone(),
                validator,
            };
            write_atomic(
                &pointer_path,
                &serde_json::to_vec_pretty(&pointer).expect("pointer serializes"),
            )?;
            Ok(tag)
        }
    }
}

/// One version's manifest, from the cache or the origin (then cached), with the version's
/// cache folder locked while the value lives.
struct CachedVersion {
    tag: String,
    tag_dir: PathBuf,
    manifest: Manifest,
    /// The version as read from the origin, when it had to be.
    online: Option<Version>,
    _lock: File,
}

async fn cached_version(
    options: &FetchOptions,
    reader: &Reader,
    origin_dir: &Path,
) -> Result<CachedVersion> {
    let tag = resolve_tag(options, reader, origin_dir).await?;
    let tag_dir = localfs::ensure_dirs(origin_dir, Path::new(&escape_segment(&tag)))?;
    let lock = lock(&tag_dir).await?;
    let manifest_path = tag_dir.join(MANIFEST_FILE);
    let cached = std::fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| Manifest::parse(&bytes).ok().map(|m| (m, bytes)));
    let (manifest, online) = match cached {
        // A semantic version never changes once published: its cache needs no network.
        Some((manifest, _)) if options.offline || versions::is_pinned(&tag) => (manifest, None),
        // Any other tag (`nightly`) may be published again in place: ask the origin whether
        // the cached manifest is still the one, and follow it when not.
        Some((manifest, bytes)) => {
            let validator_path = tag_dir.join(MANIFEST_VALIDATOR);
            let validator = std::fs::read_to_string(&validator_path).ok();
            let (changed, validator) = reader
                .revalidate(&tag, &bytes, validator.as_deref())
                .await?;
            if let Some(validator) = validator {
                write_atomic(&validator_path, validator.as_bytes())?;
            }
            match changed {
                None => (manifest, None),
                Some(version) => {
                    info!(%tag, "the release was published again since it was cached; following it");
                    write_atomic(&manifest_path, &version.manifest_bytes)?;
                    (version.manifest.clone(), Some(version))
                }
            }
        }
        None if options.offline => {
            return Err(Error::Remote(format!(
                "--offline: release {tag} is not in the cache ({} has no {MANIFEST_FILE}); run once without --offline",
                tag_dir.display()
            )));
        }
        None => {
            let version = reader.version(&tag).await?;
            write_atomic(&manifest_path, &version.manifest_bytes)?;
            (version.manifest.clone(), Some(version))
        }
    };
    Ok(CachedVersion {
        tag,
        tag_dir,
        manifest,
        online,
        _lock: lock,
    })
}

/// The cached `manifest.json` of the version `options` name (fetched into the cache first
/// when needed): its tag and path.
pub fn manifest_path(options: &FetchOptions) -> Result<(String, PathBuf)> {
    let origin_dir = origin_dir(options)?;
    let reader = Reader::new(options.origin.clone(), options.retry.clone());
    crate::runtime()?.block_on(async {
        let version = cached_version(options, &reader, &origin_dir).await?;
        let path = version.tag_dir.join(MANIFEST_FILE);
        Ok((version.tag, path))
    })
}

/// A version's files where they are published, for readers that query them in place.
#[derive(Debug, Clone)]
pub struct InPlace {
    /// The resolved tag.
    pub tag: String,
    /// The cached, checked manifest.json.
    pub manifest_path: PathBuf,
    /// Each artifact's public URL, in manifest order: `(artifact name, URL)`.
    pub urls: Vec<(String, String)>,
}

/// Where a version's files can be read in place (DuckDB or Polars over HTTP, which read only
/// the byte ranges a query needs): the version `options` name (pinned, `latest`, `as_of`,
/// resolved and cached as for a download), the path of its cached and checked manifest, and
/// each artifact's public URL in manifest order. Nothing but the manifest is downloaded.
pub fn public_urls(options: &FetchOptions) -> Result<InPlace> {
    if options.offline {
        return Err(Error::Usage(
            "reading files in place needs the network: leave offline off, or fetch the files"
                .into(),
        ));
    }
    let origin_dir = origin_dir(options)?;
    let reader = Reader::new(options.origin.clone(), options.retry.clone());
    crate::runtime()?.block_on(async {
        let cached = cached_version(options, &reader, &origin_dir).await?;
        let version = match cached.online {
            Some(version) => version,
            None => reader.version(&cached.tag).await?,
        };
        let mut urls = Vec::new();
        for artifact in &cached.manifest.artifacts {
            let file = version.file(&artifact.name).ok_or_else(|| {
                Error::Remote(format!(
                    "release {} lists {} in its manifest but does not hold it; ask its maintainer to run `dbrelease verify`",
                    cached.tag, artifact.name
                ))
            })?;
            urls.push((artifact.name.clone(), file.location.public_url().to_string()));
        }
        Ok(InPlace {
            tag: cached.tag.clone(),
            manifest_path: cached.tag_dir.join(MANIFEST_FILE),
            urls,
        })
    })
}

async fn fetch(options: &FetchOptions, reader: &Reader, origin_dir: &Path) -> Result<FetchReport> {
    let CachedVersion {
        tag,
        tag_dir,
        manifest,
        online,
        _lock,
    } = cached_version(options, reader, origin_dir).await?;
    let wanted = select(&manifest, &options.assets, &tag)?;
    if options.offline {
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|f| !tag_dir.join(f.name).is_file())
            .map(|f| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Remote(format!(
                "--offline: {} of release {tag} not in the cache ({}); run once without --offline",
                missing.join(", "),
                tag_dir.display()
            )));
        }
    }
    // Which files the cache lacks (or no longer vouches for); of a file in parts, the parts
    // not downloaded yet (an interrupted fetch keeps the parts it finished).
    let mut missing = Vec::new();
    let mut to_assemble = Vec::new();
    for file in &wanted {
        let path = tag_dir.join(file.name);
        if still_verified(&path, file.bytes, file.sha256).await? {
            continue;
        }
        if options.offline {
            return Err(Error::Remote(format!(
                "--offline: the cached {} of {tag} was changed since it was verified and was removed; run once without --offline",
                file.name
            )));
        }
        if !file.in_parts() {
            missing.push(file.name.to_string());
            continue;
        }
        for part in &file.artifacts {
            if !still_verified(&tag_dir.join(&part.name), part.bytes, &part.sha256).await? {
                missing.push(part.name.clone());
            }
        }
        to_assemble.push(file);
    }
    if !missing.is_empty() {
        let version = match online {
            Some(version) => version,
            None => reader.version(&tag).await?,
        };
        let mut remote = Vec::new();
        for name in &missing {
            remote.push(version.file(name).ok_or_else(|| {
                Error::Integrity(format!(
                    "{name} is listed in the manifest of {tag} but not published ({}); ask the maintainer to run `dbrelease republish --tag {tag}`",
                    version.page_url
                ))
            })?);
        }
        download_into(reader, &remote, &tag_dir).await?;
    }
    for file in &to_assemble {
        assemble(file, &tag_dir).await?;
    }
    let mut files: Vec<FetchedFile> = wanted
        .iter()
        .map(|file| FetchedFile {
            name: file.name.to_string(),
            path: tag_dir.join(file.name),
            bytes: file.bytes,
            sha256: file.sha256.to_string(),
            downloaded: file.artifacts.iter().any(|a| missing.contains(&a.name)),
        })
        .collect();
    if options.decompress {
        for file in files.iter_mut() {
            if wanted
                .iter()
                // The gzipped database (an uncompressed one is used as it is).
                .any(|f| f.name == file.name && f.first().database.is_some())
            {
                *file = decompress(file, &manifest, &tag_dir).await?;
            }
        }
    }
    if let Some(out) = &options.out {
        place(&mut files, out, options.force)?;
    }
    Ok(FetchReport {
        tag,
        cache_dir: tag_dir,
        files,
    })
}

/// Downloads `files` into `tag_dir`, a few at a time (many small Parquet files are
/// latency-bound); each appears under its name only by a rename after its sha256 matched.
async fn download_into(reader: &Reader, files: &[&RemoteFile], tag_dir: &Path) -> Result<()> {
    let results: Vec<Result<()>> = futures::stream::iter(files)
        .map(|file| async move {
            info!(name = %file.name, bytes = file.bytes, url = %file.location.public_url(), "downloading");
            let part = tag_dir.join(format!(".{}.part", file.name));
            let path = tag_dir.join(&file.name);
            reader.download(file, &part).await?;
            std::fs::rename(&part, &path).map_err(|err| cache_error(&path, &err))?;
            record_verified(&path, &file.sha256)
        })
        .buffer_unordered(DOWNLOADS_IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Concatenates the verified parts of `file` in order into the one file, checks its size and
/// sha256 against the manifest, then removes the parts (the whole file is what the cache keeps
/// and vouches for). Nothing appears under the file's name unless it matched.
async fn assemble(file: &WholeFile<'_>, tag_dir: &Path) -> Result<()> {
    let target = tag_dir.join(file.name);
    let partial = tag_dir.join(format!(".{}.part", file.name));
    let parts: Vec<PathBuf> = file
        .artifacts
        .iter()
        .map(|a| tag_dir.join(&a.name))
        .collect();
    let output = localfs::create_fresh(&partial)?;
    let sources = parts.clone();
    let digest =
        tokio::task::spawn_blocking(move || -> std::io::Result<crate::hashing::Digested> {
            let mut writer =
                crate::hashing::HashingWriter::new(BufWriter::with_capacity(1 << 20, output));
            for part in &sources {
                std::io::copy(&mut File::open(part)?, &mut writer)?;
            }
            let (buffered, digest) = writer.finish()?;
            buffered
                .into_inner()
                .map_err(|err| err.into_error())?
                .sync_all()?;
            Ok(digest)
        })
        .await
        .map_err(|err| Error::Remote(format!("a background task failed: {err}")))?
        .map_err(|err| {
            let _ = std::fs::remove_file(&partial);
            cache_error(&partial, &err)
        })?;
    if digest.bytes != file.bytes || digest.sha256 != file.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::Integrity(format!(
            "the {} parts of {} join to {} bytes with sha256 {}, but the manifest records {} bytes with sha256 {}; nothing was kept",
            parts.len(),
            file.name,
            digest.bytes,
            digest.sha256,
            file.bytes,
            file.sha256
        )));
    }
    std::fs::rename(&partial, &target).map_err(|err| cache_error(&target, &err))?;
    record_verified(&target, file.sha256)?;
    for part in &parts {
        let _ = std::fs::remove_file(part);
        let _ = std::fs::remove_file(stamp_path(part));
    }
    info!(name = %file.name, parts = parts.len(), bytes = file.bytes, "parts joined and verified");
    Ok(())
}

/// The files named on the command line: artifact names, table names, or `all`; the database
/// when none is named. A file published in parts is one file (named by its whole name).
fn select<'a>(manifest: &'a Manifest, names: &[String], tag: &str) -> Result<Vec<WholeFile<'a>>> {
    let files = manifest.whole_files();
    if names.is_empty() {
        return files
            .into_iter()
            .find(|f| f.first().kind == ArtifactKind::Database)
            .map(|f| vec![f])
            .ok_or_else(|| {
                Error::Usage(format!(
                    "release {tag} has no database artifact; name the files to fetch"
                ))
            });
    }
    if names.iter().any(|n| n == "all") {
        return Ok(files);
    }
    let mut chosen: Vec<WholeFile<'a>> = Vec::new();
    for name in names {
        // A table's name gives every file of it (a table in parts is several).
        let found: Vec<&WholeFile<'a>> = files
            .iter()
            .filter(|f| {
                f.name == name
                    || f.artifacts.iter().any(|a| a.name == *name)
                    || f.first().table.as_ref().is_some_and(|t| {
                        t.name == *name || format!("{}.{}", t.schema, t.name) == *name
                    })
            })
            .collect();
        for file in &found {
            if !chosen.iter().any(|c| c.name == file.name) {
                chosen.push((*file).clone());
            }
        }
        if found.is_empty() {
            let available: Vec<&str> = files.iter().map(|f| f.name).collect();
            return Err(Error::Usage(format!(
                "release {tag} has no artifact or table {name:?}; it has: {} (or `all`)",
                available.join(", ")
            )));
        }
    }
    Ok(chosen)
}

/// The sidecar that records when a cached file was last verified.
fn stamp_path(path: &Path) -> PathBuf {
    let name = path.file_name().expect("file path").to_string_lossy();
    path.with_file_name(format!(".{name}.verified"))
}

/// The file as it is now (size, modification time) and the sha256 it was verified to have: a
/// rolling tag published again lists other bytes under the same name, often of the same size.
fn stamp_of(path: &Path, sha256: &str) -> Option<String> {
    let metadata = localfs::own_file(path)?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{} {} {sha256}",
        metadata.len(),
        modified.as_nanos()
    ))
}

/// Remembers that `path` was verified, as it is now, to hold bytes with `sha256`.
fn record_verified(path: &Path, sha256: &str) -> Result<()> {
    let stamp = stamp_of(path, sha256).unwrap_or_default();
    write_atomic(&stamp_path(path), stamp.as_bytes())
}

/// True when a cached file holds `sha256`. Untouched files verified to hold it (same size and
/// modification time as then) are trusted without reading them; anything else is hashed again,
/// and removed when it does not match (someone opened the database read-write, or a rolling
/// tag now lists other bytes).
async fn still_verified(path: &Path, bytes: u64, sha256: &str) -> Result<bool> {
    if localfs::own_file(path).is_none() {
        // Nothing, or something dbrelease did not put there (a link, a hard link to a file
        // elsewhere): the entry goes (never its target) and the file is fetched again.
        localfs::remove_link_or_file(path)?;
        return Ok(false);
    }
    let recorded = std::fs::read_to_string(stamp_path(path)).ok();
    if recorded.is_some() && recorded == stamp_of(path, sha256) {
        return Ok(true);
    }
    let owned = path.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || crate::hashing::hash_file(&owned))
        .await
        .map_err(|err| Error::Remote(format!("a background task failed: {err}")))?
        .map_err(|err| cache_error(path, &err))?;
    if digest.bytes == bytes && digest.sha256 == sha256 {
        record_verified(path, sha256)?;
        return Ok(true);
    }
    tracing::warn!(path = %path.display(), "cached file does not match its manifest; removing it");
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(stamp_path(path));
    Ok(false)
}

/// Gunzips the cached database next to it (once), checking the result against the
/// manifest's source sha256.
async fn decompress(
    file: &FetchedFile,
    manifest: &Manifest,
    tag_dir: &Path,
) -> Result<FetchedFile> {
    let name = file
        .name
        .strip_suffix(".gz")
        .unwrap_or(&manifest.source.file_name)
        .to_string();
    let target = tag_dir.join(&name);
    let expected = &manifest.source;
    let result = |downloaded| FetchedFile {
        name: file.name.clone(),
        path: target.clone(),
        bytes: expected.bytes,
        sha256: expected.sha256.clone(),
        downloaded,
    };
    if still_verified(&target, expected.bytes, &expected.sha256).await? {
        return Ok(result(false));
    }
    let source = file.path.clone();
    let part = tag_dir.join(format!(".{name}.part"));
    let output = localfs::create_fresh(&part)?;
    let limit = expected.bytes;
    let (bytes, sha256) = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        let input = BufReader::with_capacity(1 << 20, File::open(&source)?);
        let mut decoder = flate2::read::MultiGzDecoder::new(input);
        let mut output = BufWriter::with_capacity(1 << 20, output);
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let read = decoder.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            // A gzip bomb (or a wrong manifest) stops here, not when the disk is full.
            if bytes + read as u64 > limit {
                return Err(std::io::Error::other(format!(
                    "it decompresses to more than the {limit} bytes the manifest records"
                )));
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read])?;
            bytes += read as u64;
        }
        output
            .into_inner()
            .map_err(|err| err.into_error())?
            .sync_all()?;
        Ok((bytes, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|err| Error::Remote(format!("a background task failed: {err}")))?
    .map_err(|err| {
        let _ = std::fs::remove_file(&part);
        Error::Integrity(format!("cannot decompress {}: {err}", file.path.display()))
    })?;
    if bytes != expected.bytes || sha256 != expected.sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(Error::Integrity(format!(
            "{} decompresses to {bytes} bytes with sha256 {sha256}, but the manifest records the database as {} bytes with sha256 {}; nothing was kept",
            file.name, expected.bytes, expected.sha256
        )));
    }
    std::fs::rename(&part, &target).map_err(|err| cache_error(&target, &err))?;
    record_verified(&target, &expected.sha256)?;
    Ok(result(true))
}

/// A file of the cache (or of --out) cannot be written.
fn cache_error(path: &Path, err: &std::io::Error) -> Error {
    Error::local(path, err)
}

/// A file already at `target` is only replaced when it holds the same bytes (an earlier fetch
/// of the same file) or with `force`: a fetch never silently overwrites a user's file.
fn refuse_foreign_file(target: &Path, file: &FetchedFile, force: bool) -> Result<()> {
    let Ok(metadata) = std::fs::symlink_metadata(target) else {
        return Ok(());
    };
    // With --force the entry is replaced by a rename, which replaces a link, never its target.
    if force {
        return Ok(());
    }
    if !metadata.is_file() {
        return Err(localfs::refused(target, &metadata));
    }
    let same = metadata.len() == file.bytes
        && crate::hashing::hash_file(target).is_ok_and(|digest| digest.sha256 == file.sha256);
    if same {
        return Ok(());
    }
    // Another name of a file elsewhere (a hard link), or another account's file.
    if !localfs::is_own_single_file(&metadata) {
        return Err(localfs::refused(target, &metadata));
    }
    Err(Error::Usage(format!(
        "{} already exists and is not the fetched {}; move it away, choose another --out, or pass --force to replace it",
        target.display(),
        file.name
    )))
}

/// Copies the results to `--out`: a file path for one file (or a folder), a folder for several.
fn place(files: &mut [FetchedFile], out: &Path, force: bool) -> Result<()> {
    let into_folder =
        files.len() > 1 || out.is_dir() || out.as_os_str().to_string_lossy().ends_with('/');
    for file in files.iter_mut() {
        let target = if into_folder {
            create_dir(out)?;
            out.join(file.path.file_name().expect("cached files have names"))
        } else {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_dir(parent)?;
            }
            out.to_path_buf()
        };
        let temporary = target.with_file_name(format!(
            ".{}.dbrelease-{}",
            target.file_name().expect("named").to_string_lossy(),
            std::process::id()
        ));
        refuse_foreign_file(&target, file, force)?;
        // A copy, not a link: whatever the user does to their copy never touches the cache.
        copy_new(&file.path, &temporary)?;
        std::fs::rename(&temporary, &target).map_err(|err| {
            let _ = std::fs::remove_file(&temporary);
            cache_error(&target, &err)
        })?;
        file.path = target;
    }
    Ok(())
}

/// Copies `source` into a file created new at `dest` (whatever was at `dest` is removed first,
/// if it is a link or a file; a link is never followed).
fn copy_new(source: &Path, dest: &Path) -> Result<()> {
    let mut input = File::open(source).map_err(|err| cache_error(source, &err))?;
    let output = localfs::create_fresh(dest)?;
    let mut writer = BufWriter::with_capacity(1 << 20, output);
    let result = std::io::copy(&mut input, &mut writer)
        .and_then(|_| writer.into_inner().map_err(|err| err.into_error()))
        .and_then(|file| file.sync_all());
    result.map_err(|err| {
        let _ = std::fs::remove_file(dest);
        cache_error(dest, &err)
    })
}

async fn list(options: &FetchOptions, reader: &Reader, origin_dir: &Path) -> Result<ListReport> {
    let tag = match options.as_of {
        Some(day) => resolve_as_of(options, reader, origin_dir, day).await?,
        None => options.tag.clone(),
    };
    if tag != "latest" {
        let tag = &tag;
        let tag_dir = origin_dir.join(escape_segment(tag));
        let cached: Option<Manifest> = std::fs::read(tag_dir.join(MANIFEST_FILE))
            .ok()
            .and_then(|bytes| Manifest::parse(&bytes).ok());
        let manifest = match cached {
            Some(manifest) => manifest,
            None if options.offline => {
                return Err(Error::Remote(format!(
                    "--offline: release {tag} is not in the cache ({})",
                    tag_dir.display()
                )));
            }
            None => reader.version(tag).await?.manifest,
        };
        let artifacts = manifest
            .artifacts
            .iter()
            .map(|a| ListedArtifact {
                name: a.name.clone(),
                kind: a.kind,
                bytes: a.bytes,
                rows: a.rows(),
                sha256: a.sha256.clone(),
                cached: tag_dir.join(&a.name).is_file(),
            })
            .collect();
        return Ok(ListReport::Artifacts {
            tag: tag.clone(),
            artifacts,
        });
    }
    let cached = |tag: &str| {
        origin_dir
            .join(escape_segment(tag))
            .join(MANIFEST_FILE)
            .is_file()
    };
    let versions = if options.offline {
        let mut tags: Vec<String> = std::fs::read_dir(origin_dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().join(MANIFEST_FILE).is_file())
                    .filter_map(|e| {
                        let bytes = std::fs::read(e.path().join(MANIFEST_FILE)).ok()?;
                        Manifest::parse(&bytes).ok()?.tag
                    })
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags.reverse();
        tags.into_iter()
            .map(|tag| Listed {
                tag,
                date: None,
                prerelease: false,
            })
            .collect()
    } else {
        reader.list().await?
    };
    Ok(ListReport::Versions(
        versions
            .into_iter()
            .map(|version| ListedVersion {
                cached: cached(&version.tag),
                version,
            })
            .collect(),
    ))
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|err| cache_error(dir, &err))
}

/// Writes a small file by rename, so readers see the old or the new content, never half.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // The folder exists (made by `localfs::ensure_dirs`); the temporary file is created new
    // (O_EXCL) and renamed over the name, which replaces a link there instead of following it.
    let parent = path.parent().expect("cache files have a folder");
    let mut temporary =
        tempfile::NamedTempFile::new_in(parent).map_err(|err| cache_error(path, &err))?;
    temporary
        .write_all(bytes)
        .and_then(|_| temporary.as_file().sync_all())
        .map_err(|err| cache_error(path, &err))?;
    temporary
        .persist(path)
        .map_err(|err| cache_error(path, &err.error))?;
    Ok(())
}

/// An exclusive lock on one version's cache folder, held until dropped: a second `fetch` of
/// the same version waits, then finds the files in place.
async fn lock(tag_dir: &Path) -> Result<File> {
    let path = tag_dir.join(".lock");
    // An existing lock file is reused only when it is ours; a link or a hard link in its place
    // is replaced (a lock is a name, its content never matters).
    let file = match localfs::open_resumable(&path)? {
        Some(file) => file,
        None => match localfs::create_new(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                // A concurrent fetch may have created it just now: use it if it is a file of ours.
                match localfs::open_resumable(&path)? {
                    Some(file) => file,
                    None => localfs::create_fresh(&path)?,
                }
            }
            Err(err) => return Err(cache_error(&path, &err)),
        },
    };
    tokio::task::spawn_blocking(move || file.lock().map(|_| file))
        .await
        .map_err(|err| Error::Remote(format!("a background task failed: {err}")))?
        .map_err(|err| cache_error(&path, &err))
}

/// The report as lines for a shell: one path per file.
pub fn paths_text(report: &FetchReport) -> String {
    report
        .files
        .iter()
        .map(|f| format!("{}\n", f.path.display()))
        .collect()
}

/// `--list` as a table.
pub fn list_text(report: &ListReport) -> String {
    let mut text = String::new();
    match report {
        ListReport::Versions(versions) => {
            if versions.is_empty() {
                text.push_str("no published versions\n");
            }
            for v in versions {
                text.push_str(&format!(
                    "{:<24}  {:<20}  {}{}\n",
                    v.version.tag,
                    v.version.date.as_deref().unwrap_or("-"),
                    if v.cached { "cached" } else { "" },
                    if v.version.prerelease {
                        " pre-release"
                    } else {
                        ""
                    }
                ));
            }
        }
        ListReport::Artifacts { tag, artifacts } => {
            let width = artifacts
                .iter()
                .map(|a| a.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            text.push_str(&format!("release {tag}\n"));
            text.push_str(&format!(
                "{:<width$}  {:<8}  {:>10}  {:>12}  {:<64}  cached\n",
                "name", "kind", "size", "rows", "sha256"
            ));
            for a in artifacts {
                text.push_str(&format!(
                    "{:<width$}  {:<8}  {:>10}  {:>12}  {:<64}  {}\n",
                    a.name,
                    format!("{:?}", a.kind).to_lowercase(),
                    crate::progress::human_bytes(a.bytes),
                    a.rows.map(|r| r.to_string()).unwrap_or_default(),
                    a.sha256,
                    if a.cached { "yes" } else { "" }
                ));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_url_segments_become_single_safe_folder_names() {
        assert_eq!(escape_segment("v1.2.0"), "v1.2.0");
        assert_eq!(escape_segment("data/v1"), "data%2Fv1");
        assert_eq!(escape_segment(".."), "%2E%2E");
        assert_eq!(escape_segment("a b"), "a%20b");
    }
}
