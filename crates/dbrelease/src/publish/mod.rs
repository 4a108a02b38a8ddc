//! `dbrelease publish`: build, read the target's state, plan, then execute the plan
//! (artifacts first, metadata last, manifest.json very last), verify, publish.

pub mod github;
pub mod report;
pub mod republish;
pub mod s3;

pub use report::report_table;

use std::path::Path;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use tracing::info;

use crate::actions;
use crate::build;
use crate::cli::PublishArgs;
use crate::compare::{self, Comparison};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::plan::{self, AssetAction, AssetPlan, LocalFile, RemoteAsset, TEMP_PREFIX};
use crate::progress::Progress;
use github::{Asset, GitHub, GitHubError, Release, RetryPolicy, Token};

/// Uploads in flight at once: enough to hide latency, few enough for GitHub's
/// content-creation limits.
const UPLOAD_CONCURRENCY: usize = 3;

/// What happened to one asset.
#[derive(Debug, Clone, Serialize)]
pub struct AssetReport {
    /// Asset name.
    pub name: String,
    /// `skip`, `upload`, `replace` or `delete_leftover`.
    pub action: String,
    /// Bytes sent.
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// The result of a publish, per target.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The tag.
    pub tag: String,
    /// The data against the previous release: row deltas, regressions allowed by flag.
    pub comparison: Comparison,
    /// GitHub, when `--github`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubReport>,
    /// S3, when `--s3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<s3::S3Report>,
}

/// The result of the GitHub step.
#[derive(Debug, Clone, Serialize)]
pub struct GithubReport {
    /// Tag.
    pub tag: String,
    /// Repository.
    pub repo: String,
    /// Release page, when a release exists.
    pub release_url: Option<String>,
    /// Download URL of the release's manifest.json.
    pub manifest_url: String,
    /// True when the release was left (or is) a draft.
    pub draft: bool,
    /// True when nothing had to change.
    pub up_to_date: bool,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Per-asset actions.
    pub assets: Vec<AssetReport>,
    /// Notes for the user (e.g. planned without a token).
    pub notes: Vec<String>,
}

impl From<GitHubError> for Error {
    fn from(err: GitHubError) -> Self {
        Error::Remote(err.to_string())
    }
}

/// Runs `dbrelease publish`.
pub fn run_publish(args: &PublishArgs, progress: &Progress) -> Result<PublishReport> {
    let tag = args.build.tag.clone().ok_or_else(|| {
        Error::Config("publish needs --tag TAG (e.g. the tag semantic-release just created)".into())
    })?;
    if !args.targets.github && !args.targets.s3 {
        return Err(Error::Config(
            "choose where to publish: --github (GitHub Releases) and/or --s3".into(),
        ));
    }
    let config = crate::config::load_build_config(&args.build)?;
    let Targets {
        repo,
        s3: s3_options,
    } = resolve_targets(&args.targets, config.github_repo.as_deref(), &config.s3)?;
    let repo = repo.filter(|_| args.targets.github);
    let notes = match &args.notes_file {
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            Error::Config(format!(
                "cannot read --notes-file {}: {err}",
                path.display()
            ))
        })?,
        None => String::new(),
    };

    // Refuse what GitHub cannot hold before spending time on a build.
    for extra in config.files.iter().filter(|_| args.targets.github) {
        let bytes = std::fs::metadata(&extra.path).map(|m| m.len()).unwrap_or(0);
        if bytes >= github::MAX_ASSET_BYTES {
            return Err(too_big(&extra.name, bytes));
        }
    }
    let outcome = {
        let _group = actions::group("dbrelease: build");
        build::run_build(&config, progress)?
    };
    for artifact in outcome
        .manifest
        .artifacts
        .iter()
        .filter(|_| args.targets.github)
    {
        if artifact.bytes >= github::MAX_ASSET_BYTES {
            return Err(too_big(&artifact.name, artifact.bytes));
        }
    }
    let local = plan::local_files(&outcome.manifest, &outcome.metadata);

    let runtime = crate::remote::runtime()?;
    let github_target = repo.as_deref().map(github_client);
    if let Some(client) = &github_target
        && !client.has_token()
        && !args.dry_run
    {
        return Err(Error::Config(
            "GITHUB_TOKEN (or GH_TOKEN) is not set: publishing needs a token with contents: write (use --dry-run to plan without one)".into(),
        ));
    }

    let bucket = s3_options
        .as_ref()
        .map(|options| runtime.block_on(s3::Bucket::connect(options)))
        .transpose()?;

    // The regression guard runs before anything is written anywhere.
    let comparison = {
        let _group = actions::group("dbrelease: compare with the previous release");
        let previous = runtime.block_on(previous_manifest(
            github_target.as_ref(),
            bucket.as_ref(),
            &tag,
        ))?;
        let mut comparison = compare::compare(previous.as_ref(), &outcome.manifest);
        comparison.looked_up =
            github_target.as_ref().is_none_or(|c| c.has_token()) || bucket.is_some();
        comparison
    };
    if !comparison.regressions.is_empty() {
        let text = format!(
            "compared with {}, the data of {tag} shrank:\n  {}",
            comparison
                .previous_tag
                .as_deref()
                .unwrap_or("the previous release"),
            comparison.regressions.join("\n  ")
        );
        if !args.allow_regression {
            return Err(Error::Refused(format!(
                "{text}\nNothing was published. Check the database (a failed restore or an interrupted load?); if the change is intended, pass --allow-regression"
            )));
        }
        tracing::warn!("{text} (allowed by --allow-regression)");
    }

    deliver(
        &runtime,
        Delivery {
            tag: &tag,
            manifest: &outcome.manifest,
            local: &local,
            out_dir: &outcome.out_dir,
            comparison,
            notes: &notes,
            github: repo.zip(github_target),
            s3: bucket.as_ref(),
        },
        args,
    )
}

/// What to publish where: shared by `publish` (a fresh build) and `republish` (the files of
/// the published manifest).
pub(crate) struct Delivery<'a> {
    pub tag: &'a str,
    pub manifest: &'a Manifest,
    pub local: &'a [LocalFile],
    pub out_dir: &'a Path,
    pub comparison: Comparison,
    /// The user's release notes (the data section is added here).
    pub notes: &'a str,
    pub github: Option<(String, GitHub)>,
    pub s3: Option<&'a s3::Bucket>,
}

/// Publishes `delivery` to its targets: GitHub first, then S3.
pub(crate) fn deliver(
    runtime: &tokio::runtime::Runtime,
    delivery: Delivery<'_>,
    args: &PublishArgs,
) -> Result<PublishReport> {
    let Delivery {
        tag,
        manifest,
        local,
        out_dir,
        comparison,
        notes,
        github,
        s3,
    } = delivery;
    let tag = tag.to_string();
    let github = match github {
        Some((repo, client)) => {
            let _group = actions::group("dbrelease: publish to GitHub");
            let server = std::env::var("GITHUB_SERVER_URL")
                .ok()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| "https://github.com".into());
            let download_base = format!(
                "{}/{repo}/releases/download/{}",
                server.trim_end_matches('/'),
                crate::remote::url_segment(&tag)
            );
            let data_notes = compare::data_section(manifest, &comparison, &download_base);
            let notes = if notes.trim().is_empty() {
                data_notes.clone()
            } else {
                format!("{}\n\n{data_notes}", notes.trim_end())
            };
            let title = args.title.clone().unwrap_or_else(|| tag.clone());
            Some(runtime.block_on(publish_github(PublishJob {
                client: &client,
                tag: &tag,
                title: &title,
                notes: &notes,
                data_notes: &data_notes,
                download_base: &download_base,
                local,
                out_dir,
                has_token: client.has_token(),
                args,
            }))?)
        }
        None => None,
    };
    let s3 = match s3 {
        Some(bucket) => Some(runtime.block_on(async {
            let _group = actions::group("dbrelease: publish to S3");
            s3::publish_s3(
                bucket,
                &tag,
                manifest,
                local,
                out_dir,
                args.replace,
                args.dry_run,
            )
            .await
        })?),
        None => None,
    };
    let report = PublishReport {
        tag,
        comparison,
        github,
        s3,
    };
    if !args.dry_run {
        report::actions_report(&report, manifest);
    }
    Ok(report)
}

/// The manifest of the newest published release other than `tag`: from GitHub when
/// publishing there (needs the token: without one a dry run plans against nothing), else
/// from the S3 versions index.
pub(crate) async fn previous_manifest(
    github: Option<&GitHub>,
    s3: Option<&s3::Bucket>,
    tag: &str,
) -> Result<Option<Manifest>> {
    if let Some(client) = github.filter(|c| c.has_token()) {
        let releases = client.all_releases().await?;
        for release in releases
            .iter()
            .filter(|r| !r.draft && !r.prerelease && r.tag_name != tag)
        {
            if let Some(manifest) = published_manifest(client, &release.assets).await? {
                return Ok(Some(manifest));
            }
        }
        return Ok(None);
    }
    if let Some(bucket) = s3 {
        return s3::previous_manifest(bucket, tag).await;
    }
    Ok(None)
}

fn too_big(name: &str, bytes: u64) -> Error {
    Error::Config(format!(
        "{name} is {bytes} bytes; GitHub release assets must be smaller than 2 GiB. Publish it to S3 instead, or leave it out"
    ))
}

/// The targets the flags select, completed from the config.
pub(crate) struct Targets {
    /// The repository: always with --github (or an error), otherwise when one is configured.
    pub repo: Option<String>,
    /// S3, with --s3.
    pub s3: Option<crate::config::S3Options>,
}

/// Resolves `--repo` (then `[github] repo`, then GITHUB_REPOSITORY) and the S3 options.
pub(crate) fn resolve_targets(
    targets: &crate::cli::TargetArgs,
    configured_repo: Option<&str>,
    configured_s3: &crate::config::S3Section,
) -> Result<Targets> {
    let repo = targets
        .repo
        .clone()
        .or_else(|| configured_repo.map(str::to_string))
        .or_else(|| {
            std::env::var("GITHUB_REPOSITORY")
                .ok()
                .filter(|r| !r.is_empty())
        });
    match &repo {
        Some(repo) => check_repo(repo)?,
        None if targets.github => {
            return Err(Error::Config(
                "no repository: pass --repo OWNER/NAME, set [github] repo in the config, or GITHUB_REPOSITORY".into(),
            ));
        }
        None => {}
    }
    let s3 = if targets.s3 {
        Some(configured_s3.resolve(targets.s3_bucket.as_deref(), targets.s3_prefix.as_deref())?)
    } else {
        None
    };
    Ok(Targets { repo, s3 })
}

/// Refuses anything but `OWNER/NAME`.
pub(crate) fn check_repo(repo: &str) -> Result<()> {
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(Error::Config(format!(
            "repository {repo:?} must look like OWNER/NAME"
        )));
    }
    Ok(())
}

/// A GitHub client for `repo`: API from GITHUB_API_URL (GitHub Enterprise, the test fake),
/// token from GITHUB_TOKEN or GH_TOKEN when set.
pub(crate) fn github_client(repo: &str) -> GitHub {
    let token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .map(Token::new);
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "https://api.github.com".into());
    GitHub::new(&api, repo, token, retry_policy_from_env())
}

/// Test hooks: `DBRELEASE_RETRY_MIN_MS` shortens the backoff and `DBRELEASE_READ_TIMEOUT_MS`
/// the stall timeout, so fault-injection tests run in seconds.
pub(crate) fn retry_policy_from_env() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(ms) = std::env::var("DBRELEASE_READ_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        policy.read_timeout = std::time::Duration::from_millis(ms);
    }
    if let Some(ms) = std::env::var("DBRELEASE_RETRY_MIN_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        policy.min_delay = std::time::Duration::from_millis(ms);
        policy.max_delay = std::time::Duration::from_millis(ms * 20);
    }
    policy
}

struct PublishJob<'a> {
    client: &'a GitHub,
    tag: &'a str,
    title: &'a str,
    /// Notes of a new release: the user's, then the data section.
    notes: &'a str,
    /// The data section alone, appended to the notes of an existing draft when publishing it.
    data_notes: &'a str,
    /// Where the release's files are downloaded from.
    download_base: &'a str,
    local: &'a [LocalFile],
    out_dir: &'a Path,
    has_token: bool,
    args: &'a PublishArgs,
}

async fn publish_github(job: PublishJob<'_>) -> Result<GithubReport> {
    let PublishJob {
        client,
        tag,
        local,
        args,
        ..
    } = job;
    let mut notes = Vec::new();
    let (target, duplicates) = if job.has_token {
        let mut releases = client.releases_for_tag(tag).await?;
        // A published release wins; otherwise the oldest draft. Any other draft of the tag is
        // a duplicate left by an earlier failed run.
        let position = releases
            .iter()
            .position(|r| !r.draft)
            .or(if releases.is_empty() { None } else { Some(0) });
        let target = position.map(|index| releases.remove(index));
        let duplicates: Vec<Release> = releases.into_iter().filter(|r| r.draft).collect();
        (target, duplicates)
    } else {
        notes.push("no GITHUB_TOKEN: planned against an empty release".to_string());
        (None, Vec::new())
    };

    let (remote, published) = match &target {
        Some(release) => {
            let assets = client.list_assets(release.id).await?;
            let published = published_manifest(client, &assets).await?;
            (assets, published)
        }
        None => (Vec::new(), None),
    };
    let remote_assets: Vec<RemoteAsset> = remote.iter().map(to_remote).collect();
    let plan = plan::plan_assets(local, &remote_assets, published.as_ref(), args.replace);

    let mut report = GithubReport {
        tag: tag.to_string(),
        repo: client.repo().to_string(),
        release_url: target.as_ref().map(|r| r.html_url.clone()),
        manifest_url: format!("{}/{MANIFEST_FILE}", job.download_base),
        draft: target.as_ref().is_none_or(|r| r.draft),
        up_to_date: plan.is_noop() && target.as_ref().is_some_and(|r| !r.draft || args.draft),
        dry_run: args.dry_run,
        assets: plan_reports(&plan),
        notes,
    };
    if args.dry_run {
        if !plan.conflicts.is_empty() {
            report
                .notes
                .push(conflict_message(&plan, target.as_ref(), client.repo()));
        }
        return Ok(report);
    }
    if !plan.conflicts.is_empty() {
        return Err(Error::Refused(conflict_message(
            &plan,
            target.as_ref(),
            client.repo(),
        )));
    }
    if let Some(release) = &target
        && !release.draft
        && release.immutable
        && !plan.is_noop()
    {
        return Err(Error::Refused(format!(
            "release {tag} is published and immutable: its assets can never change. Publish the new data under a new tag"
        )));
    }

    for duplicate in &duplicates {
        info!(id = duplicate.id, "deleting a duplicate draft of {tag}");
        client.delete_release(duplicate.id).await?;
    }
    if report.up_to_date {
        report.assets = plan_reports(&plan);
        return Ok(report);
    }

    let release = match target {
        Some(release) => release,
        None => {
            client
                .create_draft(tag, job.title, job.notes, args.prerelease)
                .await?
        }
    };
    report.release_url = Some(release.html_url.clone());

    let mut reports = Vec::new();
    for action in &plan.actions {
        if let AssetAction::DeleteLeftover { id, name, .. } = action {
            let started = Instant::now();
            client.delete_asset(*id).await?;
            reports.push(AssetReport {
                name: name.clone(),
                action: "delete_leftover".into(),
                bytes: 0,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    let is_metadata = |name: &str| local.iter().any(|f| f.name == name && f.metadata);
    // Artifacts first, concurrently; then metadata one by one in plan order, manifest last.
    let data_actions: Vec<&AssetAction> = plan
        .actions
        .iter()
        .filter(|a| !matches!(a, AssetAction::DeleteLeftover { .. }) && !is_metadata(a.name()))
        .collect();
    let results: Vec<Result<(AssetReport, Option<Swap>)>> = futures::stream::iter(data_actions)
        .map(|action| execute(client, &release, local, job.out_dir, action))
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .collect()
        .await;
    // Replacements swap in only after every new file is uploaded and verified, one right
    // after the other, so each name is missing only between two consecutive requests.
    let mut swaps = Vec::new();
    for result in results {
        let (report, swap) = result?;
        reports.push(report);
        swaps.extend(swap);
    }
    swaps.sort_by_key(|swap| local.iter().position(|f| f.name == swap.name));
    for swap in &swaps {
        swap.apply(client).await?;
    }
    let data_files: Vec<&LocalFile> = local.iter().filter(|f| !f.metadata).collect();
    verify(client, release.id, &data_files).await?;
    for action in plan
        .actions
        .iter()
        .filter(|a| is_metadata(a.name()) && !matches!(a, AssetAction::DeleteLeftover { .. }))
    {
        let (report, swap) = execute(client, &release, local, job.out_dir, action).await?;
        if let Some(swap) = swap {
            swap.apply(client).await?;
        }
        reports.push(report);
    }
    let all_files: Vec<&LocalFile> = local.iter().collect();
    verify(client, release.id, &all_files).await?;

    let mut release = release;
    if release.draft && !args.draft {
        // A draft made by someone else (@semantic-release/github with draftRelease) keeps its
        // notes and gets the data section appended, once.
        let existing = release.body.clone().unwrap_or_default();
        let body = (!existing.contains(compare::DATA_SECTION_MARKER)).then(|| {
            if existing.trim().is_empty() {
                job.data_notes.to_string()
            } else {
                format!("{}\n\n{}", existing.trim_end(), job.data_notes)
            }
        });
        release = client.publish(release.id, body.as_deref()).await?;
    }
    report.release_url = Some(release.html_url.clone());
    report.draft = release.draft;
    reports.sort_by_key(|r| {
        local
            .iter()
            .position(|f| f.name == r.name)
            .unwrap_or(usize::MAX)
    });
    report.assets = reports;
    Ok(report)
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
async fn published_manifest(client: &GitHub, assets: &[Asset]) -> Result<Option<Manifest>> {
    let Some(asset) = assets
        .iter()
        .find(|a| a.name == MANIFEST_FILE && a.state == "uploaded")
    else {
        return Ok(None);
    };
    let bytes = client.download_asset(asset.id).await?;
    Ok(readable_manifest(&asset.browser_download_url, &bytes))
}

/// A published manifest, or None with a warning when this dbrelease cannot read it.
pub(crate) fn readable_manifest(origin: &str, bytes: &[u8]) -> Option<Manifest> {
    match serde_json::from_slice(bytes) {
        Ok(manifest) => Some(manifest),
        Err(err) => {
            tracing::warn!(
                "ignoring the manifest at {origin}: this dbrelease cannot read it ({err})"
            );
            None
        }
    }
}

fn plan_reports(plan: &AssetPlan) -> Vec<AssetReport> {
    plan.actions
        .iter()
        .map(|action| AssetReport {
            name: action.name().to_string(),
            action: action.kind().into(),
            bytes: action.upload_bytes(),
            seconds: 0.0,
        })
        .collect()
}

fn conflict_message(plan: &AssetPlan, target: Option<&Release>, repo: &str) -> String {
    let mut text = format!(
        "the release on {repo} already has assets that differ from this build ({} differing):",
        plan.conflicts.len()
    );
    for conflict in &plan.conflicts {
        text.push_str(&format!("\n  {}", conflict.describe("published")));
    }
    if target.is_some_and(|r| r.immutable && !r.draft) {
        text.push_str("\nThe release is immutable: publish the new data under a new tag.");
    } else {
        text.push_str("\nPass --replace to replace them, or publish under a new tag.");
    }
    text
}

/// A verified replacement waiting under its temporary name.
struct Swap {
    name: String,
    temporary_id: u64,
    old_id: u64,
}

impl Swap {
    /// Deletes the old asset and gives the new one its name (GitHub names are unique, so
    /// this order is the only one possible).
    async fn apply(&self, client: &GitHub) -> Result<()> {
        client.delete_asset(self.old_id).await?;
        client.rename_asset(self.temporary_id, &self.name).await?;
        Ok(())
    }
}

async fn execute(
    client: &GitHub,
    release: &Release,
    local: &[LocalFile],
    out_dir: &Path,
    action: &AssetAction,
) -> Result<(AssetReport, Option<Swap>)> {
    let started = Instant::now();
    let file = local
        .iter()
        .find(|f| f.name == action.name())
        .expect("planned files are local");
    let path = out_dir.join(&file.name);
    let mut swap = None;
    match action {
        AssetAction::Skip { .. } | AssetAction::DeleteLeftover { .. } => {}
        AssetAction::Upload { .. } => {
            let asset = client
                .upload(
                    release,
                    &file.name,
                    &path,
                    file.bytes,
                    &file.sha256,
                    &file.media_type,
                )
                .await?;
            check_asset(&asset, file)?;
        }
        AssetAction::Replace { old_id, .. } => {
            // New bytes under a temporary name, verified; the old asset stays downloadable
            // until the swap.
            let temporary = format!("{TEMP_PREFIX}{}", file.name);
            let asset = client
                .upload(
                    release,
                    &temporary,
                    &path,
                    file.bytes,
                    &file.sha256,
                    &file.media_type,
                )
                .await?;
            check_asset_bytes(&asset, file)?;
            swap = Some(Swap {
                name: file.name.clone(),
                temporary_id: asset.id,
                old_id: *old_id,
            });
        }
    }
    let action_name = action.kind();
    let bytes = action.upload_bytes();
    info!(asset = %file.name, action = action_name, bytes, seconds = format_args!("{:.2}", started.elapsed().as_secs_f64()), "asset done");
    let report = AssetReport {
        name: file.name.clone(),
        action: action_name.into(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((report, swap))
}

/// Size, state and digest match, whatever the asset is called.
fn check_asset_bytes(asset: &Asset, file: &LocalFile) -> Result<()> {
    check_asset(
        asset,
        &LocalFile {
            name: asset.name.clone(),
            ..file.clone()
        },
    )
}

fn check_asset(asset: &Asset, file: &LocalFile) -> Result<()> {
    let digest_ok = asset.sha256().is_none_or(|sha| sha == file.sha256);
    if asset.name != file.name
        || asset.state != "uploaded"
        || asset.size != file.bytes
        || !digest_ok
    {
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

/// Every file is on the release, complete, with our size and digest.
async fn verify(client: &GitHub, release_id: u64, files: &[&LocalFile]) -> Result<()> {
    let assets = client.list_assets(release_id).await?;
    let mut problems = Vec::new();
    for file in files {
        match assets.iter().find(|a| a.name == file.name) {
            None => problems.push(format!("{} is missing", file.name)),
            Some(asset) => {
                if let Err(err) = check_asset(asset, file) {
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
