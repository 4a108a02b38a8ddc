//! sha256 and size of an artifact taken from the bytes as they are written: no second pass.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// A writer that hashes and counts everything passed through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

/// Size and sha256 of a finished stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digested {
    /// Bytes written.
    pub bytes: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the inner writer with the digest of everything written.
    pub fn finish(mut self) -> io::Result<(W, Digested)> {
        self.inner.flush()?;
        let digest = Digested {
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        };
        Ok((self.inner, digest))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted, so a short write is never double counted.
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// sha256 of bytes in memory (for the small metadata files).
pub fn digest_bytes(bytes: &[u8]) -> Digested {
    Digested {
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// Size and sha256 of a file on disk, read once.
pub fn hash_file(path: &std::path::Path) -> io::Result<Digested> {
    let mut reader = io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut hasher = HashingWriter::new(io::sink());
    io::copy(&mut reader, &mut hasher)?;
    Ok(hasher.finish()?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_known_vector() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"c").unwrap();
        let (inner, digest) = writer.finish().unwrap();
        assert_eq!(inner, b"abc");
        assert_eq!(digest.bytes, 3);
        assert_eq!(
            digest.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digest_bytes(b"abc"), digest);
    }
}
