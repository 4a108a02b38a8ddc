//! Files and folders in places that others may share (the cache, `--out`, the build's output
//! folder): dbrelease creates what it writes, and never follows, truncates or removes an entry
//! that it did not make.
//!
//! The rules, one function each:
//! - a file that dbrelease writes is created new ([`create_new`]: `O_EXCL`, so no link at the
//!   path is followed, dangling or not); where an earlier run may have left one under the name,
//!   the entry is removed first, and only when it is a link or a regular file ([`create_fresh`]);
//! - an existing file is reused (a resumed download) only when it is a regular file of this user
//!   with one link ([`open_resumable`]): a planted hard link's other name never sees a write;
//! - a folder on the way is entered only when it is a real folder of this user ([`ensure_dirs`]);
//!   a link in its place is removed, never entered;
//! - folders dbrelease creates are private (`0700`).
//!
//! A rename (`rename(2)`) replaces the entry at its destination, never what a link there points
//! to, so "write a new file, then rename it over the final name" needs nothing more.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Options that never follow a link at the last component of the path.
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    options
}

/// Creates `path` as a new, empty file for writing; fails with `AlreadyExists` when anything
/// is there, a link included (`O_CREAT | O_EXCL` never follows one).
pub fn create_new(path: &Path) -> io::Result<File> {
    no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
}

/// Creates `path` as a new file, first removing what an earlier run may have left under that
/// name: a link (the link itself, not its target) or a regular file. Anything else (a folder,
/// a socket, a device) is refused with an error naming it.
pub fn create_fresh(path: &Path) -> Result<File> {
    match create_new(path) {
        Ok(file) => Ok(file),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            remove_link_or_file(path)?;
            create_new(path).map_err(|err| Error::local(path, &err))
        }
        Err(err) => Err(Error::local(path, &err)),
    }
}

/// Removes the entry at `path` when it is a link or a regular file (an absent entry is fine);
/// refuses a folder or any other kind of entry. A link is removed as a link: its target is
/// untouched.
pub fn remove_link_or_file(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::local(path, &err)),
        Ok(metadata) if metadata.is_symlink() || metadata.is_file() => {
            match std::fs::remove_file(path) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Error::local(path, &err)),
                _ => Ok(()),
            }
        }
        Ok(metadata) => Err(refused(path, &metadata)),
    }
}

/// Opens an existing file for reading and appending to it (a partial download), but only when
/// it is a regular file of this user with no other name: None otherwise, or when there is
/// nothing. The caller then starts over with [`create_fresh`], which removes the entry only.
pub fn open_resumable(path: &Path) -> Result<Option<File>> {
    let file = match no_follow(OpenOptions::new().read(true).write(true)).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A link (ELOOP), a folder, a FIFO…: not ours to resume.
        Err(_) => return Ok(None),
    };
    let metadata = file.metadata().map_err(|err| Error::local(path, &err))?;
    Ok(is_own_single_file(&metadata).then_some(file))
}

/// True for a regular file of this user with exactly one name.
pub fn is_own_single_file(metadata: &Metadata) -> bool {
    if !metadata.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        metadata.nlink() == 1 && metadata.uid() == uid
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// What is at `path`, without following a link: the metadata of a regular file of this user
/// with one name, else None (nothing, a link, a hard-linked file, anything else).
pub fn own_file(path: &Path) -> Option<Metadata> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(is_own_single_file)
}

/// Creates `root` (and the folders above it) when missing, owner-only, and warns when an
/// existing `root` can be written by other accounts. Returns the warning, if any, for the
/// caller to show.
pub fn prepare_root(root: &Path) -> Result<Option<String>> {
    match std::fs::symlink_metadata(root) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            create_private_dir_all(root)?;
            Ok(None)
        }
        Err(err) => Err(Error::local(root, &err)),
        Ok(link) if link.is_symlink() && !owned_by_user(&link) => Err(Error::Local {
            path: root.to_path_buf(),
            message: "is a symbolic link made by another account; dbrelease does not follow it: pass the folder it points to, or another --cache-dir".into(),
        }),
        Ok(_) => {
            // The root is the user's choice (`--cache-dir`, `--out`) and may be a link they made:
            // it is followed, but it must end at a folder.
            let metadata = std::fs::metadata(root).map_err(|err| Error::local(root, &err))?;
            if !metadata.is_dir() {
                return Err(Error::Local {
                    path: root.to_path_buf(),
                    message: "is not a folder; choose a folder (or a path that does not exist yet)"
                        .into(),
                });
            }
            Ok(writable_by_others(&metadata).then(|| {
                format!(
                    "{} can be written by other accounts; dbrelease keeps its files in private folders inside it and never follows a link there, but another account can still delete them: prefer a private folder (chmod 700, or another --cache-dir)",
                    root.display()
                )
            }))
        }
    }
}

fn writable_by_others(metadata: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o022 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        false
    }
}

/// Creates `path` and the missing folders above it, each owner-only (`0700`).
pub fn create_private_dir_all(path: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|err| Error::local(path, &err))
}

/// `root/relative` as a chain of real folders of this user, created owner-only where missing.
/// `root` must exist (see [`prepare_root`]). A link in place of a folder on the way is removed
/// (the link only) and a folder made; a file, a folder of another account, or anything else is
/// refused with an error naming it. So nothing below `root` is ever reached through a link.
pub fn ensure_dirs(root: &Path, relative: &Path) -> Result<PathBuf> {
    let mut path = root.to_path_buf();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            return Err(Error::Usage(format!(
                "{} is not a plain relative folder name",
                relative.display()
            )));
        };
        path.push(name);
        ensure_dir(&path)?;
    }
    Ok(path)
}

/// One folder of [`ensure_dirs`].
fn ensure_dir(path: &Path) -> Result<()> {
    // Twice at most: once more after a link in the way was removed or a racing run made it.
    for _ in 0..2 {
        match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                return if owned_by_user(&metadata) {
                    Ok(())
                } else {
                    Err(Error::Local {
                        path: path.to_path_buf(),
                        message: "belongs to another account; dbrelease only enters folders it made: remove it, or choose another folder (--cache-dir, --out)".into(),
                    })
                };
            }
            Ok(metadata) if metadata.is_symlink() => {
                tracing::warn!(path = %path.display(), "a symbolic link is where a folder of dbrelease's belongs; removing the link (its target is untouched)");
                remove_link_or_file(path)?;
            }
            Ok(metadata) => return Err(refused(path, &metadata)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let mut builder = std::fs::DirBuilder::new();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    builder.mode(0o700);
                }
                match builder.create(path) {
                    Ok(()) => return Ok(()),
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(err) => return Err(Error::local(path, &err)),
                }
            }
            Err(err) => return Err(Error::local(path, &err)),
        }
    }
    Err(Error::Local {
        path: path.to_path_buf(),
        message: "keeps changing while dbrelease makes it a folder; is another program replacing it? Choose a private folder".into(),
    })
}

/// True when this user owns the entry (of a link: the link itself, from `symlink_metadata`).
pub fn owned_by_user(metadata: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        metadata.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        true
    }
}

/// The error for an entry that dbrelease will not replace.
pub fn refused(path: &Path, metadata: &Metadata) -> Error {
    let what = if metadata.is_dir() {
        "a folder"
    } else if metadata.is_symlink() {
        "a symbolic link"
    } else if metadata.is_file() {
        "a file that dbrelease did not write"
    } else {
        "not a regular file"
    };
    Error::Local {
        path: path.to_path_buf(),
        message: format!(
            "is {what}, where dbrelease writes a file of its own; it never follows, replaces or deletes what it did not make: move it away, or choose another folder"
        ),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_new_file_never_follows_a_planted_link_dangling_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"precious").unwrap();
        let planted = dir.path().join("name");
        symlink(&outside, &planted).unwrap();
        assert_eq!(
            create_new(&planted).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        symlink(dir.path().join("missing"), dir.path().join("dangling")).unwrap();
        assert!(create_new(&dir.path().join("dangling")).is_err());
        assert!(!dir.path().join("missing").exists());
        // create_fresh removes the link, not its target.
        drop(create_fresh(&planted).unwrap());
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_file());
    }

    #[test]
    fn only_a_single_named_file_of_ours_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"precious").unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&outside, &hard).unwrap();
        assert!(open_resumable(&hard).unwrap().is_none());
        let soft = dir.path().join("soft");
        symlink(&outside, &soft).unwrap();
        assert!(open_resumable(&soft).unwrap().is_none());
        let own = dir.path().join("own");
        std::fs::write(&own, b"part").unwrap();
        assert!(open_resumable(&own).unwrap().is_some());
    }

    #[test]
    fn folders_on_the_way_are_real_private_folders() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let root = dir.path().join("root");
        prepare_root(&root).unwrap();
        symlink(&elsewhere, root.join("a")).unwrap();
        let made = ensure_dirs(&root, Path::new("a/b")).unwrap();
        assert!(std::fs::symlink_metadata(root.join("a")).unwrap().is_dir());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(root.join("file"), b"x").unwrap();
        assert!(ensure_dirs(&root, Path::new("file/x")).is_err());
    }
}
