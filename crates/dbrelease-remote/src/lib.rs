//! Reading a published dbrelease data release over HTTP, for the people who use the data.
//!
//! Two origins publish the same layout: a GitHub release (assets named like the manifest's
//! artifacts) and a plain URL prefix (S3, or a CDN in front of it) holding `versions.json` and
//! `{tag}/{name}`. [`reader::Reader`] finds a version and streams its files with Range resume and
//! a sha256 computed on the way; [`fetch`] keeps verified copies in a cache; [`verify`] checks a
//! published release against its manifest. Every request goes through [`http`]: one client
//! factory, one retry policy, one classification of failures.
//!
//! No DuckDB and no AWS SDK: this crate builds in minutes and is what the Python package wraps.

pub mod error;
pub mod fetch;
pub mod github;
pub mod hashing;
pub mod http;
pub mod localfs;
pub mod progress;
pub mod reader;
pub mod verify;

pub use error::{Error, Result};

/// The async runtime of the network commands: two workers, as many as this kind of job needs.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| Error::Remote(format!("cannot start the network runtime: {err}")))
}
