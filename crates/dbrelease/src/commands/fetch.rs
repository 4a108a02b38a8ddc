//! `dbrelease fetch`: the consumer crate's fetch, with the options resolved from the flags.

use dbrelease_remote::fetch::{FetchOutcome, run_fetch};
use dbrelease_remote::progress::Progress;

use crate::cli::FetchArgs;
use crate::error::Result;

/// Runs `dbrelease fetch`.
pub fn run(args: &FetchArgs, progress: Progress) -> Result<FetchOutcome> {
    let options = crate::options::fetch_options(args)?;
    Ok(run_fetch(&options, args.list, progress)?)
}
