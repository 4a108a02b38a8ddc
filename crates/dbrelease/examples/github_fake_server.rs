//! The GitHub fake from the test suite as a standalone server, for `scripts/bench.sh`.
//! Prints its base URL (use it as GITHUB_API_URL), then serves until killed.
//! Usage: github_fake_server OWNER NAME TOKEN [SPOOL_DIR]
//! With SPOOL_DIR, uploaded assets are kept in files there instead of memory (a release larger
//! than the machine's memory).

#[path = "../tests/support/github_fake.rs"]
mod github_fake;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(4..=5).contains(&args.len()) {
        eprintln!("usage: github_fake_server OWNER NAME TOKEN [SPOOL_DIR]");
        std::process::exit(2);
    }
    let fake = github_fake::GitHubFake::start(&args[1], &args[2], &args[3]);
    if let Some(dir) = args.get(4) {
        std::fs::create_dir_all(dir).unwrap();
        fake.state.lock().unwrap().spool = Some(dir.into());
    }
    println!("{}", fake.url);
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}
