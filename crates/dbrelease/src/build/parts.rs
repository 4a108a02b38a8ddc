//! The database's `.gz` cut into parts while it is written: a `Write` that continues in
//! `name.002`, `name.003`, … every `part_size` bytes, hashing each part as it goes. Cutting
//! after the gzip instead would need the whole `.gz` and its parts on disk at once (twice a
//! 10 GiB file, where a GitHub-hosted runner has about 14 GiB free) and read it all again.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dbrelease_remote::hashing::Digested;

use super::writeback::{HashedFile, create_hashed, finish_hashed};

/// Most parts of one file: their three-digit suffixes stay sortable (and a GitHub release holds
/// 1,000 assets in all).
pub const MAX_PARTS: u32 = 999;

/// The file's parts as written: each one's path and digest, in order.
#[derive(Debug)]
pub struct WrittenParts {
    pub parts: Vec<(PathBuf, Digested)>,
}

/// Why writing stopped because the file would need more than [`MAX_PARTS`] parts.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_PARTS} parts of {part_size} bytes")]
pub struct TooManyParts {
    pub part_size: u64,
}

/// Writes `dest.001`, `dest.002`, … of `part_size` bytes each (the last one shorter).
pub struct PartedFile {
    dest: PathBuf,
    part_size: u64,
    current: Option<HashedFile>,
    written_in_current: u64,
    done: Vec<(PathBuf, Digested)>,
}

/// The path of part `index` (from 1): `x.duckdb.gz` → `x.duckdb.gz.001`.
pub fn part_path(dest: &Path, index: u32) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{index:03}"));
    dest.with_file_name(name)
}

impl PartedFile {
    pub fn create(dest: &Path, part_size: u64) -> io::Result<Self> {
        assert!(part_size > 0, "part_size is checked by the config");
        let mut file = PartedFile {
            dest: dest.to_path_buf(),
            part_size,
            current: None,
            written_in_current: 0,
            done: Vec::new(),
        };
        file.open_next()?;
        Ok(file)
    }

    fn open_next(&mut self) -> io::Result<()> {
        let index = self.done.len() as u32 + 1;
        if index > MAX_PARTS {
            return Err(io::Error::other(TooManyParts {
                part_size: self.part_size,
            }));
        }
        self.current = Some(create_hashed(&part_path(&self.dest, index))?);
        self.written_in_current = 0;
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        let Some(sink) = self.current.take() else {
            return Ok(());
        };
        let (file, digest) = finish_hashed(sink)?;
        file.sync_all()?;
        let index = self.done.len() as u32 + 1;
        self.done.push((part_path(&self.dest, index), digest));
        Ok(())
    }

    /// Closes and syncs the last part; every part's path and digest, in order.
    pub fn finish(mut self) -> io::Result<WrittenParts> {
        self.close_current()?;
        Ok(WrittenParts {
            parts: std::mem::take(&mut self.done),
        })
    }
}

impl Write for PartedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.written_in_current == self.part_size {
            self.close_current()?;
            self.open_next()?;
        }
        let room = (self.part_size - self.written_in_current) as usize;
        let take = room.min(buf.len());
        let sink = self.current.as_mut().expect("a part is open while writing");
        let written = sink.write(&buf[..take])?;
        self.written_in_current += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path, part_size: u64, bytes: &[u8]) -> io::Result<WrittenParts> {
        let mut file = PartedFile::create(&dir.join("x.gz"), part_size)?;
        // Odd-sized writes, as a compressor gives them.
        for chunk in bytes.chunks(7) {
            file.write_all(chunk)?;
        }
        file.finish()
    }

    #[test]
    fn parts_are_consecutive_ranges_of_part_size_that_cat_restores() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..100u8).collect();
        let parts = written(dir.path(), 30, &bytes).unwrap().parts;
        let names: Vec<String> = parts
            .iter()
            .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x.gz.001", "x.gz.002", "x.gz.003", "x.gz.004"]);
        let sizes: Vec<u64> = parts.iter().map(|(_, digest)| digest.bytes).collect();
        assert_eq!(sizes, [30, 30, 30, 10]);
        let mut joined = Vec::new();
        for (path, digest) in &parts {
            let part = std::fs::read(path).unwrap();
            assert_eq!(dbrelease_remote::hashing::digest_bytes(&part), *digest);
            joined.extend(part);
        }
        assert_eq!(joined, bytes);
    }

    #[test]
    fn a_file_of_exactly_part_size_is_one_part_and_too_many_parts_stop_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let parts = written(dir.path(), 50, &[1u8; 50]).unwrap().parts;
        assert_eq!(parts.len(), 1, "no empty second part");
        let err = written(dir.path(), 1, &vec![0u8; MAX_PARTS as usize + 1]).unwrap_err();
        let too_many = err.get_ref().and_then(|e| e.downcast_ref::<TooManyParts>());
        assert!(too_many.is_some(), "{err}");
    }
}
