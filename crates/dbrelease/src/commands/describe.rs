//! `dbrelease describe`: a published version's data card, from its manifest and the manifest
//! of the version before it. Reads manifests only, never the data.

use dbrelease_remote::reader::{LatestTag, Reader};

use crate::card::{Card, card};
use crate::cli::DescribeArgs;
use crate::compare::compare;
use crate::error::Result;
use crate::options;

/// Runs `dbrelease describe`.
pub fn run(args: &DescribeArgs) -> Result<Card> {
    let retry = options::retry_policy();
    let origin = options::origin(args.repo.as_deref(), args.base_url.as_deref(), &retry)?;
    let reader = Reader::new(origin, retry);
    let runtime = dbrelease_remote::runtime()?;
    runtime.block_on(async {
        // The version, then the one published before it (the newest older release in the
        // listing: a pre-release is compared with nothing it did not follow).
        let tag = match args.tag.as_str() {
            "latest" => match reader.latest(None).await? {
                LatestTag::Tag(tag, _) => tag,
                LatestTag::NotModified => unreachable!("no validator was sent"),
            },
            tag => tag.to_string(),
        };
        let version = reader.version(&tag).await?;
        let listed = reader.list().await?;
        let previous_tag = listed
            .iter()
            .position(|listed| listed.tag == tag)
            .and_then(|at| listed[at + 1..].iter().find(|l| !l.prerelease))
            .map(|l| l.tag.clone());
        let previous = match previous_tag {
            Some(previous) => Some(reader.version(&previous).await?.manifest),
            None => None,
        };
        Ok(card(
            &version.manifest,
            &compare(previous.as_ref(), &version.manifest),
        ))
    })
}
