//! Reproducible, parallel gzip of the database file (the technique of pigz).
//!
//! The input is cut into fixed 1 MiB chunks. Each chunk is deflated on its own, primed with
//! the last 32 KiB of the previous chunk as dictionary (so the ratio matches plain gzip) and
//! ended with a sync flush; a final empty block closes the stream. Because the chunking is
//! fixed, the output bytes depend only on the input, the level and the header mtime, never on
//! the number of threads or the machine. One member, so every gzip reader accepts it.

use std::io::{self, Read, Write};

use flate2::{Compress, Compression, FlushCompress, Status};
use sha2::{Digest, Sha256};

use dbrelease_remote::hashing::{Digested, HashingWriter};

/// Chunk size: part of the output format (changing it changes the bytes).
const CHUNK: usize = 1 << 20;
/// Deflate's window: the most history a chunk can refer back to.
const WINDOW: usize = 32 * 1024;
/// Gzip header OS byte: fixed to Unix so the bytes do not depend on the machine.
const OS_UNIX: u8 = 3;

/// Sizes and digests of both sides of the compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipOutcome {
    /// The `.gz` bytes as written.
    pub compressed: Digested,
    /// The input bytes as read.
    pub uncompressed: Digested,
}

/// Compresses `input` into `output` with `threads` workers; `progress` gets bytes read so far.
pub fn gzip_parallel<R: Read, W: Write>(
    mut input: R,
    output: W,
    level: u32,
    mtime: u32,
    threads: usize,
    progress: &dyn Fn(u64),
) -> io::Result<GzipOutcome> {
    let threads = threads.max(1);
    let mut out = HashingWriter::new(output);
    out.write_all(&gzip_header(mtime))?;

    let mut input_hash = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut total_in: u64 = 0;
    let mut previous_tail: Vec<u8> = Vec::new();
    // Two chunks per worker keeps both cores busy while memory stays at a few MiB.
    let batch_len = threads * 2;

    loop {
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(batch_len);
        let mut at_end = false;
        while batch.len() < batch_len {
            let chunk = read_chunk(&mut input)?;
            if chunk.is_empty() {
                at_end = true;
                break;
            }
            let short = chunk.len() < CHUNK;
            batch.push(chunk);
            if short {
                at_end = true;
                break;
            }
        }

        if !batch.is_empty() {
            let dictionaries: Vec<&[u8]> = std::iter::once(previous_tail.as_slice())
                .chain(batch.iter().map(|chunk| tail(chunk)))
                .take(batch.len())
                .collect();
            let compressed = std::thread::scope(|scope| -> io::Result<Vec<Vec<u8>>> {
                let workers: Vec<_> = (0..threads.min(batch.len()))
                    .map(|worker| {
                        let batch = &batch;
                        let dictionaries = &dictionaries;
                        scope.spawn(move || -> io::Result<Vec<(usize, Vec<u8>)>> {
                            (worker..batch.len())
                                .step_by(threads)
                                .map(|index| {
                                    deflate_chunk(&batch[index], dictionaries[index], level)
                                        .map(|bytes| (index, bytes))
                                })
                                .collect()
                        })
                    })
                    .collect();
                // The hashes are sequential by nature; compute them while the workers deflate.
                for chunk in &batch {
                    input_hash.update(chunk);
                    crc.update(chunk);
                }
                let mut ordered = vec![Vec::new(); batch.len()];
                for worker in workers {
                    let results = worker.join().expect("gzip worker panicked")?;
                    for (index, bytes) in results {
                        ordered[index] = bytes;
                    }
                }
                Ok(ordered)
            })?;
            for bytes in compressed {
                out.write_all(&bytes)?;
            }
            for chunk in &batch {
                total_in += chunk.len() as u64;
            }
            previous_tail = tail(batch.last().expect("non-empty")).to_vec();
            progress(total_in);
        }

        if at_end {
            break;
        }
    }

    // A final, empty, fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block): 0x03 0x00.
    out.write_all(&[0x03, 0x00])?;
    out.write_all(&crc.finalize().to_le_bytes())?;
    // ISIZE is the input length modulo 2^32, as RFC 1952 specifies.
    out.write_all(&((total_in & 0xffff_ffff) as u32).to_le_bytes())?;
    let (_, compressed) = out.finish()?;
    Ok(GzipOutcome {
        compressed,
        uncompressed: Digested {
            bytes: total_in,
            sha256: hex::encode(input_hash.finalize()),
        },
    })
}

/// RFC 1952 header: no file name, fixed OS, given mtime.
fn gzip_header(mtime: u32) -> [u8; 10] {
    let m = mtime.to_le_bytes();
    [0x1f, 0x8b, 8, 0, m[0], m[1], m[2], m[3], 0, OS_UNIX]
}

fn tail(chunk: &[u8]) -> &[u8] {
    &chunk[chunk.len().saturating_sub(WINDOW)..]
}

/// Reads up to one chunk; shorter only at the end of the input.
fn read_chunk<R: Read>(input: &mut R) -> io::Result<Vec<u8>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    input.take(CHUNK as u64).read_to_end(&mut chunk)?;
    Ok(chunk)
}

/// Raw deflate of one chunk, primed with `dictionary`, ended by a sync flush (byte-aligned,
/// not final) so chunks can be concatenated.
fn deflate_chunk(chunk: &[u8], dictionary: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut compressor = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        compressor
            .set_dictionary(dictionary)
            .map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(chunk.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 16 * 1024 {
            out.reserve(chunk.len() / 4 + 64 * 1024);
        }
        let consumed = compressor.total_in() as usize;
        let status = compressor
            .compress_vec(&chunk[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let done = compressor.total_in() as usize == chunk.len() && out.len() < out.capacity();
        if done || status == Status::StreamEnd {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    fn pseudo_random(len: usize) -> Vec<u8> {
        // Compressible but not trivial: text-like bytes from a small LCG.
        let mut state: u32 = 12345;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"abcdefghij  \n0123"[(state >> 16) as usize % 17]
            })
            .collect()
    }

    fn compress(data: &[u8], threads: usize) -> (Vec<u8>, GzipOutcome) {
        let mut out = Vec::new();
        let outcome = gzip_parallel(data, &mut out, 6, 0, threads, &|_| {}).unwrap();
        (out, outcome)
    }

    #[test]
    fn output_decompresses_to_the_input_for_awkward_sizes() {
        for len in [0, 1, WINDOW, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data = pseudo_random(len);
            let (gz, outcome) = compress(&data, 2);
            let mut back = Vec::new();
            GzDecoder::new(gz.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
            assert_eq!(outcome.uncompressed.bytes, len as u64);
            assert_eq!(outcome.compressed.bytes, gz.len() as u64);
        }
    }

    #[test]
    fn bytes_do_not_depend_on_thread_count() {
        let data = pseudo_random(5 * CHUNK + 999);
        let (one, _) = compress(&data, 1);
        let (three, _) = compress(&data, 3);
        assert_eq!(one, three);
    }

    #[test]
    fn header_has_no_name_and_the_given_mtime() {
        let mut out = Vec::new();
        gzip_parallel(&b"x"[..], &mut out, 6, 1_700_000_000, 2, &|_| {}).unwrap();
        assert_eq!(&out[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&out[4..8], &1_700_000_000u32.to_le_bytes());
    }

    #[test]
    fn dictionary_priming_keeps_the_ratio_close_to_single_stream_deflate() {
        let data = pseudo_random(4 * CHUNK);
        let (parallel, _) = compress(&data, 2);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap();
        assert!(
            (parallel.len() as f64) < single.len() as f64 * 1.01,
            "parallel {} vs single {}",
            parallel.len(),
            single.len()
        );
    }
}
