//! `dbrelease republish`: bring the targets of an already published release back in line with
//! that release's own manifest — repair a GitHub release that lost assets, or mirror it to S3
//! after the fact — without ever producing new bytes for an old tag.
//!
//! The published manifest is the source of truth. Every file it lists is gathered into `--out`
//! from the first place where it is intact: `--out` itself, the GitHub release, the S3 copy,
//! and only then a rebuild from the database (kept only if byte-identical). Then the same plan
//! and upload steps as `publish` run, so identical files are skipped and a second run is a
//! no-op.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::info;

use dbrelease_manifest::{
    Artifact, DATAPACKAGE_FILE, MANIFEST_FILE, Manifest, SHA256SUMS_FILE, sums,
};
use dbrelease_remote::github::GitHub;
use dbrelease_remote::progress::Progress;
use dbrelease_remote::reader::{Origin, Reader, Version};
use dbrelease_remote::verify::{self, TargetCheck};

use super::{Destinations, PublishReport, Release, deliver, previous_manifest, write_new};
use crate::build;
use crate::cli::RepublishArgs;
use crate::compare;
use crate::error::{Error, Result};
use crate::notes;
use crate::options::{self, Mode, OnConflict};
use crate::plan;
use crate::target::github::NewRelease;
use crate::target::s3::{self, Bucket};

/// Where one file of the release came from.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced {
    /// File name.
    pub name: String,
    /// `local` (already in --out), `github`, `s3` or `rebuild`.
    pub source: String,
}

/// What `republish` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct RepublishReport {
    /// The targets as found, before any change.
    pub before: Vec<TargetCheck>,
    /// Where each file was taken from.
    pub sources: Vec<Sourced>,
    /// The uploads (skips when nothing was missing).
    pub publish: PublishReport,
}

/// Runs `dbrelease republish`.
pub fn run(args: &RepublishArgs, progress: &Progress) -> Result<RepublishReport> {
    let tag = args.build.tag.clone().ok_or_else(|| {
        Error::Config("republish needs --tag TAG: the published release to repair or mirror".into())
    })?;
    let (github, to_s3) = (args.targets.github, args.targets.s3);
    if !github && !to_s3 {
        return Err(Error::Config(
            "choose what to repair: --github and/or --s3 (to mirror a GitHub release to S3: --s3 with the repository configured)".into(),
        ));
    }
    // The database is only read when a file must be rebuilt: mirroring needs none.
    let config = crate::config::load_republish_config(&args.build)?;
    // With --s3 alone, a configured repository is still where files are mirrored from.
    let targets =
        options::resolve_targets(&args.targets, config.github_repo.as_deref(), &config.s3)?;
    let retry = options::retry_policy();
    let client = targets
        .repo
        .as_deref()
        .map(|repo| options::github_client(repo, &retry));
    let mode = Mode::from_flag(args.dry_run);
    if github && mode == Mode::Apply && !client.as_ref().is_some_and(|c| c.has_token()) {
        return Err(Error::Config(
            "GITHUB_TOKEN (or GH_TOKEN) is not set: repairing a release needs a token with contents: write (use --dry-run to check without one)".into(),
        ));
    }
    let runtime = dbrelease_remote::runtime()?;
    let bucket = super::publish::connect_s3(&runtime, &targets, &retry)?;

    // 1. The targets as they are, and the published manifest (GitHub's, else S3's).
    let reader = client
        .clone()
        .map(|c| Reader::new(Origin::GitHub(c), retry.clone()));
    let published = read_published(&runtime, &tag, &targets, reader.as_ref(), bucket.as_ref())?;
    let (manifest, manifest_bytes) = (&published.manifest, &published.manifest_bytes);

    // 2. Every file of the published manifest, byte-identical, in --out.
    let out = &config.out_dir;
    build::refuse_foreign_link(out)?;
    std::fs::create_dir_all(out).map_err(|err| Error::output(out, &err))?;
    if let Some(dir) = unsafe_out_entry(manifest, out) {
        return Err(dir);
    }
    let mut gather = Gather {
        runtime: &runtime,
        tag: &tag,
        out,
        reader: reader.as_ref(),
        github: published.github.as_ref(),
        s3: bucket.as_ref(),
        config: &config,
        progress,
        rebuilt: None,
        sources: Vec::new(),
    };
    for artifact in &manifest.artifacts {
        gather.artifact(artifact)?;
    }
    let metadata = gather.metadata(manifest, manifest_bytes)?;
    let sources = gather.sources;
    let local = plan::local_files(manifest, &metadata);

    // 3. The same plan and upload steps as publish. The data is the published data: there is
    // no regression to guard against, only the comparison to report.
    let previous = runtime.block_on(previous_manifest(client.as_ref(), bucket.as_ref(), &tag))?;
    if let super::Previous::Unreadable(reason) = &previous {
        tracing::warn!("no comparison with the previous release: {reason}");
    }
    let comparison = compare::compare(previous.manifest(), manifest);
    let release = Release {
        tag: &tag,
        manifest,
        local: &local,
        out_dir: out,
    };
    let github_destination = client
        .filter(|_| github)
        .map(|client| recreate_if_gone(client, &tag, manifest, &comparison));
    let destinations = Destinations {
        github: github_destination,
        s3: bucket.as_ref(),
        mode,
        on_conflict: OnConflict::from_flag(args.replace),
        // A mirror keeps what the index already says about the tag (see VersionsIndex::record).
        prerelease: false,
    };
    let publish = deliver(&runtime, &release, destinations, comparison)?;
    Ok(RepublishReport {
        before: published.before,
        sources,
        publish,
    })
}

/// What a release that vanished entirely is recreated as (the files are the published ones;
/// the notes are regenerated).
fn recreate_if_gone(
    client: GitHub,
    tag: &str,
    manifest: &Manifest,
    comparison: &compare::Comparison,
) -> (GitHub, NewRelease) {
    let base = options::github_download_base(client.repo(), tag);
    let data_notes = notes::data_section(manifest, comparison, &base, client.repo());
    let new = NewRelease {
        title: tag.to_string(),
        notes: data_notes.clone(),
        data_notes,
        prerelease: false,
        keep_draft: false,
        target_commitish: options::release_commit(),
        make_latest: true,
    };
    (client, new)
}

/// A published release as the targets hold it.
struct Published {
    /// Each asked-for target checked against the manifest, before any change.
    before: Vec<TargetCheck>,
    /// The GitHub release, when it is usable as a source.
    github: Option<Version>,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
}

/// Reads the release from GitHub (when configured) and S3, checks each asked-for target
/// against its manifest, and picks the manifest: GitHub's, else S3's.
fn read_published(
    runtime: &tokio::runtime::Runtime,
    tag: &str,
    targets: &options::Targets,
    reader: Option<&Reader>,
    bucket: Option<&Bucket>,
) -> Result<Published> {
    let github_version: Option<Version> = match reader {
        Some(reader) => match runtime.block_on(reader.find_version(tag)) {
            Ok(version) => version,
            Err(dbrelease_remote::Error::Integrity(message)) => {
                info!("GitHub release {tag} is unusable as a source: {message}");
                None
            }
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let mut before = Vec::new();
    if targets.github {
        let name = format!("github {}", targets.repo.as_deref().unwrap_or_default());
        before.push(match (reader, &github_version) {
            (Some(reader), Some(version)) => {
                runtime.block_on(verify::verify_version(reader, name, version))?
            }
            _ => TargetCheck::unreadable(
                name,
                tag,
                format!("no published GitHub release {tag} with a manifest"),
            ),
        });
    }
    if let Some(bucket) = bucket {
        before.push(runtime.block_on(s3::verify_version(bucket, tag))?);
    }
    let manifest_bytes = match &github_version {
        Some(version) => version.manifest_bytes.clone(),
        None => match bucket {
            Some(bucket) => runtime
                .block_on(s3::read_version_file(bucket, tag, MANIFEST_FILE))?
                .ok_or_else(|| not_published(tag))?,
            None => return Err(not_published(tag)),
        },
    };
    let manifest = dbrelease_remote::reader::parse_manifest(
        &format!("the published manifest of {tag}"),
        &manifest_bytes,
    )?;
    Ok(Published {
        before,
        github: github_version,
        manifest,
        manifest_bytes,
    })
}

/// `--out` is about to receive files named by a published manifest: names were checked when it
/// was parsed, so this only guards against an entry planted where a file will be written (a
/// link, a folder, anything but a regular file): it is named, and nothing is written.
fn unsafe_out_entry(manifest: &Manifest, out: &Path) -> Option<Error> {
    manifest
        .artifacts
        .iter()
        .map(|a| out.join(&a.name))
        .find_map(|path| {
            let metadata = std::fs::symlink_metadata(&path).ok()?;
            (!metadata.is_file())
                .then(|| dbrelease_remote::localfs::refused(&path, &metadata).into())
        })
}

fn not_published(tag: &str) -> Error {
    Error::Remote(format!(
        "{tag} is not published on any configured target (no manifest.json on GitHub or S3): use `dbrelease publish --tag {tag}` for a new release"
    ))
}

struct Gather<'a> {
    runtime: &'a tokio::runtime::Runtime,
    tag: &'a str,
    out: &'a Path,
    reader: Option<&'a Reader>,
    github: Option<&'a Version>,
    s3: Option<&'a Bucket>,
    config: &'a crate::config::BuildConfig,
    progress: &'a Progress,
    /// A rebuild made on first need: its folder (inside --out) and manifest.
    rebuilt: Option<(tempfile::TempDir, Manifest)>,
    sources: Vec<Sourced>,
}

impl Gather<'_> {
    fn part(&self, name: &str) -> PathBuf {
        self.out.join(format!(".{name}.dbrelease-part"))
    }

    fn found(&mut self, name: &str, source: &str) {
        info!(file = name, source, "gathered");
        self.sources.push(Sourced {
            name: name.to_string(),
            source: source.to_string(),
        });
    }

    /// Puts `artifact` into --out from the first place it is intact.
    fn artifact(&mut self, artifact: &Artifact) -> Result<()> {
        let path = self.out.join(&artifact.name);
        if hash_of(&path)
            .is_some_and(|(bytes, sha)| bytes == artifact.bytes && sha == artifact.sha256)
        {
            self.found(&artifact.name, "local");
            return Ok(());
        }
        let part = self.part(&artifact.name);
        if let (Some(reader), Some(file)) = (
            self.reader,
            self.github.and_then(|v| v.file(&artifact.name)),
        ) {
            match self.runtime.block_on(reader.download(file, &part)) {
                Ok(()) => {
                    rename(&part, &path)?;
                    self.found(&artifact.name, "github");
                    return Ok(());
                }
                Err(dbrelease_remote::Error::Integrity(message)) => info!("{message}"),
                Err(err) => return Err(err.into()),
            }
        }
        if let Some(bucket) = self.s3 {
            let got = match self.runtime.block_on(s3::download_version_file(
                bucket,
                self.tag,
                &artifact.name,
                &part,
            )) {
                Err(Error::Integrity(message)) => {
                    info!("{message}");
                    None
                }
                other => other?,
            };
            if got.is_some_and(|(bytes, sha)| bytes == artifact.bytes && sha == artifact.sha256) {
                rename(&part, &path)?;
                self.found(&artifact.name, "s3");
                return Ok(());
            }
            let _ = std::fs::remove_file(&part);
        }
        if self.rebuilt.is_none() {
            if self.config.database.as_os_str().is_empty() {
                return Err(Error::Config(format!(
                    "{} of {} is missing or damaged on every target; to rebuild it, give the database with --db or `database` under [dataset]",
                    artifact.name, self.tag
                )));
            }
            let dir = tempfile::Builder::new()
                .prefix(".dbrelease-rebuild-")
                .tempdir_in(self.out)
                .map_err(|err| Error::output(self.out, &err))?;
            let mut config = self.config.clone();
            config.out_dir = dir.path().to_path_buf();
            config.tag = Some(self.tag.to_string());
            let outcome = build::run_build(&config, self.progress)?;
            self.rebuilt = Some((dir, outcome.manifest));
        }
        let (dir, rebuilt) = self.rebuilt.as_ref().expect("rebuilt above");
        match rebuilt.artifacts.iter().find(|a| a.name == artifact.name) {
            Some(same) if same.sha256 == artifact.sha256 && same.bytes == artifact.bytes => {
                rename(&dir.path().join(&artifact.name), &path)?;
                self.found(&artifact.name, "rebuild");
                Ok(())
            }
            other => Err(Error::Refused(format!(
                "cannot repair {name} of {tag}: it is missing or damaged on every target, and rebuilding it from {db} gives {got} instead of the published sha256 {want} (the database changed since {tag}?). Old releases keep their bytes: publish the current data under a new tag",
                name = artifact.name,
                tag = self.tag,
                db = self.config.database.display(),
                got = other.map_or("no such file".to_string(), |a| format!(
                    "sha256 {}",
                    a.sha256
                )),
                want = artifact.sha256,
            ))),
        }
    }

    /// Writes the published SHA256SUMS, datapackage.json and manifest.json (last) into --out,
    /// checked against each other; returns their names, sizes and sha256.
    fn metadata(
        &mut self,
        manifest: &Manifest,
        manifest_bytes: &[u8],
    ) -> Result<Vec<(&'static str, u64, String)>> {
        // Both files are derived: SHA256SUMS from the manifest and datapackage.json, and
        // datapackage.json from the manifest and the config. A lost one is regenerated and
        // kept only if it matches what the other one records.
        let manifest_sha = hex::encode(Sha256::digest(manifest_bytes));
        let published_sums = self.small(SHA256SUMS_FILE)?;
        let listed_sha = |sums: &[u8], name: &str| {
            sums::parse(&String::from_utf8_lossy(sums))
                .into_iter()
                .find(|(_, n)| n == name)
                .map(|(sha, _)| sha)
        };
        let datapackage = match self.small(DATAPACKAGE_FILE)? {
            Some(bytes) => bytes,
            None => {
                let regenerated = (serde_json::to_string_pretty(&manifest.datapackage(
                    self.config.description.as_deref(),
                    self.config.license.as_deref(),
                ))
                .expect("datapackage serializes")
                    + "\n")
                    .into_bytes();
                let sha = hex::encode(Sha256::digest(&regenerated));
                match published_sums
                    .as_deref()
                    .and_then(|s| listed_sha(s, DATAPACKAGE_FILE))
                {
                    Some(expected) if expected == sha => regenerated,
                    _ => {
                        return Err(Error::Integrity(format!(
                            "{DATAPACKAGE_FILE} of {} is published on no target, and regenerating it from the config does not give the published bytes (check [dataset] description and license)",
                            self.tag
                        )));
                    }
                }
            }
        };
        let sums = published_sums.unwrap_or_else(|| {
            manifest
                .sha256sums(&[
                    (DATAPACKAGE_FILE, hex::encode(Sha256::digest(&datapackage))),
                    (MANIFEST_FILE, manifest_sha.clone()),
                ])
                .into_bytes()
        });
        let listed = sums::parse(&String::from_utf8_lossy(&sums));
        let problems = sums::problems(manifest, &listed);
        if !problems.is_empty() {
            return Err(Error::Integrity(format!(
                "the published {SHA256SUMS_FILE} of {} disagrees with its manifest: {}",
                self.tag,
                problems.join("; ")
            )));
        }
        let mut written = Vec::new();
        for (name, bytes) in [
            (DATAPACKAGE_FILE, datapackage.as_slice()),
            (SHA256SUMS_FILE, sums.as_slice()),
            (MANIFEST_FILE, manifest_bytes),
        ] {
            let sha256 = hex::encode(Sha256::digest(bytes));
            if let Some((expected, _)) = listed.iter().find(|(_, n)| n == name)
                && *expected != sha256
            {
                return Err(Error::Integrity(format!(
                    "the published {name} of {} has sha256 {sha256}, but its {SHA256SUMS_FILE} lists {expected}",
                    self.tag
                )));
            }
            let path = self.out.join(name);
            let part = self.part(name);
            write_new(&part, bytes)?;
            rename(&part, &path)?;
            written.push((name, bytes.len() as u64, sha256));
        }
        Ok(written)
    }

    /// A small published file, from GitHub or S3; None when neither has it.
    fn small(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        if let (Some(reader), Some(version)) = (self.reader, self.github)
            && let Some((_, location)) = version.metadata.iter().find(|(n, _)| n == name)
        {
            match self.runtime.block_on(reader.read_small(location, None)) {
                Ok(Some(bytes)) => return Ok(Some(bytes)),
                Ok(None) => info!("{name} is missing on GitHub"),
                Err(err) => info!("{name} from GitHub: {err}"),
            }
        }
        if let Some(bucket) = self.s3
            && let Some(bytes) = self
                .runtime
                .block_on(s3::read_version_file(bucket, self.tag, name))?
        {
            return Ok(Some(bytes));
        }
        Ok(None)
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|err| Error::output(to, &err))
}

/// Size and sha256 of a file, or None when it cannot be read.
/// Only a regular file of this user with one name counts: a hard link planted under an artifact's
/// name is gathered again (and the rename replaces the link, never its other name).
fn hash_of(path: &Path) -> Option<(u64, String)> {
    dbrelease_remote::localfs::own_file(path)?;
    let digest = dbrelease_remote::hashing::hash_file(path).ok()?;
    Some((digest.bytes, digest.sha256))
}

/// The report as text.
pub fn report_text(report: &RepublishReport) -> String {
    let mut text = String::from("before:\n");
    text.push_str(&crate::render::verify::report_text(&report.before));
    text.push_str("files from:");
    for sourced in &report.sources {
        text.push_str(&format!(" {} ({})", sourced.name, sourced.source));
    }
    text.push_str("\n\n");
    text.push_str(&crate::render::publish::report_table(&report.publish));
    text
}
