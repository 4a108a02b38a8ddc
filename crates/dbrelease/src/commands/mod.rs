//! The commands, each a short list of named stages (GoReleaser's `pipeline.go` is the model).
//! What they share: delivering a release to its targets, and reading the previous one.

pub mod build;
pub mod describe;
pub mod fetch;
pub mod init;
pub mod publish;
pub mod republish;
pub mod stats;
pub mod verify;

use std::path::Path;

use dbrelease_manifest::Manifest;
use dbrelease_remote::github::GitHub;

use sha2::Digest;

use crate::actions;
use crate::card::INDEX_FILE;
use crate::compare::Comparison;
use crate::error::Result;
use crate::options::{Mode, OnConflict};
use crate::plan::LocalFile;
use crate::target::github::{GitHubTarget, NewRelease};
use crate::target::s3::{Bucket, S3Target};
use crate::target::{self, Delivery, PublishReport};

/// A release ready to deliver: its manifest and files.
pub struct Release<'a> {
    /// Tag.
    pub tag: &'a str,
    /// The manifest.
    pub manifest: &'a Manifest,
    /// Its files in release order.
    pub local: &'a [LocalFile],
    /// Where their bytes are.
    pub out_dir: &'a Path,
}

/// Where to deliver, and how.
pub struct Destinations<'a> {
    /// GitHub: the client and what a new release is made of.
    pub github: Option<(GitHub, NewRelease)>,
    /// S3.
    pub s3: Option<&'a Bucket>,
    /// Plan only, or apply.
    pub mode: Mode,
    /// Refuse or replace differing files (`--replace`: a rolling tag).
    pub on_conflict: OnConflict,
    /// Published as a pre-release: never "latest".
    pub prerelease: bool,
}

/// Delivers `release` to each destination, GitHub first, then S3, and reports to Actions.
pub fn deliver(
    runtime: &tokio::runtime::Runtime,
    release: &Release<'_>,
    destinations: Destinations<'_>,
    comparison: Comparison,
) -> Result<PublishReport> {
    let delivery = Delivery {
        tag: release.tag,
        local: release.local,
        out_dir: release.out_dir,
        mode: destinations.mode,
        on_conflict: destinations.on_conflict,
    };
    let github = match destinations.github {
        Some((client, new)) => {
            let _group = actions::group("dbrelease: publish to GitHub");
            let base = crate::options::github_download_base(client.repo(), release.tag);
            let mut github = GitHubTarget::new(client, release.tag, base, new);
            Some(runtime.block_on(target::deliver(&mut github, &delivery))?)
        }
        None => None,
    };
    let s3 = match destinations.s3 {
        Some(bucket) => {
            let _group = actions::group("dbrelease: publish to S3");
            // The version's folder also gets its data card as a page (S3 serves it; a GitHub
            // release has its notes instead).
            let local = with_card_page(release, &comparison)?;
            let delivery = Delivery {
                local: &local,
                ..delivery
            };
            let mut s3 = S3Target::new(
                bucket,
                release.tag,
                release.manifest,
                &local,
                release.out_dir,
                destinations.prerelease,
                dbrelease_manifest::versions::is_rolling(
                    release.tag,
                    destinations.on_conflict == OnConflict::Replace,
                ),
            );
            Some(runtime.block_on(target::deliver(&mut s3, &delivery))?)
        }
        None => None,
    };
    let report = PublishReport {
        tag: release.tag.to_string(),
        comparison,
        github,
        s3,
        unchanged_since: None,
    };
    if destinations.mode == Mode::Apply {
        crate::render::publish::actions_report(&report, release.manifest);
    }
    Ok(report)
}

/// The release's files with the data card page (`index.html`) added before the manifest,
/// written into the release folder. A release whose own files include an `index.html` (an
/// extra file) keeps it and gets no card page.
fn with_card_page(release: &Release<'_>, comparison: &Comparison) -> Result<Vec<LocalFile>> {
    let mut local = release.local.to_vec();
    if local.iter().any(|file| file.name == INDEX_FILE) {
        tracing::warn!("the release has its own {INDEX_FILE}: no data card page is written on S3");
        return Ok(local);
    }
    let page = crate::card::html(&crate::card::card(release.manifest, comparison));
    write_new(&release.out_dir.join(INDEX_FILE), page.as_bytes())?;
    let page_file = LocalFile {
        name: INDEX_FILE.into(),
        bytes: page.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(page.as_bytes())),
        media_type: "text/html; charset=utf-8".into(),
        metadata: true,
    };
    let before_manifest = local
        .iter()
        .position(|file| file.name == dbrelease_manifest::MANIFEST_FILE)
        .unwrap_or(local.len());
    local.insert(before_manifest, page_file);
    Ok(local)
}

/// Writes `bytes` into a file created new at `path` (a link there is removed, not followed).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = dbrelease_remote::localfs::create_fresh(path)?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|err| crate::error::Error::output(path, &err))
}

/// What the regression guard compares with.
pub enum Previous {
    /// No earlier release (or none readable without a token in a dry run).
    Nothing,
    /// The newest earlier release's manifest.
    Found(Box<Manifest>),
    /// The newest earlier release has a manifest this dbrelease cannot read (or the index lists
    /// one that is missing): the guard cannot run, and says so instead of skipping.
    Unreadable(String),
}

impl Previous {
    /// The manifest, if one was read.
    pub fn manifest(&self) -> Option<&Manifest> {
        match self {
            Previous::Found(manifest) => Some(manifest),
            _ => None,
        }
    }

    fn of(origin: &str, bytes: Option<&[u8]>) -> Previous {
        match bytes.map(Manifest::parse) {
            None => Previous::Unreadable(format!("{origin} is missing")),
            Some(Ok(manifest)) => Previous::Found(Box::new(manifest)),
            Some(Err(err)) => Previous::Unreadable(format!("the manifest at {origin} {err}")),
        }
    }
}

/// The manifest of the newest published release other than `tag`: from GitHub when it is
/// readable (needs the token: without one a dry run plans against nothing), else from the S3
/// versions index. On GitHub that is its latest release (one request, however many releases
/// there are), or — when the latest is `tag` itself or has no manifest — the newest of the
/// newest 100 that has one.
pub async fn previous_manifest(
    github: Option<&GitHub>,
    s3: Option<&Bucket>,
    tag: &str,
) -> Result<Previous> {
    if let Some(client) = github.filter(|c| c.has_token()) {
        if let dbrelease_remote::github::Latest::Release(latest, _) =
            client.latest_release(None).await?
            && latest.tag_name != tag
            && let Some((origin, bytes)) =
                crate::target::github::published_manifest_bytes(client, &latest.assets).await?
        {
            return Ok(Previous::of(&origin, Some(&bytes)));
        }
        let releases = client.releases_page(1).await?.unwrap_or_default();
        for release in releases
            .iter()
            .filter(|r| !r.draft && !r.prerelease && r.tag_name != tag)
        {
            if let Some((origin, bytes)) =
                crate::target::github::published_manifest_bytes(client, &release.assets).await?
            {
                return Ok(Previous::of(&origin, Some(&bytes)));
            }
        }
        return Ok(Previous::Nothing);
    }
    if let Some(bucket) = s3 {
        return Ok(
            match crate::target::s3::previous_manifest(bucket, tag).await? {
                Some((origin, bytes)) => Previous::of(&origin, bytes.as_deref()),
                None => Previous::Nothing,
            },
        );
    }
    Ok(Previous::Nothing)
}
