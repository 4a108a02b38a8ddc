//! The one HTTP layer: one client factory, one retry policy and one classification of failures
//! (transient, rate limited with its wait, permanent), used by GitHub API calls, uploads,
//! downloads and the S3 target's part retries.

use std::future::Future;
use std::time::Duration;

use backon::BackoffBuilder;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tracing::warn;

/// The User-Agent of every request (GitHub rejects requests without one).
pub const USER_AGENT: &str = concat!("dbrelease/", env!("CARGO_PKG_VERSION"));

/// How often and how long to retry, and how long a silent connection may last.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First delay.
    pub min_delay: Duration,
    /// Largest delay between attempts.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Longest wait a server may ask for before we give up instead.
    pub max_rate_limit_wait: Duration,
    /// First wait after a secondary rate limit that names no time (GitHub: at least a minute),
    /// doubled on each further one.
    pub secondary_limit_wait: Duration,
    /// How long a response (or a stalled upload) may stay silent.
    pub read_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retries: 6,
            max_rate_limit_wait: Duration::from_secs(300),
            secondary_limit_wait: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The waits between attempts: exponential with jitter, `max_retries` of them.
    fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
            .build()
    }
}

/// The HTTP client of a run: connect and read timeouts, so a stalled server fails the attempt
/// instead of hanging a release job.
pub fn client(policy: &RetryPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(policy.read_timeout)
        .user_agent(USER_AGENT)
        .build()
        .expect("the HTTP client builds (rustls, no system configuration read)")
}

/// When to try a failed attempt again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The policy's exponential backoff (network trouble, 5xx).
    Backoff,
    /// The server said how long (`retry-after`, `x-ratelimit-reset`).
    Server(Duration),
    /// A secondary rate limit that names no time: at least a minute, then doubling.
    SecondaryLimit,
}

/// Why one attempt did not succeed.
#[derive(Debug)]
pub enum Failure<E> {
    /// Worth another attempt.
    Retry {
        /// In words, for the log and the final error.
        reason: String,
        /// How long to wait first.
        wait: Wait,
    },
    /// Not worth retrying.
    Fatal(E),
}

impl<E> Failure<E> {
    /// A transient failure retried after the usual backoff.
    pub fn transient(reason: impl Into<String>) -> Self {
        Failure::Retry {
            reason: reason.into(),
            wait: Wait::Backoff,
        }
    }
}

/// The attempts ran out; `last` says why the last one failed.
#[derive(Debug, Clone)]
pub struct Exhausted {
    /// Attempts made.
    pub attempts: usize,
    /// The last failure, in words.
    pub last: String,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kept failing after {} attempts: {}",
            self.attempts, self.last
        )
    }
}

/// Runs `attempt` until it succeeds, fails fatally, or the policy runs out (then `exhausted`
/// makes the error). Every retry loop of dbrelease is this one, or [`Retrier`] where an attempt
/// keeps state between tries (a download's offset).
pub async fn retry<T, E, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut attempt: impl FnMut() -> Fut,
    exhausted: impl FnOnce(Exhausted) -> E,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let mut retrier = Retrier::new(policy, what);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Fatal(err)) => return Err(err),
            Err(Failure::Retry { reason, wait }) => {
                if let Err(out_of_attempts) = retrier.wait(reason, wait).await {
                    return Err(exhausted(out_of_attempts));
                }
            }
        }
    }
}

/// The waiting half of [`retry`], for loops that own their state.
pub struct Retrier<'a> {
    policy: &'a RetryPolicy,
    what: &'a str,
    delays: Box<dyn Iterator<Item = Duration> + Send>,
    attempts: usize,
    secondary_limits: u32,
}

impl<'a> Retrier<'a> {
    /// A fresh schedule for the operation `what`.
    pub fn new(policy: &'a RetryPolicy, what: &'a str) -> Self {
        Retrier {
            policy,
            what,
            delays: Box::new(policy.delays()),
            attempts: 0,
            secondary_limits: 0,
        }
    }

    /// Attempts failed so far.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Sleeps before the next attempt, or says that the attempts ran out (or that the server
    /// asks for a longer wait than the policy accepts).
    pub async fn wait(&mut self, reason: String, wait: Wait) -> Result<(), Exhausted> {
        self.attempts += 1;
        let Some(backoff) = self.delays.next() else {
            return Err(Exhausted {
                attempts: self.attempts,
                last: reason,
            });
        };
        let wait = match wait {
            Wait::Backoff => backoff,
            Wait::Server(asked) => asked,
            Wait::SecondaryLimit => {
                self.secondary_limits += 1;
                self.policy.secondary_limit_wait * 2u32.saturating_pow(self.secondary_limits - 1)
            }
        };
        if wait > self.policy.max_rate_limit_wait {
            return Err(Exhausted {
                attempts: self.attempts,
                last: format!("{reason}; the server asks to wait {}s", wait.as_secs()),
            });
        }
        warn!(what = %self.what, %reason, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// True for statuses worth another attempt: 5xx, 429, 408.
pub fn is_transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// When a response is a rate limit, how long to wait, following GitHub's documented rules:
/// `retry-after` first; else, with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`; else
/// a 429, or a 403 whose message names a secondary rate limit, waits at least a minute. `message`
/// is the response's error message (a 403 for missing permissions is not a rate limit).
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Wait> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(seconds) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Wait::Server(Duration::from_secs(seconds)));
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        let now = jiff::Timestamp::now().as_second();
        return Some(Wait::Server(Duration::from_secs(
            (reset - now).max(1) as u64
        )));
    }
    let secondary = message
        .to_ascii_lowercase()
        .contains("secondary rate limit");
    (status == StatusCode::TOO_MANY_REQUESTS || secondary).then_some(Wait::SecondaryLimit)
}

/// A reqwest error in words. reqwest's errors name the URL, never headers, so no token can
/// leak through them.
pub fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("timed out: {err}")
    } else if err.is_connect() {
        format!("cannot connect: {err}")
    } else {
        err.to_string()
    }
}

/// Why a bounded body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit: refused as soon as that was known.
    TooLarge(u64),
    /// The connection failed while reading.
    Network(String),
}

/// A response body, refused once it exceeds `max` bytes (announced or received): a hostile or
/// broken server cannot make a client buffer without bound.
pub async fn read_capped(mut response: reqwest::Response, max: u64) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > max) {
        return Err(BodyError::TooLarge(max));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| BodyError::Network(describe(&err)))?
    {
        if bytes.len() as u64 + chunk.len() as u64 > max {
            return Err(BodyError::TooLarge(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A header's value as text.
pub fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Percent-encodes one URL path segment.
pub fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn rate_limits_follow_githubs_rules() {
        let forbidden = StatusCode::FORBIDDEN;
        assert_eq!(
            rate_limit_wait(forbidden, &headers(&[("retry-after", "7")]), ""),
            Some(Wait::Server(Duration::from_secs(7)))
        );
        assert_eq!(
            rate_limit_wait(
                forbidden,
                &headers(&[]),
                "You have exceeded a secondary rate limit."
            ),
            Some(Wait::SecondaryLimit)
        );
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &headers(&[]), ""),
            Some(Wait::SecondaryLimit)
        );
        // A plain 403 is a permission problem, never waited on.
        assert_eq!(
            rate_limit_wait(
                forbidden,
                &headers(&[]),
                "Resource not accessible by integration"
            ),
            None
        );
    }

    #[tokio::test]
    async fn a_secondary_limit_waits_at_least_the_minimum_then_doubles() {
        let policy = RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            secondary_limit_wait: Duration::from_millis(40),
            ..RetryPolicy::default()
        };
        let started = std::time::Instant::now();
        let mut calls = 0;
        let result: Result<u32, String> = retry(
            &policy,
            "test",
            || {
                calls += 1;
                let call = calls;
                async move {
                    if call < 3 {
                        Err(Failure::Retry {
                            reason: "limited".into(),
                            wait: Wait::SecondaryLimit,
                        })
                    } else {
                        Ok(call)
                    }
                }
            },
            |exhausted| exhausted.to_string(),
        )
        .await;
        assert_eq!(result, Ok(3));
        // 40 ms, then 80 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn running_out_of_attempts_reports_the_last_reason() {
        let policy = RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let result: Result<(), String> = retry(
            &policy,
            "test",
            || async { Err(Failure::transient("502 Bad Gateway")) },
            |exhausted| exhausted.to_string(),
        )
        .await;
        assert_eq!(
            result,
            Err("kept failing after 3 attempts: 502 Bad Gateway".to_string())
        );
    }
}
