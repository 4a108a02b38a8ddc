//! GitHub Releases as a [`Target`]: a draft is created (or an existing one adopted), assets are
//! uploaded to it, verified by GitHub's own digests, and the draft is published last — the only
//! order immutable releases allow.

use std::path::Path;

use dbrelease_manifest::{MANIFEST_FILE, Manifest};
use dbrelease_remote::github::{Asset, GitHub, GitHubError, Release};
use tracing::info;

use super::{Finalized, Inventory, Put, Staged, Target, TargetKind};
use crate::error::{Error, Result};
use crate::notes;
use crate::plan::{AssetPlan, Conflict, LocalFile, RemoteAsset, TEMP_PREFIX};

/// Largest asset GitHub accepts.
pub const MAX_ASSET_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Most assets one release holds.
pub const MAX_ASSETS: usize = 1000;

/// What a new release is made of (only used when the release does not exist yet).
#[derive(Debug, Clone)]
pub struct NewRelease {
    /// Title (default: the tag).
    pub title: String,
    /// Notes: the user's, then the data section.
    pub notes: String,
    /// The data section alone, appended once to the notes of a draft made by someone else.
    pub data_notes: String,
    /// Mark as a pre-release.
    pub prerelease: bool,
    /// Leave the release a draft.
    pub keep_draft: bool,
    /// The commit a tag that does not exist yet is created at (`GITHUB_SHA`).
    pub target_commitish: Option<String>,
    /// May become GitHub's "latest" (false for a rolling tag such as nightly, or a pre-release).
    pub make_latest: bool,
}

/// One tag's release on one repository.
pub struct GitHubTarget {
    client: GitHub,
    tag: String,
    download_base: String,
    new: NewRelease,
    release: Option<Release>,
    duplicates: Vec<Release>,
}

impl GitHubTarget {
    /// The release of `tag`; `download_base` is where its files are downloaded from.
    pub fn new(client: GitHub, tag: &str, download_base: String, new: NewRelease) -> Self {
        GitHubTarget {
            client,
            tag: tag.to_string(),
            download_base,
            new,
            release: None,
            duplicates: Vec::new(),
        }
    }

    /// Creates the draft. When the answer is lost, GitHub may have made it: the release is
    /// re-read and an existing draft adopted, so a lost answer never leaves a second draft.
    async fn create_or_adopt_draft(&self) -> Result<Release> {
        const ATTEMPTS: usize = 4;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let created = self
                .client
                .create_draft(
                    &self.tag,
                    &self.new.title,
                    &self.new.notes,
                    self.new.prerelease,
                    self.new.target_commitish.as_deref(),
                    self.new.make_latest,
                )
                .await;
            match created {
                Ok(release) => return Ok(release),
                Err(err @ GitHubError::Unknown { .. }) => {
                    if let Some(release) = self
                        .client
                        .releases_for_tag(&self.tag)
                        .await?
                        .into_iter()
                        .next()
                    {
                        info!(
                            id = release.id,
                            "the draft was created although its answer was lost; using it"
                        );
                        return Ok(release);
                    }
                    last = Some(err);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(last.expect("at least one attempt").into())
    }
}

impl Target for GitHubTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Github
    }

    fn describe(&self) -> String {
        self.client.repo().to_string()
    }

    fn locate(&self, name: &str) -> String {
        name.to_string()
    }

    async fn inventory(&mut self) -> Result<Inventory> {
        if !self.client.has_token() {
            return Ok(Inventory::default());
        }
        let mut releases = self.client.releases_for_tag(&self.tag).await?;
        // A published release wins; otherwise the oldest draft. Any other draft of the tag is
        // a duplicate left by an earlier failed run.
        let position = releases
            .iter()
            .position(|r| !r.draft)
            .or(if releases.is_empty() { None } else { Some(0) });
        self.release = position.map(|index| releases.remove(index));
        self.duplicates = releases.into_iter().filter(|r| r.draft).collect();
        let Some(release) = &self.release else {
            return Ok(Inventory::default());
        };
        let assets = self.client.list_assets(release.id).await?;
        let published = published_manifest(&self.client, &assets).await?;
        Ok(Inventory {
            assets: assets.iter().map(to_remote).collect(),
            published,
            // GitHub cannot copy an asset from one release to another.
            copy_source: None,
        })
    }

    fn pending(&self) -> bool {
        match &self.release {
            None => true,
            Some(release) => release.draft && !self.new.keep_draft,
        }
    }

    fn notes(&self) -> Vec<String> {
        if self.client.has_token() {
            Vec::new()
        } else {
            vec!["no GITHUB_TOKEN: planned against an empty release".to_string()]
        }
    }

    fn conflict_message(&self, conflicts: &[Conflict]) -> String {
        let mut text = format!(
            "the release on {} already has assets that differ from this build ({} differing):",
            self.client.repo(),
            conflicts.len()
        );
        for conflict in conflicts {
            text.push_str(&format!("\n  {}", conflict.describe("published")));
        }
        if self
            .release
            .as_ref()
            .is_some_and(|r| r.immutable && !r.draft)
        {
            text.push_str("\nThe release is immutable: publish the new data under a new tag.");
        } else {
            text.push_str("\nPass --replace to replace them, or publish under a new tag.");
        }
        text
    }

    async fn prepare(&mut self, plan: &AssetPlan) -> Result<()> {
        if let Some(release) = &self.release
            && !release.draft
            && release.immutable
            && !plan.is_noop()
        {
            return Err(Error::Refused(format!(
                "release {} is published and immutable: its assets can never change. Publish the new data under a new tag",
                self.tag
            )));
        }
        for duplicate in &self.duplicates {
            info!(
                id = duplicate.id,
                "deleting a duplicate draft of {}", self.tag
            );
            self.client.delete_release(duplicate.id).await?;
        }
        self.duplicates.clear();
        if self.release.is_none() {
            self.release = Some(self.create_or_adopt_draft().await?);
        }
        Ok(())
    }

    async fn remove(&self, asset: &RemoteAsset) -> Result<()> {
        Ok(self.client.delete_asset(asset.id).await?)
    }

    async fn put(&self, file: &LocalFile, path: &Path, put: Put) -> Result<Option<Staged>> {
        let release = self.release.as_ref().expect("prepare made the release");
        // A replacement goes up under a temporary name first: the old asset stays
        // downloadable until the swap.
        let name = match put {
            Put::Create => file.name.clone(),
            Put::Replace { .. } => format!("{TEMP_PREFIX}{}", file.name),
        };
        let asset = self
            .client
            .upload(
                release,
                &name,
                path,
                file.bytes,
                &file.sha256,
                &file.media_type,
            )
            .await?;
        check_asset(&asset, &name, file)?;
        Ok(match put {
            Put::Create => None,
            Put::Replace { old_id } => Some(Staged {
                name: file.name.clone(),
                new_id: asset.id,
                old_id,
            }),
        })
    }

    async fn swap(&self, staged: &Staged) -> Result<()> {
        // GitHub names are unique, so the old asset goes first. A lost response is reconciled:
        // a DELETE of an asset that is already gone counts as done, and a rename is checked by
        // re-reading the release.
        self.client.delete_asset(staged.old_id).await?;
        if let Err(err) = self.client.rename_asset(staged.new_id, &staged.name).await {
            let release = self.release.as_ref().expect("prepare made the release");
            let renamed = self
                .client
                .list_assets(release.id)
                .await?
                .iter()
                .any(|a| a.id == staged.new_id && a.name == staged.name);
            if !renamed {
                return Err(err.into());
            }
        }
        Ok(())
    }

    async fn verify(&self, files: &[&LocalFile]) -> Result<()> {
        let release = self.release.as_ref().expect("prepare made the release");
        let assets = self.client.list_assets(release.id).await?;
        let mut problems = Vec::new();
        for file in files {
            match assets.iter().find(|a| a.name == file.name) {
                None => problems.push(format!("{} is missing", file.name)),
                Some(asset) => {
                    if let Err(err) = check_asset(asset, &file.name, file) {
                        problems.push(err.to_string());
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Remote(format!(
                "verification of the release failed; the manifest was not published:\n  {}",
                problems.join("\n  ")
            )))
        }
    }

    async fn finalize(&mut self) -> Result<Finalized> {
        let release = self.release.as_ref().expect("prepare made the release");
        if !release.draft || self.new.keep_draft {
            return Ok(Finalized::default());
        }
        // A draft made by someone else (@semantic-release/github with draftRelease) keeps its
        // notes and gets the data section appended, once.
        let existing = release.body.clone().unwrap_or_default();
        let body = (!existing.contains(notes::DATA_SECTION_MARKER)).then(|| {
            if existing.trim().is_empty() {
                self.new.data_notes.clone()
            } else {
                format!("{}\n\n{}", existing.trim_end(), self.new.data_notes)
            }
        });
        let id = release.id;
        let published = match self
            .client
            .publish(id, body.as_deref(), self.new.make_latest)
            .await
        {
            Ok(release) => release,
            // The PATCH may have been carried out with its answer lost: re-read before failing.
            Err(err) => match self
                .client
                .releases_for_tag(&self.tag)
                .await?
                .into_iter()
                .find(|r| r.id == id)
            {
                Some(release) if !release.draft => release,
                _ => return Err(err.into()),
            },
        };
        self.release = Some(published);
        Ok(Finalized {
            assets: Vec::new(),
            changed: true,
        })
    }

    fn location(&self) -> Option<String> {
        self.release.as_ref().map(|r| r.html_url.clone())
    }

    fn manifest_url(&self) -> String {
        format!("{}/{MANIFEST_FILE}", self.download_base)
    }

    fn is_draft(&self) -> bool {
        self.release.as_ref().is_none_or(|r| r.draft)
    }
}

fn to_remote(asset: &Asset) -> RemoteAsset {
    RemoteAsset {
        id: asset.id,
        name: asset.name.clone(),
        bytes: asset.size,
        state: asset.state.clone(),
        sha256: asset.sha256(),
    }
}

/// The manifest among a release's assets. A download that keeps failing is an error (the
/// regression guard and the plan must not silently run without it); one this version cannot
/// read is reported and treated as absent.
pub async fn published_manifest(client: &GitHub, assets: &[Asset]) -> Result<Option<Manifest>> {
    Ok(published_manifest_bytes(client, assets)
        .await?
        .and_then(|(origin, bytes)| super::readable_manifest(&origin, &bytes)))
}

/// Where a release's manifest is and its bytes, if the release has a complete one.
pub async fn published_manifest_bytes(
    client: &GitHub,
    assets: &[Asset],
) -> Result<Option<(String, Vec<u8>)>> {
    let Some(asset) = assets
        .iter()
        .find(|a| a.name == MANIFEST_FILE && a.is_complete())
    else {
        return Ok(None);
    };
    let bytes = client.download_asset(asset.id).await?;
    Ok(Some((asset.browser_download_url.clone(), bytes)))
}

/// Complete, with our size and (when GitHub reports one) our digest, under `name`.
fn check_asset(asset: &Asset, name: &str, file: &LocalFile) -> Result<()> {
    let digest_ok = asset.sha256().is_none_or(|sha| sha == file.sha256);
    if asset.name != name || !asset.is_complete() || asset.size != file.bytes || !digest_ok {
        return Err(Error::Remote(format!(
            "GitHub stored {} as {} bytes (state {}, digest {}), expected {} bytes sha256 {}; nothing was published",
            asset.name,
            asset.size,
            asset.state,
            asset.digest.as_deref().unwrap_or("none"),
            file.bytes,
            file.sha256
        )));
    }
    Ok(())
}

impl From<GitHubError> for Error {
    fn from(err: GitHubError) -> Self {
        Error::Remote(err.to_string())
    }
}
