//! `dbrelease verify`: read a published release back and check it against its own manifest,
//! on every target asked for: GitHub and URL prefixes over HTTP (the consumer crate's
//! verification), S3 through its API (so private buckets work).

use dbrelease_remote::reader::{Origin, Reader};
use dbrelease_remote::verify::{TargetCheck, verify_http};

use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::options;
use crate::target::s3;

/// Runs `dbrelease verify`; every mismatch found is an [`Error::Integrity`] listing them all.
pub fn run(args: &VerifyArgs) -> Result<Vec<TargetCheck>> {
    // Which targets: flags, then the (optional) config, then the environment.
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
    let targets =
        options::resolve_targets(&args.targets, config.github_repo.as_deref(), &config.s3)?;
    let url = args.url.as_deref().map(options::base_url).transpose()?;
    let retry = options::retry_policy();
    let runtime = dbrelease_remote::runtime()?;
    // Each target read back and checked, byte for byte.
    let checks = runtime.block_on(async {
        let mut checks = Vec::new();
        if let Some(repo) = targets.repo.as_deref().filter(|_| targets.github) {
            let reader = Reader::new(
                Origin::GitHub(options::github_client(repo, &retry)),
                retry.clone(),
            );
            checks.push(verify_http(&reader, format!("github {repo}"), &args.tag).await?);
        }
        if let Some(options) = &targets.s3 {
            let bucket = s3::Bucket::connect(options, &retry).await?;
            checks.push(s3::verify_version(&bucket, &args.tag).await?);
        }
        if let Some(base) = url {
            let reader = Reader::new(Origin::Url(base.clone()), retry.clone());
            checks.push(verify_http(&reader, base, &args.tag).await?);
        }
        Ok::<_, Error>(checks)
    })?;
    // The step summary, then the verdict.
    crate::actions::summary(&crate::render::verify::summary_markdown(&checks));
    Ok(checks)
}

/// Every problem of every target as one error, or Ok when all verified.
pub fn verdict(tag: &str, checks: &[TargetCheck]) -> Result<()> {
    let problems: Vec<String> = checks
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.target)))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Integrity(format!(
        "release {tag} does not match its manifest ({} problems):\n  {}",
        problems.len(),
        problems.join("\n  ")
    )))
}
