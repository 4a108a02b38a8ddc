//! S3 as a [`Target`]: versioned keys written create-only with server-verified checksums; when
//! finalizing, a `latest/` alias by server-side copy and `versions.json` by conditional write,
//! each step's manifest last. [`Bucket`] (bucket.rs) is the edge; [`S3Target`] the release on it.

mod bucket;

use std::path::Path;

use futures::StreamExt;
use sha2::{Digest, Sha256};

use dbrelease_manifest::versions::{VERSIONS_FILE, VersionEntry, VersionsIndex};
use dbrelease_manifest::{DATAPACKAGE_FILE, MANIFEST_FILE, Manifest, SHA256SUMS_FILE, sums};
use dbrelease_remote::verify::{FileCheck, TargetCheck};

pub use bucket::{Bucket, Capabilities};
use bucket::{Conditional, IMMUTABLE, SHORT};

use super::{ActionKind, AssetReport, Finalized, Inventory, Put, Staged, Target, TargetKind};
use crate::error::{Error, Result};
use crate::plan::{AssetPlan, Conflict, CopySource, LocalFile, RemoteAsset};

/// Attempts at a conditional `versions.json` update before concluding that publishes keep
/// racing (each attempt re-reads the index and records this version again).
const INDEX_ATTEMPTS: usize = 8;
/// The alias folder that follows the newest release.
const LATEST: &str = "latest";

/// The manifest of the newest version in `versions.json` other than `tag` — where it should be
/// and its bytes (None when it is missing) — or None when the index lists no other version.
pub async fn previous_manifest(
    target: &Bucket,
    tag: &str,
) -> Result<Option<(String, Option<Vec<u8>>)>> {
    let Some(index) = read_index(target).await? else {
        return Ok(None);
    };
    let Some(previous) = index.newest_other_than(tag) else {
        return Ok(None);
    };
    let key = target.key(&previous.tag, MANIFEST_FILE);
    Ok(Some((target.url(&key), target.get(&key).await?)))
}

/// `versions.json`, or None when there is none yet.
pub async fn read_index(target: &Bucket) -> Result<Option<VersionsIndex>> {
    let Some(bytes) = target.get(&target.top_key(VERSIONS_FILE)).await? else {
        return Ok(None);
    };
    VersionsIndex::parse(&bytes).map(Some).map_err(|err| {
        Error::Remote(format!(
            "S3: {} {err}; move it away or fix it",
            target.top_key(VERSIONS_FILE)
        ))
    })
}

/// The manifest of version `tag` — where it is and its bytes (None when it is missing).
pub async fn version_manifest(target: &Bucket, tag: &str) -> Result<(String, Option<Vec<u8>>)> {
    let key = target.key(tag, MANIFEST_FILE);
    Ok((target.url(&key), target.get(&key).await?))
}

/// The bytes of file `name` of version `tag`, or None (small files: manifest, SHA256SUMS).
pub async fn read_version_file(bucket: &Bucket, tag: &str, name: &str) -> Result<Option<Vec<u8>>> {
    bucket.get(&bucket.key(tag, name)).await
}

/// Streams file `name` of version `tag` into `dest`; returns its size and sha256, or None
/// when the object does not exist.
pub async fn download_version_file(
    bucket: &Bucket,
    tag: &str,
    name: &str,
    dest: &Path,
) -> Result<Option<(u64, String)>> {
    bucket.stream(&bucket.key(tag, name), Some(dest)).await
}

/// Reads version `tag` back through the S3 API (so private buckets work) and checks every
/// object against the version's manifest, hashing each one as it streams.
pub async fn verify_version(target: &Bucket, tag: &str) -> Result<TargetCheck> {
    let options = &target.options;
    let name = format!(
        "s3://{}/{}",
        options.bucket,
        options.prefix.trim_matches('/')
    );
    // The manifest, and its record in versions.json.
    let manifest_key = target.key(tag, MANIFEST_FILE);
    let Some(manifest_bytes) = target.get(&manifest_key).await? else {
        return Ok(TargetCheck::unreadable(
            name,
            tag,
            format!(
                "no {manifest_key}: version {tag} was never published here, or its publish did not finish"
            ),
        ));
    };
    let mut problems = index_problems(target, tag, &manifest_key, &manifest_bytes).await?;
    let manifest = match Manifest::parse(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(err) => {
            return Ok(TargetCheck::unreadable(
                name,
                tag,
                format!("{manifest_key} {err}"),
            ));
        }
    };
    // Every artifact streamed and hashed, a few at a time.
    let checks: Vec<Result<(FileCheck, Option<String>)>> =
        futures::stream::iter(&manifest.artifacts)
            .map(|artifact| check_object(target, tag, artifact))
            .buffered(3)
            .collect()
            .await;
    let mut files = Vec::new();
    for check in checks {
        let (file, problem) = check?;
        files.push(file);
        problems.extend(problem);
    }
    // SHA256SUMS and datapackage.json agree with the manifest.
    problems.extend(metadata_problems(target, tag, &manifest).await?);
    Ok(TargetCheck {
        target: name,
        tag: tag.to_string(),
        location: target.url(&target.key(tag, "")),
        files,
        problems,
    })
}

/// versions.json must list `tag` with the sha256 of the manifest that is there.
async fn index_problems(
    target: &Bucket,
    tag: &str,
    manifest_key: &str,
    manifest_bytes: &[u8],
) -> Result<Vec<String>> {
    let index: Option<VersionsIndex> = target
        .get(&target.top_key(VERSIONS_FILE))
        .await?
        .and_then(|bytes| VersionsIndex::parse(&bytes).ok());
    let actual = hex::encode(Sha256::digest(manifest_bytes));
    Ok(match index.as_ref().and_then(|i| i.find(tag)) {
        Some(entry) if entry.manifest_sha256 != actual => vec![format!(
            "{manifest_key} has sha256 {actual}, versions.json records {}",
            entry.manifest_sha256
        )],
        Some(_) => Vec::new(),
        None => vec![format!("versions.json does not list {tag}")],
    })
}

/// One artifact's object, streamed and hashed, against the manifest.
async fn check_object(
    target: &Bucket,
    tag: &str,
    artifact: &dbrelease_manifest::Artifact,
) -> Result<(FileCheck, Option<String>)> {
    let key = target.key(tag, &artifact.name);
    let digest = match target.stream(&key, None).await {
        Err(Error::Integrity(problem)) => Err(problem),
        other => Ok(other?),
    };
    let problem = match digest {
        Err(problem) => Some(problem),
        Ok(None) => Some(format!(
            "{} is listed in the manifest but not published",
            artifact.name
        )),
        Ok(Some((bytes, sha256))) if bytes == artifact.bytes && sha256 == artifact.sha256 => None,
        Ok(Some((bytes, sha256))) => Some(format!(
            "{}: published {bytes} bytes with sha256 {sha256}, the manifest records {} bytes with sha256 {}",
            artifact.name, artifact.bytes, artifact.sha256
        )),
    };
    let check = FileCheck {
        name: artifact.name.clone(),
        bytes: artifact.bytes,
        sha256: artifact.sha256.clone(),
        ok: problem.is_none(),
    };
    Ok((check, problem))
}

/// SHA256SUMS lists every artifact with the manifest's sha256; datapackage.json matches its
/// SHA256SUMS line.
async fn metadata_problems(target: &Bucket, tag: &str, manifest: &Manifest) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let Some(bytes) = target.get(&target.key(tag, SHA256SUMS_FILE)).await? else {
        return Ok(vec![format!("{SHA256SUMS_FILE} is not published")]);
    };
    let listed = sums::parse(&String::from_utf8_lossy(&bytes));
    problems.extend(sums::problems(manifest, &listed));
    match target.get(&target.key(tag, DATAPACKAGE_FILE)).await? {
        None => problems.push(format!("{DATAPACKAGE_FILE} is not published")),
        Some(datapackage) => {
            let sha = hex::encode(Sha256::digest(&datapackage));
            if let Some((expected, _)) = listed.iter().find(|(_, n)| n == DATAPACKAGE_FILE)
                && *expected != sha
            {
                problems.push(format!(
                    "{DATAPACKAGE_FILE} has sha256 {sha}, {SHA256SUMS_FILE} lists {expected}"
                ));
            }
        }
    }
    Ok(problems)
}

/// One tag's release under `{prefix}/{tag}/` on a bucket.
pub struct S3Target<'a> {
    bucket: &'a Bucket,
    tag: String,
    /// The manifest being published (its `created_at` orders versions.json).
    manifest: &'a Manifest,
    local: &'a [LocalFile],
    /// Where the local files' bytes are.
    out_dir: &'a Path,
    /// Published with `--prerelease`: never `latest/`.
    prerelease: bool,
    /// A rolling tag (published with `--replace`, e.g. `nightly`): its objects change, so they
    /// get a short Cache-Control, and it is never `latest/`.
    rolling: bool,
    /// The index as read by `inventory`.
    index: VersionsIndex,
}

impl<'a> S3Target<'a> {
    /// The release `tag` of `manifest` (files `local`) on `bucket`.
    pub fn new(
        bucket: &'a Bucket,
        tag: &str,
        manifest: &'a Manifest,
        local: &'a [LocalFile],
        out_dir: &'a Path,
        prerelease: bool,
        rolling: bool,
    ) -> Self {
        S3Target {
            bucket,
            tag: tag.to_string(),
            manifest,
            local,
            out_dir,
            prerelease,
            rolling,
            index: VersionsIndex::default(),
        }
    }

    async fn read_index(&self) -> Result<VersionsIndex> {
        Ok(self.read_index_tagged().await?.0)
    }

    /// The index and the condition under which it may be rewritten: its ETag, or that it still
    /// does not exist (None when the store gave no ETag: then only a read-back can confirm).
    async fn read_index_tagged(&self) -> Result<(VersionsIndex, Option<Option<String>>)> {
        let key = self.bucket.top_key(VERSIONS_FILE);
        match self.bucket.get_tagged(&key).await? {
            Some((bytes, etag)) => {
                let index = VersionsIndex::parse(&bytes).map_err(|err| {
                    Error::Remote(format!("S3: {key} {err}; move it away or fix it"))
                })?;
                Ok((index, etag.map(Some)))
            }
            None => Ok((VersionsIndex::default(), Some(None))),
        }
    }

    /// True when the index now records `entry`'s manifest. A store that honors conditions
    /// wrote exactly what was read plus the entry; on any other store the index is read back,
    /// so a concurrent publish that overwrote it is noticed and the entry recorded again.
    async fn confirmed(&self, entry: &VersionEntry) -> Result<bool> {
        if self
            .bucket
            .capabilities()
            .is_some_and(|c| c.honors_conditions)
        {
            return Ok(true);
        }
        Ok(self
            .read_index()
            .await?
            .find(&entry.tag)
            .is_some_and(|found| found.manifest_sha256 == entry.manifest_sha256))
    }

    /// Records this version in `versions.json` with a conditional write, re-reading and
    /// recording again whenever another publish changed the index in between, so no entry is
    /// ever lost. `latest/` is brought in line with each index read before writing it, so of
    /// two concurrent publishes the newer version ends up in `latest/` whoever writes last.
    async fn record_version(&mut self, entry: VersionEntry) -> Result<Finalized> {
        let key = self.bucket.top_key(VERSIONS_FILE);
        let mut assets = Vec::new();
        for _ in 0..INDEX_ATTEMPTS {
            let (mut index, condition) = self.read_index_tagged().await?;
            assets.extend(self.move_latest(&entry, &index).await?);
            if !index.record(entry.clone()) {
                self.index = index;
                return Ok(Finalized {
                    changed: !assets.is_empty(),
                    assets,
                });
            }
            let condition = condition.as_ref().map(|etag| etag.as_deref());
            let written = self
                .bucket
                .put_small_if(&key, index.to_json(), "application/json", condition)
                .await?;
            if written == Conditional::Written && self.confirmed(&entry).await? {
                assets.push(AssetReport {
                    name: key,
                    action: ActionKind::Upload,
                    bytes: 0,
                    seconds: 0.0,
                });
                self.index = index;
                return Ok(Finalized {
                    changed: true,
                    assets,
                });
            }
            tracing::info!(
                "{key} changed since it was read (another publish?): recording {} again",
                entry.tag
            );
        }
        Err(Error::Remote(format!(
            "S3: {key} changed {INDEX_ATTEMPTS} times while {} was being recorded in it: is another publish running? Run again to record it",
            entry.tag
        )))
    }

    /// `latest/` follows the newest version only. Files it lacks or holds with other bytes are
    /// copied server-side from the verified version, manifest last. Every key is replaced in
    /// one step (a copy), so no key is ever missing; during the switch a direct reader of
    /// `latest/` may find the previous manifest beside files that are already the new
    /// version's (their sha256 then differs from what that manifest lists). Readers that go
    /// through dbrelease never read `latest/`: they resolve the latest version from
    /// `versions.json` (one object, written in one PUT) and read its immutable `{tag}/` keys.
    /// Files the new version does not have are removed after its manifest is in place.
    async fn move_latest(
        &self,
        entry: &VersionEntry,
        index: &VersionsIndex,
    ) -> Result<Vec<AssetReport>> {
        let mut reports = Vec::new();
        // Mirroring or repairing an older tag later must not move `latest/` back.
        if !self.bucket.options.latest || !index.would_be_newest(entry) {
            return Ok(reports);
        }
        let mut stale = Vec::new();
        for file in self.local {
            let key = self.bucket.key(LATEST, &file.name);
            let holds = match self.bucket.head(&key).await? {
                Some(reported) => {
                    let path = self.out_dir.join(&file.name);
                    self.bucket.holds(&key, &reported, file, &path).await?
                }
                None => false,
            };
            if !holds {
                stale.push(file);
            }
        }
        if stale.iter().any(|file| file.name != MANIFEST_FILE)
            && let Some(manifest) = self.local.iter().find(|f| f.name == MANIFEST_FILE)
            && !stale.iter().any(|f| f.name == MANIFEST_FILE)
        {
            stale.push(manifest);
        }
        // The manifest is switched last: until then it describes the version being replaced.
        stale.sort_by_key(|file| file.name == MANIFEST_FILE);
        let report = |name: String, action: ActionKind| AssetReport {
            name,
            action,
            bytes: 0,
            seconds: 0.0,
        };
        for file in stale {
            let to = self.bucket.key(LATEST, &file.name);
            self.bucket
                .copy(&self.bucket.key(&self.tag, &file.name), &to, file, SHORT)
                .await?;
            reports.push(report(to, ActionKind::Copy));
        }
        for name in self.bucket.list(LATEST).await? {
            if !self.local.iter().any(|file| file.name == name) {
                let key = self.bucket.key(LATEST, &name);
                self.bucket.delete(&key).await?;
                reports.push(report(key, ActionKind::Delete));
            }
        }
        Ok(reports)
    }
}

impl S3Target<'_> {
    /// The newest other version in `versions.json` with the files of this release it holds
    /// under the same name with the same bytes (by its manifest; present by HEAD), of those
    /// not yet in `held`. A daily version of a partitioned table then copies its unchanged
    /// partitions server-side instead of uploading them; each copy is verified as an upload is.
    async fn copy_source(&self, held: &[RemoteAsset]) -> Result<Option<CopySource>> {
        let Some(previous) = self.index.newest_other_than(&self.tag) else {
            return Ok(None);
        };
        let key = self.bucket.key(&previous.tag, MANIFEST_FILE);
        let Some(manifest) = self
            .bucket
            .get(&key)
            .await?
            .and_then(|bytes| super::readable_manifest(&self.bucket.url(&key), &bytes))
        else {
            return Ok(None);
        };
        let mut files = Vec::new();
        for file in self.local.iter().filter(|file| !file.metadata) {
            if held.iter().any(|asset| asset.name == file.name) {
                continue;
            }
            // Only a file the previous manifest lists with our bytes is worth a HEAD; the plan
            // compares again with what the HEAD found.
            let Some(listed) = manifest.artifacts.iter().find(|artifact| {
                artifact.name == file.name
                    && artifact.sha256 == file.sha256
                    && artifact.bytes == file.bytes
            }) else {
                continue;
            };
            let from = self.bucket.key(&previous.tag, &file.name);
            if let Some(reported) = self.bucket.head(&from).await? {
                files.push(RemoteAsset {
                    id: 0,
                    name: file.name.clone(),
                    bytes: reported.bytes,
                    state: dbrelease_remote::github::UPLOADED.into(),
                    sha256: Some(listed.sha256.clone()),
                });
            }
        }
        Ok(Some(CopySource {
            tag: previous.tag.clone(),
            files,
        }))
    }
}

impl Target for S3Target<'_> {
    fn kind(&self) -> TargetKind {
        TargetKind::S3
    }

    fn describe(&self) -> String {
        format!(
            "s3://{}/{}",
            self.bucket.options.bucket,
            self.bucket.key(&self.tag, "")
        )
    }

    fn locate(&self, name: &str) -> String {
        self.bucket.key(&self.tag, name)
    }

    async fn inventory(&mut self) -> Result<Inventory> {
        let mut assets = Vec::new();
        for file in self.local {
            let key = self.bucket.key(&self.tag, &file.name);
            if let Some(reported) = self.bucket.head(&key).await? {
                // The plan compares sha256s: an object that holds our bytes (whatever form the
                // store's checksum takes, or read back) reports ours, any other one what the
                // store says — never None, which the plan would take on the manifest's word.
                let path = self.out_dir.join(&file.name);
                let sha256 = if self.bucket.holds(&key, &reported, file, &path).await? {
                    file.sha256.clone()
                } else {
                    reported
                        .checksum
                        .clone()
                        .unwrap_or_else(|| "of other bytes (read back)".into())
                };
                let sha256 = Some(sha256);
                assets.push(RemoteAsset {
                    id: 0,
                    name: file.name.clone(),
                    bytes: reported.bytes,
                    state: dbrelease_remote::github::UPLOADED.into(),
                    sha256,
                });
            }
        }
        self.index = self.read_index().await?;
        // Files still to put that the previous version holds byte for byte are copied.
        let copy_source = if assets.len() < self.local.len() {
            self.copy_source(&assets).await?
        } else {
            None
        };
        let published = match assets.iter().any(|a| a.name == MANIFEST_FILE) {
            true => {
                let key = self.bucket.key(&self.tag, MANIFEST_FILE);
                self.bucket
                    .get(&key)
                    .await?
                    .and_then(|bytes| super::readable_manifest(&self.bucket.url(&key), &bytes))
            }
            false => None,
        };
        Ok(Inventory {
            assets,
            published,
            copy_source,
        })
    }

    fn pending(&self) -> bool {
        // versions.json must list this tag; it is written last, so a run that stopped before it
        // owes it.
        self.index.find(&self.tag).is_none()
    }

    fn notes(&self) -> Vec<String> {
        let Some(capabilities) = self.bucket.capabilities() else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        if !capabilities.verifies_checksums {
            notes.push(
                "this store does not check x-amz-checksum-sha256: every object was verified by reading it back"
                    .to_string(),
            );
        }
        if !capabilities.honors_conditions {
            notes.push(
                "this store ignores If-None-Match: versions.json was re-read after writing to confirm this version is recorded"
                    .to_string(),
            );
        }
        notes
    }

    fn conflict_message(&self, conflicts: &[Conflict]) -> String {
        let mut text = format!(
            "S3 already holds objects under {} that differ from this build:",
            self.bucket.key(&self.tag, "")
        );
        for conflict in conflicts {
            text.push_str(&format!("\n  {}", conflict.describe("stored")));
        }
        text.push_str("\nPass --replace to overwrite them, or publish under a new tag.");
        text
    }

    async fn prepare(&mut self, plan: &AssetPlan) -> Result<()> {
        for file in self.local {
            self.bucket.check_part_count(file)?;
        }
        // Before the first write, learn what the store enforces (nothing is written otherwise).
        if !plan.is_noop() || self.pending() {
            self.bucket.probe().await?;
        }
        Ok(())
    }

    async fn remove(&self, asset: &RemoteAsset) -> Result<()> {
        // S3 writes are atomic and leave no leftovers; what is removed is the manifest, before
        // the files it lists are replaced.
        self.bucket
            .delete(&self.bucket.key(&self.tag, &asset.name))
            .await
    }

    fn replaces_in_place(&self) -> bool {
        true
    }

    async fn put(&self, file: &LocalFile, path: &Path, put: Put) -> Result<Option<Staged>> {
        let key = self.bucket.key(&self.tag, &file.name);
        // A PUT replaces an object atomically (readers see the old or the new bytes), so a
        // replacement needs no staging; a new key is written create-only.
        let create_only = put == Put::Create;
        // Immutable caching only for a version that will never change.
        let cache = if self.rolling { SHORT } else { IMMUTABLE };
        self.bucket
            .put_file(&key, path, file, create_only, cache)
            .await?;
        Ok(None)
    }

    async fn copy(&self, file: &LocalFile, from: &str) -> Result<()> {
        let cache = if self.rolling { SHORT } else { IMMUTABLE };
        self.bucket
            .copy(
                &self.bucket.key(from, &file.name),
                &self.bucket.key(&self.tag, &file.name),
                file,
                cache,
            )
            .await
    }

    async fn swap(&self, _staged: &Staged) -> Result<()> {
        Ok(())
    }

    async fn verify(&self, files: &[&LocalFile]) -> Result<()> {
        self.bucket.verify(&self.tag, files, self.out_dir).await
    }

    async fn finalize(&mut self) -> Result<Finalized> {
        // The manifest on S3 is the one that counts (an up-to-date run keeps the published one).
        let manifest_key = self.bucket.key(&self.tag, MANIFEST_FILE);
        let published_manifest = self.bucket.get(&manifest_key).await?.unwrap_or_default();
        let entry = VersionEntry {
            tag: self.tag.clone(),
            created_at: Manifest::parse(&published_manifest)
                .map(|m| m.created_at)
                .unwrap_or_else(|_| self.manifest.created_at.clone()),
            manifest_sha256: hex::encode(Sha256::digest(&published_manifest)),
            manifest_url: self.bucket.url(&manifest_key),
            base_url: self.bucket.url(&self.bucket.key(&self.tag, "")),
            prerelease: self.prerelease || self.rolling,
            // What `fetch --as-of` reads; kept from the first record when the tag is listed.
            published_at: Some(crate::env::now_rfc3339()?),
        };
        self.record_version(entry).await
    }

    fn location(&self) -> Option<String> {
        Some(self.bucket.url(&self.bucket.key(&self.tag, "")))
    }

    fn manifest_url(&self) -> String {
        self.bucket.url(&self.bucket.key(&self.tag, MANIFEST_FILE))
    }

    fn is_draft(&self) -> bool {
        false
    }
}
