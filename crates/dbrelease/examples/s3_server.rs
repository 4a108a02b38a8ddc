//! The test suite's S3 server (s3s + s3s-fs) as a standalone process, for `scripts/bench.sh`.
//! Prints its URL, then serves until killed. Usage: s3_server BUCKET

#[path = "../tests/support/s3_server.rs"]
mod s3_server;

use std::io::Write;

fn main() {
    let bucket = std::env::args().nth(1).unwrap_or_else(|| "bench".into());
    let server = s3_server::S3Server::start(&bucket);
    println!("{}", server.url);
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}
