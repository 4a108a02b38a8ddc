//! `dbrelease build`: the release files in `--out`, nothing remote.

use dbrelease_remote::progress::Progress;

use crate::build::{self, BuildOutcome};
use crate::cli::BuildArgs;
use crate::error::Result;

/// Runs `dbrelease build`.
pub fn run(args: &BuildArgs, progress: &Progress) -> Result<BuildOutcome> {
    let config = crate::config::load_build_config(args)?;
    build::run_build(&config, progress)
}
