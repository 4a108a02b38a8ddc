//! `dbrelease publish`: build, compare with the previous release, then deliver to each target.

use dbrelease_remote::progress::Progress;

use super::{Destinations, Previous, PublishReport, Release, deliver, previous_manifest};
use crate::actions;
use crate::build;
use crate::cli::PublishArgs;
use crate::compare::{self, Comparison};
use crate::config::BuildConfig;
use crate::error::{Error, Result};
use crate::notes;
use crate::options::{self, Mode, OnConflict, Targets};
use crate::plan;
use crate::target::github::{MAX_ASSET_BYTES, MAX_ASSETS, NewRelease};
use crate::target::s3::Bucket;
use dbrelease_remote::github::GitHub;

/// Runs `dbrelease publish`.
pub fn run(args: &PublishArgs, progress: &Progress) -> Result<PublishReport> {
    // Flags, config and environment, resolved and checked before any work.
    if !args.targets.github && !args.targets.s3 {
        return Err(Error::Config(
            "choose where to publish: --github (GitHub Releases) and/or --s3".into(),
        ));
    }
    let mut config = crate::config::load_build_config(&args.build)?;
    let choice = TagChoice::of(args.build.tag.as_deref(), config.auto_tag)?;
    let targets =
        options::resolve_targets(&args.targets, config.github_repo.as_deref(), &config.s3)?;
    let mode = Mode::from_flag(args.dry_run);
    let notes = options::notes(args.notes_file.as_ref())?;
    let retry = options::retry_policy();
    let github = targets
        .repo
        .as_deref()
        .filter(|_| targets.github)
        .map(|repo| options::github_client(repo, &retry));
    if github.as_ref().is_some_and(|c| !c.has_token()) && mode == Mode::Apply {
        return Err(Error::Config(
            "GITHUB_TOKEN (or GH_TOKEN) is not set: publishing needs a token with contents: write (use --dry-run to plan without one)".into(),
        ));
    }
    // What GitHub cannot hold is refused before spending time on a build.
    if targets.github {
        check_extra_files_fit_github(&config)?;
    }

    // The S3 bucket is checked (credentials, region, existence) before anything is written
    // anywhere, GitHub included.
    let runtime = dbrelease_remote::runtime()?;
    let bucket = connect_s3(&runtime, &targets, &retry)?;

    // The version: the tag given, or the next date version after the newest published one.
    let tag = match &choice {
        TagChoice::Given(tag) => tag.clone(),
        TagChoice::Date => {
            let today = crate::env::today()?;
            let tag = runtime.block_on(next_date_tag(github.as_ref(), bucket.as_ref(), today))?;
            tracing::info!(%tag, "--tag auto: the date version for today (UTC) is {tag}");
            tag
        }
    };
    config.tag = Some(tag.clone());
    // The catalog's views read from where this run publishes (`--repo`, `--s3-prefix`).
    config.github_repo = targets.repo.clone();
    if let Some(s3) = &targets.s3 {
        config.s3.prefix = Some(s3.prefix.clone());
        config.s3.public_base_url = Some(s3.public_base());
    }

    // The artifacts and the manifest.
    let outcome = {
        let _group = actions::group("dbrelease: build");
        build::run_build(&config, progress)?
    };
    let local = plan::local_files(&outcome.manifest, &outcome.metadata);
    if targets.github {
        check_release_fits_github(&outcome.manifest, local.len())?;
    }

    // The regression guard: a shrunken database is refused before anything is written.
    let comparison = {
        let _group = actions::group("dbrelease: compare with the previous release");
        let previous =
            runtime.block_on(previous_manifest(github.as_ref(), bucket.as_ref(), &tag))?;
        // Never skipped silently: a previous release that cannot be read stops the publish.
        if let Previous::Unreadable(reason) = &previous {
            let text = format!("cannot compare {tag} with the previous release: {reason}");
            if !args.allow_regression {
                return Err(Error::Refused(format!(
                    "{text}.\nNothing was published. Fix that release (`dbrelease verify`, `dbrelease republish`), or pass --allow-regression to publish without the comparison"
                )));
            }
            tracing::warn!("{text} (publishing without it: --allow-regression)");
        }
        // A date version is made only for new data: a cron run on a day without any
        // publishes nothing.
        if choice == TagChoice::Date
            && let Some(newest) = previous.manifest()
            && same_data(newest, &outcome.manifest)
        {
            let since = newest.tag.clone().unwrap_or_default();
            return Ok(up_to_date(
                &since,
                mode,
                compare::compare(Some(newest), &outcome.manifest),
            ));
        }
        let mut comparison = compare::compare(previous.manifest(), &outcome.manifest);
        comparison.looked_up = github.as_ref().is_none_or(|c| c.has_token()) || bucket.is_some();
        comparison
    };
    guard_regressions(&comparison, &tag, args.allow_regression)?;

    // Every target, in the one executor's order.
    let release = Release {
        tag: &tag,
        manifest: &outcome.manifest,
        local: &local,
        out_dir: &outcome.out_dir,
    };
    // A release becomes GitHub's "latest" only when it is the newest version: a backport
    // (v1.9.1 after v1.10.0), or a semantic-release tag in a repository of date versions,
    // never moves it back — the same rule as versions.json's latest.
    let newest_on_github = match &github {
        Some(client) if client.has_token() => runtime.block_on(latest_tag(client))?,
        _ => None,
    };
    let github = github.map(|client| {
        let mut new = new_release(args, &tag, &notes, &client, &outcome.manifest, &comparison);
        new.make_latest &= newest_on_github
            .as_deref()
            .is_none_or(|newest| !sorts_before(&tag, newest));
        (client, new)
    });
    let destinations = Destinations {
        github,
        s3: bucket.as_ref(),
        mode,
        on_conflict: OnConflict::from_flag(args.replace),
        prerelease: args.prerelease,
    };
    deliver(&runtime, &release, destinations, comparison)
}

/// Which tag `publish` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagChoice {
    /// `--tag TAG`.
    Given(String),
    /// `--tag auto` or `[release] tag = "auto"`: a date version.
    Date,
}

impl TagChoice {
    fn of(flag: Option<&str>, config_auto: bool) -> Result<TagChoice> {
        match flag {
            Some(crate::config::AUTO_TAG) => Ok(TagChoice::Date),
            Some(tag) if config_auto => Err(Error::Config(format!(
                "--tag {tag}: this repository publishes date versions ([release] tag = \"auto\" in the config), and {tag} would sort below them and never become the latest. Drop --tag (a semantic-release publishCmd should not pass one here), or remove tag = \"auto\" from [release]"
            ))),
            Some(tag) => Ok(TagChoice::Given(tag.to_string())),
            None if config_auto => Ok(TagChoice::Date),
            None => Err(Error::Config(
                "publish needs --tag TAG (e.g. the tag semantic-release just created), or --tag auto for a date version named after today (UTC), e.g. v2026.1205.0".into(),
            )),
        }
    }
}

/// The newest published release's tag: GitHub's latest when GitHub is readable, else the latest
/// of S3's versions.json.
async fn newest_published(github: Option<&GitHub>, s3: Option<&Bucket>) -> Result<Option<String>> {
    if let Some(client) = github.filter(|c| c.has_token()) {
        return latest_tag(client).await;
    }
    if let Some(bucket) = s3 {
        return Ok(crate::target::s3::read_index(bucket)
            .await?
            .and_then(|index| index.latest_release().map(|v| v.tag.clone())));
    }
    Ok(None)
}

/// GitHub's latest release, by tag.
async fn latest_tag(client: &GitHub) -> Result<Option<String>> {
    Ok(match client.latest_release(None).await? {
        dbrelease_remote::github::Latest::Release(release, _) => Some(release.tag_name),
        _ => None,
    })
}

/// True when `tag` is a lower semantic version than `newest` (tags that are not semantic
/// versions are never "before": they follow publish order).
fn sorts_before(tag: &str, newest: &str) -> bool {
    use dbrelease_manifest::versions::release_version;
    matches!((release_version(tag), release_version(newest)), (Some(a), Some(b)) if a < b)
}

/// Today's date version: after the newest published one (the next of the day when that is
/// today's), skipping any tag already published (a pre-release of that name, say). A draft
/// left by an interrupted run is not skipped: the run adopts and completes it.
async fn next_date_tag(
    github: Option<&GitHub>,
    s3: Option<&Bucket>,
    today: dbrelease_manifest::dated::Day,
) -> Result<String> {
    let newest = newest_published(github, s3).await?;
    let mut candidate = dbrelease_manifest::dated::first_candidate(today, newest.as_deref())
        .map_err(|err| Error::Config(err.to_string()))?;
    if github.is_some_and(|c| !c.has_token()) && s3.is_none() {
        tracing::warn!(
            "no token: {} is not checked against the published versions",
            candidate.tag()
        );
    }
    let index = match s3 {
        Some(bucket) => crate::target::s3::read_index(bucket).await?,
        None => None,
    };
    for _ in 0..1000 {
        let tag = candidate.tag();
        let on_github = match github.filter(|c| c.has_token()) {
            Some(client) => client.published_release(&tag).await?.is_some(),
            None => false,
        };
        let on_s3 = index.as_ref().is_some_and(|i| i.find(&tag).is_some());
        if !on_github && !on_s3 {
            return Ok(tag);
        }
        candidate = candidate.next_same_day();
    }
    Err(Error::Config(format!(
        "1000 date versions of {today} are already published; is something publishing in a loop?"
    )))
}

/// True when two manifests list the same artifacts with the same bytes (`created_at`, the tag
/// and anything else that describes rather than is the data do not count).
fn same_data(a: &dbrelease_manifest::Manifest, b: &dbrelease_manifest::Manifest) -> bool {
    // The catalog names its version's URLs, so it differs with every tag: it says nothing
    // about the data.
    let key = |m: &dbrelease_manifest::Manifest| {
        let mut artifacts: Vec<(String, u64, String)> = m
            .artifacts
            .iter()
            .filter(|x| x.kind != dbrelease_manifest::ArtifactKind::Catalog)
            .map(|x| (x.name.clone(), x.bytes, x.sha256.clone()))
            .collect();
        artifacts.sort();
        artifacts
    };
    key(a) == key(b)
}

/// The report of a `--tag auto` run that found nothing new to publish.
fn up_to_date(since: &str, mode: Mode, comparison: Comparison) -> PublishReport {
    tracing::info!("up to date: the data has not changed since {since}");
    let report = PublishReport {
        tag: since.to_string(),
        comparison,
        github: None,
        s3: None,
        unchanged_since: Some(since.to_string()),
    };
    if mode == Mode::Apply {
        actions::outputs(&[("tag", since.to_string()), ("published", "false".into())]);
    }
    report
}

/// What a new GitHub release is made of: the user's notes, then the data section.
fn new_release(
    args: &PublishArgs,
    tag: &str,
    notes: &str,
    client: &dbrelease_remote::github::GitHub,
    manifest: &dbrelease_manifest::Manifest,
    comparison: &Comparison,
) -> NewRelease {
    let download_base = options::github_download_base(client.repo(), tag);
    let data_notes = notes::data_section(manifest, comparison, &download_base, client.repo());
    NewRelease {
        title: args.title.clone().unwrap_or_else(|| tag.to_string()),
        notes: if notes.trim().is_empty() {
            data_notes.clone()
        } else {
            format!("{}\n\n{data_notes}", notes.trim_end())
        },
        data_notes,
        prerelease: args.prerelease,
        keep_draft: args.draft,
        target_commitish: options::release_commit(),
        // A rolling tag (`nightly` republished with --replace) or a pre-release is never
        // GitHub's "latest".
        make_latest: !args.prerelease
            && !dbrelease_manifest::versions::is_rolling(tag, args.replace),
    }
}

/// Connects to the bucket when S3 is a target (checking it exists and the credentials work).
pub fn connect_s3(
    runtime: &tokio::runtime::Runtime,
    targets: &Targets,
    retry: &dbrelease_remote::http::RetryPolicy,
) -> Result<Option<Bucket>> {
    targets
        .s3
        .as_ref()
        .map(|options| runtime.block_on(Bucket::connect(options, retry)))
        .transpose()
}

fn guard_regressions(comparison: &Comparison, tag: &str, allowed: bool) -> Result<()> {
    if comparison.regressions.is_empty() {
        return Ok(());
    }
    let text = format!(
        "compared with {}, the data of {tag} shrank:\n  {}",
        comparison
            .previous_tag
            .as_deref()
            .unwrap_or("the previous release"),
        comparison.regressions.join("\n  ")
    );
    if !allowed {
        return Err(Error::Refused(format!(
            "{text}\nNothing was published. Check the database (a failed restore or an interrupted load?); if the change is intended, pass --allow-regression"
        )));
    }
    tracing::warn!("{text} (allowed by --allow-regression)");
    Ok(())
}

fn check_extra_files_fit_github(config: &BuildConfig) -> Result<()> {
    for extra in &config.files {
        let bytes = std::fs::metadata(&extra.path).map(|m| m.len()).unwrap_or(0);
        if bytes >= MAX_ASSET_BYTES {
            return Err(too_big(&extra.name, bytes));
        }
    }
    Ok(())
}

fn check_release_fits_github(manifest: &dbrelease_manifest::Manifest, files: usize) -> Result<()> {
    if let Some(artifact) = manifest
        .artifacts
        .iter()
        .find(|a| a.bytes >= MAX_ASSET_BYTES)
    {
        if artifact.kind == dbrelease_manifest::ArtifactKind::Table {
            return Err(Error::Config(format!(
                "{} is {} bytes; GitHub release assets must be smaller than 2 GiB. Set a smaller [export] part_size (or fewer export.row_group_rows: a file holds at least one row group)",
                artifact.name, artifact.bytes
            )));
        }
        return Err(too_big(&artifact.name, artifact.bytes));
    }
    if files > MAX_ASSETS {
        let count = |is_part: fn(&dbrelease_manifest::Artifact) -> bool| {
            manifest.artifacts.iter().filter(|a| is_part(a)).count()
        };
        let mut parts = Vec::new();
        let database_parts = count(|a| a.part_of.is_some());
        if database_parts > 0 {
            parts.push(format!(
                "{database_parts} parts of the database: a larger [database] part_size makes fewer"
            ));
        }
        fn partitioned(a: &dbrelease_manifest::Artifact) -> bool {
            a.table_part
                .as_ref()
                .is_some_and(|part| !part.partition.is_empty())
        }
        let partition_files = count(partitioned);
        if partition_files > 0 {
            parts.push(format!(
                "{partition_files} files of partitioned tables: a coarser partition_by under [export.tables.<name>] makes fewer"
            ));
        }
        let table_files = count(|a| a.table_part.is_some() && !partitioned(a));
        if table_files > 0 {
            parts.push(format!(
                "{table_files} files of tables in parts: a larger [export] part_size makes fewer"
            ));
        }
        let in_parts = if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        };
        return Err(Error::Config(format!(
            "this release has {files} files{in_parts}; a GitHub release holds at most {MAX_ASSETS} assets. Export fewer tables (exclude under [export]) or publish to S3 only"
        )));
    }
    Ok(())
}

fn too_big(name: &str, bytes: u64) -> Error {
    Error::Config(format!(
        "{name} is {bytes} bytes; GitHub release assets must be smaller than 2 GiB. Publish it to S3 instead, or leave it out"
    ))
}
