//! The GitHub fake from the test suite as a standalone server, for `scripts/bench.sh`.
//! Prints its base URL (use it as GITHUB_API_URL), then serves until killed.
//! Usage: github_fake_server OWNER NAME TOKEN

#[path = "../tests/support/github_fake.rs"]
mod github_fake;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: github_fake_server OWNER NAME TOKEN");
        std::process::exit(2);
    }
    let fake = github_fake::GitHubFake::start(&args[1], &args[2], &args[3]);
    println!("{}", fake.url);
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}
