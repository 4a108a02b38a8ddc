//! The contract between a dbrelease data release and its readers.
//!
//! Everything a reader relies on is defined here, as plain data with pure functions and no I/O:
//! `manifest.json` ([`Manifest`]), `SHA256SUMS` ([`sums`]), `datapackage.json`
//! ([`Manifest::datapackage`]), the `versions.json` index of a URL origin ([`versions`]), and the
//! rule for which names may become file names ([`names`]). The JSON Schema of the manifest is
//! committed as `manifest.schema.json` beside this crate and tested against the types.
//!
//! Compatibility: readers ignore fields they do not know, so a newer dbrelease may add fields
//! without breaking an older `fetch`; a change that older readers cannot follow bumps
//! [`MANIFEST_VERSION`], which [`Manifest::parse`] refuses with a message saying so.

pub mod dated;
pub mod manifest;
pub mod names;
pub mod sums;
pub mod versions;

pub use manifest::*;
