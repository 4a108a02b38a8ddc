//! Errors a user can act on, grouped by who has to fix them; each group has its own exit code.

use std::path::{Path, PathBuf};

/// Every exit code and what it means: the one table that `--help` prints and the README's
/// "Exit codes" section is checked against (`tests/docs.rs`).
pub const EXIT_CODES: &[(i32, &str)] = &[
    (0, "success"),
    (
        EXIT_FAILURE,
        "bytes that do not match their manifest (`verify`, `fetch`), or an unexpected failure (a bug, or an environment problem not covered below)",
    ),
    (
        EXIT_CONFIG,
        "usage or configuration error (bad flag, unreadable or invalid `dbrelease.toml`, unknown table or column named in it, missing token, a file `fetch --out` would overwrite)",
    ),
    (
        EXIT_SOURCE,
        "the source database cannot be released as it is (missing, not DuckDB, corrupt, newer storage format, locked by a writer, pending WAL, no tables, a value that cannot be exported exactly)",
    ),
    (
        EXIT_OUTPUT,
        "a local file cannot be written: the output directory, the `fetch` cache or `--out` (not a directory, no permission, disk full)",
    ),
    (
        EXIT_REMOTE,
        "a remote failed (bad token, repository or release not found, missing permission, retries exhausted, verification after upload failed; `fetch --offline` with nothing cached)",
    ),
    (
        EXIT_REFUSED,
        "publish refused to change published data (differs without `--replace`, immutable release, tables shrank without `--allow-regression`)",
    ),
];

/// The exit-code table as `--help` prints it.
pub fn exit_codes_help() -> String {
    let mut text = String::from(
        "Exit codes:
",
    );
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!(
            "  {code}  {}
",
            meaning.replace('`', "")
        ));
    }
    text
}

/// Exit code for usage and configuration mistakes (clap uses 2 as well).
pub const EXIT_CONFIG: i32 = 2;
/// Exit code for a source database that cannot be released as it is.
pub const EXIT_SOURCE: i32 = 3;
/// Exit code for an output directory that cannot be written.
pub const EXIT_OUTPUT: i32 = 4;
/// Exit code for a publish target (GitHub, S3) that failed or refused a request.
pub const EXIT_REMOTE: i32 = 5;
/// Exit code for a publish refused to protect published data (differs without --replace, immutable).
pub const EXIT_REFUSED: i32 = 6;
/// Exit code for bytes that do not match their manifest (verify, fetch), and anything else.
pub const EXIT_FAILURE: i32 = 1;

/// Everything `dbrelease` reports to the user; each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file or the flags are wrong.
    #[error("{0}")]
    Config(String),

    /// The source database cannot be released as it is.
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },

    /// A table cannot be exported.
    #[error("table {table}: {message}")]
    Table { table: String, message: String },

    /// The output directory cannot be written.
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },

    /// A publish target failed.
    #[error("{0}")]
    Remote(String),

    /// Publishing would change published data without permission.
    #[error("{0}")]
    Refused(String),

    /// Published or downloaded bytes do not match the manifest.
    #[error("{0}")]
    Integrity(String),

    /// An internal failure that the user cannot fix by changing input.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// The process exit code documented in the README.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => EXIT_CONFIG,
            Error::Source { .. } | Error::Table { .. } => EXIT_SOURCE,
            Error::Output { .. } => EXIT_OUTPUT,
            Error::Remote(_) => EXIT_REMOTE,
            Error::Refused(_) => EXIT_REFUSED,
            Error::Integrity(_) | Error::Other(_) => EXIT_FAILURE,
        }
    }

    /// A problem with the source database at `path`.
    pub fn source(path: &Path, message: impl Into<String>) -> Self {
        Error::Source {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// A failure to write `path` in the output directory, with advice for the common causes.
    pub fn output(path: &Path, err: &std::io::Error) -> Self {
        let advice = match err.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                "the disk is full: free some space or choose another --out directory"
            }
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "no permission to write here: choose a writable --out directory"
            }
            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
                "a file is in the way: --out must be a directory (or not exist yet)"
            }
            _ => "check that the --out directory is writable and has free space",
        };
        Error::Output {
            path: path.to_path_buf(),
            message: format!("cannot write ({err}); {advice}"),
        }
    }
}

impl From<dbrelease_remote::Error> for Error {
    fn from(err: dbrelease_remote::Error) -> Self {
        match err {
            dbrelease_remote::Error::Usage(message) => Error::Config(message),
            dbrelease_remote::Error::Remote(message) => Error::Remote(message),
            dbrelease_remote::Error::Integrity(message) => Error::Integrity(message),
            dbrelease_remote::Error::Local { path, message } => Error::Output { path, message },
        }
    }
}

/// Result with the user-facing [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
