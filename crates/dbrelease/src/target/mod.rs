//! Where a release goes. GitHub and S3 each implement the small [`Target`] interface; one
//! function, [`deliver`], runs any release against any target in the one order that keeps it
//! readable at every moment (GoReleaser's `internal/client` is the model):
//!
//! inventory → plan → (dry run stops here) → prepare → leftovers → artifacts → swaps → verify →
//! metadata, `manifest.json` last → verify → finalize (publish the draft / move `latest/` and
//! `versions.json`).

pub mod github;
pub mod s3;

use std::path::Path;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use tracing::info;

use crate::compare::Comparison;
use crate::error::{Error, Result};
use crate::options::{Mode, OnConflict};
use crate::plan::{self, AssetAction, AssetPlan, Conflict, LocalFile, RemoteAsset};
use dbrelease_manifest::{MANIFEST_FILE, Manifest};

/// Uploads in flight at once: enough to hide latency, few enough for GitHub's
/// content-creation limits.
const UPLOADS_IN_FLIGHT: usize = 3;

/// What a target holds for the release being delivered.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Every file of the release the target holds, complete or not.
    pub assets: Vec<RemoteAsset>,
    /// The manifest the target already publishes for this release, when readable.
    pub published: Option<Manifest>,
    /// Another version whose identical files can be copied on the target instead of uploaded
    /// (S3's server-side copy; GitHub has none).
    pub copy_source: Option<plan::CopySource>,
}

/// How a file is put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The name is free; a target that can refuses to overwrite (S3 `If-None-Match: *`).
    Create,
    /// The name holds other bytes (`--replace`): `old_id` is the asset being replaced.
    Replace {
        /// The target's id of the old file.
        old_id: u64,
    },
}

/// New bytes uploaded beside the file they replace, waiting to take its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The name the new bytes take.
    pub name: String,
    /// The target's id of the new bytes.
    pub new_id: u64,
    /// The target's id of the old file.
    pub old_id: u64,
}

/// What finalizing changed.
#[derive(Debug, Default)]
pub struct Finalized {
    /// Extra writes (`latest/` copies, `versions.json`), for the report.
    pub assets: Vec<AssetReport>,
    /// True when finalizing changed anything (published a draft, updated the index).
    pub changed: bool,
}

/// One place a release can be published. Implementations talk to one remote each; every
/// decision about order lives in [`deliver`] and [`execute`].
// The futures are awaited in place, never spawned, so they need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// Which target, for reports: `github` or `s3`.
    fn kind(&self) -> TargetKind;
    /// `owner/name` or `s3://bucket/prefix`, for messages.
    fn describe(&self) -> String;
    /// What a user reading the report should call file `name` (asset name, S3 key).
    fn locate(&self, name: &str) -> String;
    /// What the target holds for the release now (read-only).
    async fn inventory(&mut self) -> Result<Inventory>;
    /// True when the target has work beyond the plan (GitHub: a release to create or a draft
    /// to publish), so a no-op plan is not yet "up to date".
    fn pending(&self) -> bool;
    /// Notes for the report (e.g. "planned without a token").
    fn notes(&self) -> Vec<String>;
    /// The message for files that differ, refused without `--replace`.
    fn conflict_message(&self, conflicts: &[Conflict]) -> String;
    /// Called once before the first write, also when nothing is to be uploaded: refuse what the
    /// target cannot change (an immutable release), clean up duplicates, create the draft.
    async fn prepare(&mut self, plan: &AssetPlan) -> Result<()>;
    /// Deletes an incomplete asset or a temporary name left by an earlier run, or the published
    /// manifest before its files are replaced.
    async fn remove(&self, asset: &RemoteAsset) -> Result<()>;
    /// True when a replacing put changes the file under its name at once (S3); false when it
    /// is staged and swapped in later (GitHub).
    fn replaces_in_place(&self) -> bool {
        false
    }
    /// Puts `file` (its bytes at `path`). Returns a [`Staged`] replacement when the target
    /// cannot replace in one step (GitHub); None when the file is in place.
    async fn put(&self, file: &LocalFile, path: &Path, put: Put) -> Result<Option<Staged>>;
    /// Puts `file` by copying the same bytes from version `from` on the target itself. Only
    /// planned when the inventory names a copy source.
    async fn copy(&self, file: &LocalFile, from: &str) -> Result<()> {
        let _ = (file, from);
        Err(Error::Other(anyhow::anyhow!(
            "{} cannot copy files between releases",
            self.describe()
        )))
    }
    /// Gives staged bytes their name.
    async fn swap(&self, staged: &Staged) -> Result<()>;
    /// Fails unless every one of `files` is on the target, complete, with our size and digest.
    async fn verify(&self, files: &[&LocalFile]) -> Result<()>;
    /// The last step: publish the release, move aliases, update indexes.
    async fn finalize(&mut self) -> Result<Finalized>;
    /// The web page or folder of the release, once known.
    fn location(&self) -> Option<String>;
    /// URL of the release's manifest.json.
    fn manifest_url(&self) -> String;
    /// True when the release is (still) a draft.
    fn is_draft(&self) -> bool;
}

/// Which kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// GitHub Releases.
    Github,
    /// An S3 bucket.
    S3,
}

/// What was done (or, in a dry run, would be done) with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Already there with the same bytes.
    Skip,
    /// Uploaded under a free name.
    Upload,
    /// Other bytes replaced (`--replace`).
    Replace,
    /// An incomplete upload or temporary name of an earlier run deleted.
    DeleteLeftover,
    /// Copied server-side (S3): an unchanged file from the previous version, or a file to
    /// the `latest/` alias.
    Copy,
    /// Removed from the `latest/` alias: the new newest version does not have it (S3).
    Delete,
}

impl ActionKind {
    /// The planned action's kind.
    pub fn of(action: &AssetAction) -> Self {
        match action {
            AssetAction::Skip { .. } => ActionKind::Skip,
            AssetAction::Upload { .. } => ActionKind::Upload,
            AssetAction::Copy { .. } => ActionKind::Copy,
            AssetAction::Replace { .. } => ActionKind::Replace,
            AssetAction::DeleteLeftover { .. } => ActionKind::DeleteLeftover,
        }
    }

    /// The word in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Skip => "skip",
            ActionKind::Upload => "upload",
            ActionKind::Replace => "replace",
            ActionKind::DeleteLeftover => "delete_leftover",
            ActionKind::Copy => "copy",
            ActionKind::Delete => "delete",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct AssetReport {
    /// Asset name or S3 key.
    pub name: String,
    /// What was done.
    pub action: ActionKind,
    /// Bytes sent.
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// The result of delivering a release to one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Which target.
    pub kind: TargetKind,
    /// `owner/name` or `s3://bucket/prefix`.
    pub target: String,
    /// Tag.
    pub tag: String,
    /// Release page or versioned folder, once known.
    pub release_url: Option<String>,
    /// URL of the release's manifest.json.
    pub manifest_url: String,
    /// True when the release was left (or is) a draft.
    pub draft: bool,
    /// True when nothing had to change.
    pub up_to_date: bool,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Per file, in release order.
    pub assets: Vec<AssetReport>,
    /// Files (not) sent because the target copied them from another version, and their bytes.
    pub copied: Copied,
    /// Notes for the user.
    pub notes: Vec<String>,
}

/// The files a plan copies on the target from another version instead of uploading them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Copied {
    /// The version copied from.
    pub from: Option<String>,
    /// How many files.
    pub files: u64,
    /// Their bytes (not sent).
    pub bytes: u64,
}

impl Copied {
    fn of(plan: &AssetPlan) -> Self {
        let mut copied = Copied::default();
        for action in &plan.actions {
            if let AssetAction::Copy { bytes, from, .. } = action {
                copied.from = Some(from.clone());
                copied.files += 1;
                copied.bytes += bytes;
            }
        }
        copied
    }
}

/// What to deliver and how.
pub struct Delivery<'a> {
    /// The tag.
    pub tag: &'a str,
    /// The files, in release order (artifacts, then metadata, manifest last).
    pub local: &'a [LocalFile],
    /// Where their bytes are.
    pub out_dir: &'a Path,
    /// Plan only, or change the target.
    pub mode: Mode,
    /// What to do with published files that differ.
    pub on_conflict: OnConflict,
}

/// Delivers a release to one target: inventory, plan, and (unless a dry run) execute and
/// finalize. Nothing is written before every refusal has been decided.
pub async fn deliver<T: Target>(target: &mut T, delivery: &Delivery<'_>) -> Result<TargetReport> {
    // What is there decides what to do; the plan is a pure function of it.
    let inventory = target.inventory().await?;
    let plan = plan::plan_assets(
        delivery.local,
        &inventory.assets,
        inventory.published.as_ref(),
        inventory.copy_source.as_ref(),
        delivery.on_conflict == OnConflict::Replace,
    );
    let mut report = TargetReport {
        kind: target.kind(),
        target: target.describe(),
        tag: delivery.tag.to_string(),
        release_url: target.location(),
        manifest_url: target.manifest_url(),
        draft: target.is_draft(),
        up_to_date: plan.is_noop() && !target.pending(),
        dry_run: delivery.mode == Mode::DryRun,
        assets: planned(target, &plan),
        copied: Copied::of(&plan),
        notes: target.notes(),
    };
    // A dry run shows the plan (and what would be refused) and stops.
    if delivery.mode == Mode::DryRun {
        if !plan.conflicts.is_empty() {
            report.notes.push(target.conflict_message(&plan.conflicts));
        }
        return Ok(report);
    }
    // Differences are refused before anything is written.
    if !plan.conflicts.is_empty() {
        return Err(Error::Refused(target.conflict_message(&plan.conflicts)));
    }
    // The target's own refusals and set-up (immutable release, duplicate drafts, the draft).
    target.prepare(&plan).await?;
    // What preparing learned (an S3 store's capabilities) is said in the report.
    report.notes = target.notes();
    if report.up_to_date {
        return Ok(report);
    }
    // The files, in the one safe order.
    let mut assets = execute(target, &plan, delivery.local, delivery.out_dir).await?;
    // Publish, alias, index: readers see the release only now.
    let finalized = target.finalize().await?;
    assets.extend(finalized.assets);
    report.up_to_date = plan.is_noop() && !finalized.changed;
    report.assets = assets;
    report.release_url = target.location();
    report.draft = target.is_draft();
    Ok(report)
}

fn planned<T: Target>(target: &T, plan: &AssetPlan) -> Vec<AssetReport> {
    plan.actions
        .iter()
        .map(|action| AssetReport {
            name: target.locate(action.name()),
            action: ActionKind::of(action),
            bytes: action.upload_bytes(),
            seconds: 0.0,
        })
        .collect()
}

/// Runs `plan` against `target`: leftovers, then the artifacts (a few at a time) with their
/// replacements swapped in one after the other, verify, then the metadata files one by one in
/// plan order (`manifest.json` last), verify again. A reader never sees a manifest whose files
/// are not all in place.
pub async fn execute<T: Target>(
    target: &T,
    plan: &AssetPlan,
    local: &[LocalFile],
    out_dir: &Path,
) -> Result<Vec<AssetReport>> {
    let mut reports = Vec::new();
    let is_metadata = |name: &str| local.iter().any(|f| f.name == name && f.metadata);
    let mut data = Vec::new();
    let mut metadata = Vec::new();
    for action in &plan.actions {
        match action {
            AssetAction::DeleteLeftover { name, id, state } => {
                let started = Instant::now();
                let leftover = RemoteAsset {
                    id: *id,
                    name: name.clone(),
                    bytes: 0,
                    state: state.clone(),
                    sha256: None,
                };
                target.remove(&leftover).await?;
                reports.push(report(target, action, started));
            }
            action if is_metadata(action.name()) => metadata.push(action),
            action => data.push(action),
        }
    }
    // Published files about to change under their names: the old manifest goes first, right
    // before the first of them changes, so no reader ever finds a manifest that lists bytes
    // being replaced (the new one comes back last).
    let replaced = data
        .iter()
        .any(|action| matches!(action, AssetAction::Replace { .. }));
    let withdraw = replaced.then(|| old_manifest(plan)).flatten();
    if let Some(manifest) = &withdraw
        && target.replaces_in_place()
    {
        target.remove(manifest).await?;
    }
    // Artifacts concurrently; replacements wait under their temporary names.
    let results: Vec<Result<(AssetReport, Option<Staged>)>> = futures::stream::iter(data)
        .map(|action| put(target, local, out_dir, action))
        .buffer_unordered(UPLOADS_IN_FLIGHT)
        .collect()
        .await;
    let mut staged = Vec::new();
    for result in results {
        let (report, swap) = result?;
        reports.push(report);
        staged.extend(swap);
    }
    if let Some(manifest) = &withdraw
        && !target.replaces_in_place()
    {
        target.remove(manifest).await?;
    }
    // Swapped only after every new file is uploaded and verified, one right after the other,
    // so each name is missing only between two consecutive requests.
    staged.sort_by_key(|swap| local.iter().position(|f| f.name == swap.name));
    for swap in &staged {
        target.swap(swap).await?;
    }
    let data_files: Vec<&LocalFile> = local.iter().filter(|f| !f.metadata).collect();
    target.verify(&data_files).await?;
    for action in metadata {
        let (report, swap) = put(target, local, out_dir, action).await?;
        if let Some(swap) = swap {
            target.swap(&swap).await?;
        }
        reports.push(report);
    }
    let all_files: Vec<&LocalFile> = local.iter().collect();
    target.verify(&all_files).await?;
    reports.sort_by_key(|r| {
        local
            .iter()
            .position(|f| target.locate(&f.name) == r.name)
            .unwrap_or(usize::MAX)
    });
    Ok(reports)
}

/// The published manifest the plan replaces, as an asset to remove.
fn old_manifest(plan: &AssetPlan) -> Option<RemoteAsset> {
    plan.actions.iter().find_map(|action| match action {
        AssetAction::Replace { name, old_id, .. } if name == MANIFEST_FILE => Some(RemoteAsset {
            id: *old_id,
            name: name.clone(),
            bytes: 0,
            state: dbrelease_remote::github::UPLOADED.into(),
            sha256: None,
        }),
        _ => None,
    })
}

async fn put<T: Target>(
    target: &T,
    local: &[LocalFile],
    out_dir: &Path,
    action: &AssetAction,
) -> Result<(AssetReport, Option<Staged>)> {
    let started = Instant::now();
    let file = local
        .iter()
        .find(|f| f.name == action.name())
        .expect("every planned file is a local file");
    let path = out_dir.join(&file.name);
    let staged = match action {
        AssetAction::Skip { .. } | AssetAction::DeleteLeftover { .. } => None,
        AssetAction::Upload { .. } => target.put(file, &path, Put::Create).await?,
        AssetAction::Copy { from, .. } => {
            target.copy(file, from).await?;
            None
        }
        AssetAction::Replace { old_id, .. } => {
            target
                .put(file, &path, Put::Replace { old_id: *old_id })
                .await?
        }
    };
    let report = report(target, action, started);
    info!(file = %report.name, action = %report.action, bytes = report.bytes, seconds = format_args!("{:.2}", report.seconds), "done");
    Ok((report, staged))
}

fn report<T: Target>(target: &T, action: &AssetAction, started: Instant) -> AssetReport {
    AssetReport {
        name: target.locate(action.name()),
        action: ActionKind::of(action),
        bytes: action.upload_bytes(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The result of a publish: the comparison with the previous release and each target's report.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The tag.
    pub tag: String,
    /// The data against the previous release: row deltas, regressions allowed by flag.
    pub comparison: Comparison,
    /// GitHub, when `--github`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<TargetReport>,
    /// S3, when `--s3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<TargetReport>,
    /// `--tag auto` found the data byte-identical to this version's: nothing was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<String>,
}

/// A published manifest, or None with a warning when this dbrelease cannot read it (the one
/// rule for the publishing side; readers refuse instead, see `Manifest::parse`).
pub fn readable_manifest(origin: &str, bytes: &[u8]) -> Option<Manifest> {
    match Manifest::parse(bytes) {
        Ok(manifest) => Some(manifest),
        Err(err) => {
            tracing::warn!("ignoring the manifest at {origin}: it {err}");
            None
        }
    }
}

#[cfg(test)]
mod tests;
