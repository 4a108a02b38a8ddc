//! `dbrelease publish`: build, compare with the previous release, then deliver to each target.

use dbrelease_remote::progress::Progress;

use super::{Destinations, Previous, PublishReport, Release, deliver, previous_manifest};
use crate::actions;
use crate::build;
use crate::cli::PublishArgs;
use crate::compare::{self, Comparison};
use crate::config::BuildConfig;
use crate::error::{Error, Result};
use crate::options::{self, Mode, OnConflict, Targets};
use crate::plan;
use crate::target::github::{MAX_ASSET_BYTES, MAX_ASSETS, NewRelease};
use crate::target::s3::Bucket;

/// Runs `dbrelease publish`.
pub fn run(args: &PublishArgs, progress: &Progress) -> Result<PublishReport> {
    // Flags, config and environment, resolved and checked before any work.
    let tag = args.build.tag.clone().ok_or_else(|| {
        Error::Config("publish needs --tag TAG (e.g. the tag semantic-release just created)".into())
    })?;
    if !args.targets.github && !args.targets.s3 {
        return Err(Error::Config(
            "choose where to publish: --github (GitHub Releases) and/or --s3".into(),
        ));
    }
    let config = crate::config::load_build_config(&args.build)?;
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

    // The artifacts and the manifest.
    let outcome = {
        let _group = actions::group("dbrelease: build");
        build::run_build(&config, progress)?
    };
    let local = plan::local_files(&outcome.manifest, &outcome.metadata);
    if targets.github {
        check_release_fits_github(&outcome.manifest, local.len())?;
    }

    // The S3 bucket is checked (credentials, region, existence) before anything is written
    // anywhere, GitHub included.
    let runtime = dbrelease_remote::runtime()?;
    let bucket = connect_s3(&runtime, &targets, &retry)?;

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
    let github = github.map(|client| {
        let new = new_release(args, &tag, &notes, &client, &outcome.manifest, &comparison);
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
    let data_notes = compare::data_section(manifest, comparison, &download_base, client.repo());
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
        return Err(too_big(&artifact.name, artifact.bytes));
    }
    if files > MAX_ASSETS {
        return Err(Error::Config(format!(
            "this release has {files} files; a GitHub release holds at most {MAX_ASSETS} assets. Export fewer tables (exclude under [export]) or publish to S3 only"
        )));
    }
    Ok(())
}

fn too_big(name: &str, bytes: u64) -> Error {
    Error::Config(format!(
        "{name} is {bytes} bytes; GitHub release assets must be smaller than 2 GiB. Publish it to S3 instead, or leave it out"
    ))
}
