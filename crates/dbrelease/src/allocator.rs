//! Allocator settings for the build's memory pattern.
//!
//! Every Parquet column chunk is encoded into a fresh page buffer of up to a few MiB and
//! compressed into another. glibc serves blocks that large with `mmap` and unmaps them on
//! `free`, so each chunk paid for its pages twice in the kernel: a third of the export's CPU time
//! was system time. Keeping such blocks in the heap (up to 32 MiB) and letting up to 128 MiB of
//! free heap stay mapped cut the export's wall time by 8–12% on the benchmark shapes with the
//! same peak RSS (`scripts/bench_parquet.sh`).

/// Applies the settings; call once, before other threads start. Does nothing where the C
/// library is not glibc.
pub fn tune_for_build() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread is
    // started, as glibc asks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// Rust's allocations (Arrow batches, Parquet pages, compressed buffers) go to mimalloc, which
/// keeps freed pages for the next column chunk. Under glibc the encoder threads' arenas gave
/// them back and faulted them in again, chunk after chunk: 2.1 M page faults and 11 s of system
/// time for 1 GiB of log lines, against DuckDB's own writer's 0.7 M. DuckDB's C++ keeps glibc,
/// tuned by [`tune_for_build`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
