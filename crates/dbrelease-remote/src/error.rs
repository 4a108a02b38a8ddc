//! Why reading a release failed, grouped by who has to act. The CLI maps each group to its exit
//! code; the Python package to an exception.

use std::path::{Path, PathBuf};

/// A failure to read or store a published release; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong (options that contradict each other, nothing cached for
    /// `--offline`, a tag that is not published).
    #[error("{0}")]
    Usage(String),
    /// The origin failed or refused (network, HTTP status, rate limit, GitHub permissions).
    #[error("{0}")]
    Remote(String),
    /// Published bytes do not match the manifest, or a published document is unusable.
    #[error("{0}")]
    Integrity(String),
    /// A local file (cache, `--out`) cannot be written or read.
    #[error("{}: {message}", path.display())]
    Local {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
}

impl Error {
    /// A local file that cannot be written, with advice for the common causes.
    pub fn local(path: &Path, err: &std::io::Error) -> Self {
        let advice = match err.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                "the disk is full: free some space or choose another folder"
            }
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "no permission to write here: choose a writable folder"
            }
            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
                "a file is in the way of a folder"
            }
            _ => "check that the folder is writable and has free space",
        };
        Error::Local {
            path: path.to_path_buf(),
            message: format!("cannot write ({err}); {advice}"),
        }
    }
}

impl From<crate::github::GitHubError> for Error {
    fn from(err: crate::github::GitHubError) -> Self {
        Error::Remote(err.to_string())
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
