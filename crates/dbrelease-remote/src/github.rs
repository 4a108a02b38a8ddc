//! The GitHub edge: the few REST calls a release needs, with GitHub's failure modes handled
//! (retries with backoff, rate limits, leftovers of failed uploads). Uploads stream from disk.
//!
//! Reading and writing share one client because they share its error classification and retry
//! loop; the CLI's GitHub target uses the writing half. GitHub is spoken to with reqwest, not
//! octocrab: uploads stream from disk, and the retry loop needs the raw status and rate-limit
//! headers.

use std::path::Path;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tracing::{debug, warn};

use crate::http::{self, Failure, RetryPolicy, Wait};

/// Largest asset GitHub accepts.
pub const MAX_ASSET_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// A token that never shows up in Debug output or logs.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(value: String) -> Self {
        Token(value)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A release as the REST API returns it (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    /// Id.
    pub id: u64,
    /// Tag.
    pub tag_name: String,
    /// Draft releases are invisible to the public and to `GET /releases/tags/{tag}`.
    pub draft: bool,
    /// Immutable releases cannot change once published.
    #[serde(default)]
    pub immutable: bool,
    /// Pre-releases are never GitHub's "latest".
    #[serde(default)]
    pub prerelease: bool,
    /// Release notes.
    #[serde(default)]
    pub body: Option<String>,
    /// When it was published (None for drafts).
    #[serde(default)]
    pub published_at: Option<String>,
    /// When it was created (GitHub lists releases newest first by this).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Web page.
    pub html_url: String,
    /// Upload endpoint template, e.g. `https://uploads.github.com/...{?name,label}`.
    pub upload_url: String,
    /// Assets.
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A release asset.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Size.
    pub size: u64,
    /// `uploaded` when complete.
    pub state: String,
    /// `sha256:<hex>`, null on old assets.
    #[serde(default)]
    pub digest: Option<String>,
    /// Public download URL.
    #[serde(default)]
    pub browser_download_url: String,
    /// Downloads so far, as GitHub counts them (cumulative, no dates).
    #[serde(default)]
    pub download_count: u64,
}

/// The `state` of a complete asset; anything else (`starter`, `open`) is a failed upload.
pub const UPLOADED: &str = "uploaded";

impl Asset {
    /// True once GitHub holds the whole upload.
    pub fn is_complete(&self) -> bool {
        self.state == UPLOADED
    }

    /// Hex sha256 from `digest`, when GitHub reports one.
    pub fn sha256(&self) -> Option<String> {
        self.digest
            .as_deref()
            .and_then(|digest| digest.strip_prefix("sha256:"))
            .map(str::to_string)
    }
}

/// Why a GitHub call failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// 401.
    #[error(
        "GitHub rejected the token (401 Bad credentials): set a valid GITHUB_TOKEN or GH_TOKEN"
    )]
    BadToken,
    /// 404 on the repository.
    #[error(
        "repository {repo} not found, or the token cannot see it: check --repo and that the token has access (contents: write)"
    )]
    NotFound {
        /// owner/name.
        repo: String,
    },
    /// 403 without rate-limit signs.
    #[error(
        "GitHub refused {what} (403: {message}): the token needs `contents: write` on {repo} (in Actions: `permissions: contents: write`)"
    )]
    Forbidden {
        /// The operation.
        what: String,
        /// GitHub's message.
        message: String,
        /// owner/name.
        repo: String,
    },
    /// 422 and other client errors.
    #[error("GitHub rejected {what} ({status}: {message})")]
    Rejected {
        /// The operation.
        what: String,
        /// Status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// The request may or may not have been carried out (its answer was lost).
    #[error("{what}: no answer ({reason}); it may have been carried out")]
    Unknown {
        /// The operation.
        what: String,
        /// Why there was no answer.
        reason: String,
    },
    /// Still failing after the retries.
    #[error("{what} kept failing after {attempts} attempts: {last}")]
    Exhausted {
        /// The operation.
        what: String,
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        last: String,
    },
}

/// A GitHub REST client for one repository.
#[derive(Debug, Clone)]
pub struct GitHub {
    http: reqwest::Client,
    api: String,
    repo: String,
    token: Option<Token>,
    retry: RetryPolicy,
    /// Requests sent (each attempt), shared by the clones of this client: what a command cost
    /// against the rate limit.
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl GitHub {
    /// A client for `repo` (`owner/name`) at `api` (e.g. `https://api.github.com`).
    pub fn new(api: &str, repo: &str, token: Option<Token>, retry: RetryPolicy) -> Self {
        let http = http::client(&retry);
        GitHub {
            http,
            api: api.trim_end_matches('/').to_string(),
            repo: repo.to_string(),
            token,
            retry,
            requests: Default::default(),
        }
    }

    /// Requests sent so far by this client and its clones, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The repository this client talks to.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = self
            .http
            .request(method, url)
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(Token(token)) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request
    }

    /// Sends `make()` with retries on network errors, 5xx, and rate limits.
    async fn send(
        &self,
        what: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, GitHubError> {
        http::retry(
            &self.retry,
            what,
            || async {
                match make().send().await {
                    Ok(response) => self.classify(what, response).await,
                    Err(err) => Err(Failure::transient(http::describe(&err))),
                }
            },
            |exhausted| GitHubError::Exhausted {
                what: what.to_string(),
                attempts: exhausted.attempts,
                last: exhausted.last,
            },
        )
        .await
    }

    /// Like [`GitHub::send`] for a request that must not be repeated blindly (creating a
    /// release): retried only when GitHub certainly did not act on it (a rate limit, or no
    /// connection at all). When the request may have been carried out (the connection dropped
    /// after sending, a 5xx, a timeout) it fails with [`GitHubError::Unknown`], and the caller
    /// re-reads the state before deciding.
    async fn send_unrepeatable(
        &self,
        what: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, GitHubError> {
        http::retry(
            &self.retry,
            what,
            || async {
                match make().send().await {
                    Ok(response) => match self.classify(what, response).await {
                        Err(Failure::Retry {
                            reason,
                            wait: Wait::Backoff,
                        }) => Err(Failure::Fatal(GitHubError::Unknown {
                            what: what.to_string(),
                            reason,
                        })),
                        other => other,
                    },
                    Err(err) if err.is_connect() => Err(Failure::transient(http::describe(&err))),
                    Err(err) => Err(Failure::Fatal(GitHubError::Unknown {
                        what: what.to_string(),
                        reason: http::describe(&err),
                    })),
                }
            },
            |exhausted| GitHubError::Exhausted {
                what: what.to_string(),
                attempts: exhausted.attempts,
                last: exhausted.last,
            },
        )
        .await
    }

    /// Success, or why not: transient (5xx), rate limited (with GitHub's wait), or an error a
    /// user has to act on.
    async fn classify(
        &self,
        what: &str,
        response: Response,
    ) -> Result<Response, Failure<GitHubError>> {
        let status = response.status();
        if status.is_success() || status == StatusCode::FOUND || status == StatusCode::NOT_MODIFIED
        {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let message = error_message(&body);
        if let Some(wait) = http::rate_limit_wait(status, &headers, &message) {
            return Err(Failure::Retry {
                reason: format!("rate limited ({status}: {message})"),
                wait,
            });
        }
        if status.is_server_error() {
            return Err(Failure::transient(format!("{status}: {message}")));
        }
        Err(Failure::Fatal(match status {
            StatusCode::UNAUTHORIZED => GitHubError::BadToken,
            StatusCode::NOT_FOUND => GitHubError::NotFound {
                repo: self.repo.clone(),
            },
            StatusCode::FORBIDDEN => GitHubError::Forbidden {
                what: what.to_string(),
                message,
                repo: self.repo.clone(),
            },
            _ => GitHubError::Rejected {
                what: what.to_string(),
                status: status.as_u16(),
                message,
            },
        }))
    }

    fn repo_url(&self, rest: &str) -> String {
        format!("{}/repos/{}{rest}", self.api, self.repo)
    }

    /// Every release of the tag, drafts included, oldest first, in two requests whatever the
    /// number of releases: the published one by its tag, and the drafts of the newest page of
    /// the listing (the tag endpoint hides drafts). A draft is made by the run that publishes
    /// it, so a draft of this tag is among the newest 100 releases unless it was abandoned
    /// more than 100 releases ago.
    pub async fn releases_for_tag(&self, tag: &str) -> Result<Vec<Release>, GitHubError> {
        let mut found: Vec<Release> = self
            .releases_page(1)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.tag_name == tag && r.draft)
            .collect();
        if let Some(published) = self.published_release(tag).await? {
            found.push(published);
        }
        found.sort_by_key(|release| release.id);
        Ok(found)
    }

    /// One page of 100 releases, newest first (drafts only with a push token); None past the
    /// 1000 releases GitHub lists (it answers 422 there).
    pub async fn releases_page(&self, page: usize) -> Result<Option<Vec<Release>>, GitHubError> {
        let url = self.repo_url(&format!("/releases?per_page=100&page={page}"));
        let response = match self
            .send("listing releases", || {
                self.request(Method::GET, &url)
                    .header(ACCEPT, "application/vnd.github+json")
            })
            .await
        {
            Ok(response) => response,
            Err(GitHubError::Rejected {
                status: 422,
                message,
                ..
            }) if message.contains("Only the first 1000 results") => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(Some(parse(response, "listing releases").await?))
    }

    /// One page of 100 tag names (`GET /tags`, which has no 1000-result cap), in GitHub's
    /// order; an empty page past the last.
    pub async fn tags_page(&self, page: usize) -> Result<Vec<String>, GitHubError> {
        #[derive(Deserialize)]
        struct Tag {
            name: String,
        }
        let url = self.repo_url(&format!("/tags?per_page=100&page={page}"));
        let response = self
            .send("listing tags", || {
                self.request(Method::GET, &url)
                    .header(ACCEPT, "application/vnd.github+json")
            })
            .await?;
        let tags: Vec<Tag> = parse(response, "listing tags").await?;
        Ok(tags.into_iter().map(|t| t.name).collect())
    }

    /// Every published release, newest first, also past the 1000 that GitHub lists: when the
    /// listing stops there, the tags are listed (100 a page, no cap) and each tag without a
    /// listed release is looked up by tag (one request each). Drafts are left out.
    pub async fn every_published_release(&self) -> Result<Vec<Release>, GitHubError> {
        let mut found = Vec::new();
        let mut capped = false;
        for page in 1.. {
            let Some(releases) = self.releases_page(page).await? else {
                capped = true;
                break;
            };
            let full_page = releases.len() == 100;
            found.extend(releases.into_iter().filter(|r| !r.draft));
            if !full_page {
                break;
            }
        }
        if capped {
            let listed: std::collections::HashSet<String> =
                found.iter().map(|r| r.tag_name.clone()).collect();
            let mut older = Vec::new();
            for page in 1.. {
                let tags = self.tags_page(page).await?;
                let full_page = tags.len() == 100;
                for tag in tags.into_iter().filter(|t| !listed.contains(t)) {
                    if let Some(release) = self.published_release(&tag).await? {
                        older.push(release);
                    }
                }
                if !full_page {
                    break;
                }
            }
            older.sort_by(|a, b| b.published_at.cmp(&a.published_at));
            found.extend(older);
        }
        Ok(found)
    }

    /// Every release GitHub lists, newest first; drafts only with a push token. GitHub lists
    /// at most the first 1000 (then answers 422): the list stops cleanly there, so code that
    /// needs an older release asks for its tag instead.
    pub async fn all_releases(&self) -> Result<Vec<Release>, GitHubError> {
        let mut found = Vec::new();
        for page in 1.. {
            let Some(releases) = self.releases_page(page).await? else {
                warn!("GitHub lists only the newest 1000 releases; older ones are not listed");
                break;
            };
            let full_page = releases.len() == 100;
            found.extend(releases);
            if !full_page {
                break;
            }
        }
        Ok(found)
    }

    /// The release that was GitHub's latest at `end` (RFC 3339): the highest version among the
    /// releases published before then (not drafts, not pre-releases). Pages are read newest
    /// first until one page past the first release published before `end`, so a recent day
    /// costs one or two requests; None when no release was published before `end` within the
    /// 1000 releases GitHub lists.
    pub async fn latest_at(&self, end: &str) -> Result<Option<Release>, GitHubError> {
        let mut eligible: Vec<Release> = Vec::new();
        let mut pages_after_first = None;
        for page in 1.. {
            let Some(releases) = self.releases_page(page).await? else {
                break;
            };
            let full_page = releases.len() == 100;
            eligible.extend(releases.into_iter().filter(|r| {
                !r.draft && !r.prerelease && r.published_at.as_deref().is_some_and(|at| at < end)
            }));
            if !eligible.is_empty() {
                let left: &mut u32 = pages_after_first.get_or_insert(1);
                if *left == 0 {
                    break;
                }
                *left -= 1;
            }
            if !full_page {
                break;
            }
        }
        let version = |r: &Release| dbrelease_manifest::versions::release_version(&r.tag_name);
        let best = eligible
            .iter()
            .filter(|r| version(r).is_some())
            .max_by_key(|r| version(r))
            .or_else(|| {
                eligible
                    .iter()
                    .max_by(|a, b| a.published_at.cmp(&b.published_at))
            });
        Ok(best.cloned())
    }

    /// The published release of `tag`, or None (drafts are invisible to this endpoint).
    pub async fn published_release(&self, tag: &str) -> Result<Option<Release>, GitHubError> {
        let url = self.repo_url(&format!("/releases/tags/{}", http::url_segment(tag)));
        let what = format!("looking up release {tag}");
        match self
            .send(&what, || {
                self.request(Method::GET, &url)
                    .header(ACCEPT, "application/vnd.github+json")
            })
            .await
        {
            Ok(response) => Ok(Some(parse(response, &what).await?)),
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// GitHub's latest release (newest published, not a pre-release), asked conditionally:
    /// with the ETag of an earlier answer GitHub replies 304 without counting against the
    /// rate limit.
    pub async fn latest_release(&self, etag: Option<&str>) -> Result<Latest, GitHubError> {
        let url = self.repo_url("/releases/latest");
        let what = "looking up the latest release";
        let response = match self
            .send(what, || {
                let request = self
                    .request(Method::GET, &url)
                    .header(ACCEPT, "application/vnd.github+json");
                match etag {
                    Some(etag) => request.header(reqwest::header::IF_NONE_MATCH, etag),
                    None => request,
                }
            })
            .await
        {
            Ok(response) => response,
            Err(GitHubError::NotFound { .. }) => return Ok(Latest::None),
            Err(err) => return Err(err),
        };
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Latest::NotModified);
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Latest::Release(
            Box::new(parse(response, what).await?),
            etag,
        ))
    }

    /// A request for an asset's bytes through the API (works for private repositories;
    /// GitHub redirects to its download host, and reqwest drops the token on that hop).
    pub fn asset_request(&self, asset_id: u64) -> RequestBuilder {
        self.request(
            Method::GET,
            &self.repo_url(&format!("/releases/assets/{asset_id}")),
        )
        .header(ACCEPT, "application/octet-stream")
    }

    /// True when a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Creates a draft release for `tag` (at `target_commitish` when the tag does not exist).
    pub async fn create_draft(
        &self,
        tag: &str,
        title: &str,
        notes: &str,
        prerelease: bool,
        target_commitish: Option<&str>,
        make_latest: bool,
    ) -> Result<Release, GitHubError> {
        let url = self.repo_url("/releases");
        let mut body = json!({
            "tag_name": tag, "name": title, "body": notes, "draft": true, "prerelease": prerelease,
        });
        // A tag that does not exist yet is created here; without it GitHub would use the
        // default branch's head, which is not necessarily the commit being released.
        if let Some(commit) = target_commitish {
            body["target_commitish"] = json!(commit);
        }
        // A rolling tag (nightly) or a pre-release must never become GitHub's "latest".
        if !make_latest {
            body["make_latest"] = json!("false");
        }
        let what = "creating the draft release";
        let response = self
            .send_unrepeatable(what, || self.request(Method::POST, &url).json(&body))
            .await?;
        parse(response, what).await
    }

    /// Publishes a draft.
    /// Publishes a draft, replacing its notes with `body` when given.
    pub async fn publish(
        &self,
        release_id: u64,
        body: Option<&str>,
        make_latest: bool,
    ) -> Result<Release, GitHubError> {
        let url = self.repo_url(&format!("/releases/{release_id}"));
        let mut update = json!({ "draft": false });
        if !make_latest {
            update["make_latest"] = json!("false");
        }
        if let Some(body) = body {
            update["body"] = json!(body);
        }
        let response = self
            .send("publishing the release", || {
                self.request(Method::PATCH, &url).json(&update)
            })
            .await?;
        parse(response, "publishing the release").await
    }

    /// Deletes a release (used for duplicate drafts only).
    pub async fn delete_release(&self, release_id: u64) -> Result<(), GitHubError> {
        let url = self.repo_url(&format!("/releases/{release_id}"));
        match self
            .send("deleting a duplicate draft", || {
                self.request(Method::DELETE, &url)
            })
            .await
        {
            // Already gone: a retried DELETE whose first attempt was carried out.
            Ok(_) | Err(GitHubError::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The release's assets, fresh.
    pub async fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>, GitHubError> {
        let mut assets = Vec::new();
        for page in 1.. {
            let url = self.repo_url(&format!(
                "/releases/{release_id}/assets?per_page=100&page={page}"
            ));
            let response = self
                .send("listing assets", || self.request(Method::GET, &url))
                .await?;
            let batch: Vec<Asset> = parse(response, "listing assets").await?;
            let full_page = batch.len() == 100;
            assets.extend(batch);
            if !full_page {
                break;
            }
        }
        Ok(assets)
    }

    /// Downloads an asset's bytes (small files only: the published manifest).
    pub async fn download_asset(&self, asset_id: u64) -> Result<Vec<u8>, GitHubError> {
        let url = self.repo_url(&format!("/releases/assets/{asset_id}"));
        let response = self
            .send("downloading the published manifest", || {
                self.request(Method::GET, &url)
                    .header(ACCEPT, "application/octet-stream")
            })
            .await?;
        body(
            response,
            "downloading the published manifest",
            MAX_MANIFEST_BYTES,
        )
        .await
    }

    /// Renames an asset.
    pub async fn rename_asset(&self, asset_id: u64, name: &str) -> Result<Asset, GitHubError> {
        let url = self.repo_url(&format!("/releases/assets/{asset_id}"));
        let what = format!("renaming asset to {name}");
        let response = self
            .send(&what, || {
                self.request(Method::PATCH, &url)
                    .json(&json!({ "name": name }))
            })
            .await?;
        parse(response, &what).await
    }

    /// Deletes an asset. An asset that is already gone counts as deleted: a retried DELETE
    /// whose first attempt was carried out (its response lost) answers 404.
    pub async fn delete_asset(&self, asset_id: u64) -> Result<(), GitHubError> {
        let url = self.repo_url(&format!("/releases/assets/{asset_id}"));
        match self
            .send("deleting an asset", || self.request(Method::DELETE, &url))
            .await
        {
            Ok(_) | Err(GitHubError::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Uploads `path` as asset `name`, streaming from disk. Before each retry the release is
    /// re-read: an incomplete asset of that name (GitHub's `starter` state after a 502) is
    /// deleted, and an attempt whose response was lost but whose bytes landed (our size and
    /// digest under the name) counts as done.
    pub async fn upload(
        &self,
        release: &Release,
        name: &str,
        path: &Path,
        bytes: u64,
        sha256: &str,
        media_type: &str,
    ) -> Result<Asset, GitHubError> {
        let base = release
            .upload_url
            .split('{')
            .next()
            .unwrap_or(&release.upload_url)
            .to_string();
        let mut url = reqwest::Url::parse(&base).map_err(|err| GitHubError::Rejected {
            what: "the release's upload_url".into(),
            status: 0,
            message: err.to_string(),
        })?;
        url.query_pairs_mut().append_pair("name", name);
        let what = format!("uploading {name}");
        let mut attempts = 0;
        http::retry(
            &self.retry,
            &what,
            || {
                attempts += 1;
                let first = attempts == 1;
                let (url, what) = (&url, &what);
                async move {
                    if !first
                        && let Some(done) =
                            self.reconcile_upload(release, name, bytes, sha256).await?
                    {
                        return Ok(done);
                    }
                    self.upload_once(url, what, path, bytes, media_type, release, name, sha256)
                        .await
                }
            },
            |exhausted| GitHubError::Exhausted {
                what: what.clone(),
                attempts: exhausted.attempts,
                last: exhausted.last,
            },
        )
        .await
    }

    /// After a failed upload attempt: the asset if our bytes landed anyway, else None after
    /// deleting an incomplete leftover that would block the name.
    async fn reconcile_upload(
        &self,
        release: &Release,
        name: &str,
        bytes: u64,
        sha256: &str,
    ) -> Result<Option<Asset>, Failure<GitHubError>> {
        let assets = self.list_assets(release.id).await.map_err(Failure::Fatal)?;
        for asset in assets.into_iter().filter(|a| a.name == name) {
            if asset.is_complete()
                && asset.size == bytes
                && asset.sha256().is_none_or(|d| d == sha256)
            {
                return Ok(Some(asset));
            }
            if !asset.is_complete() {
                debug!(id = asset.id, state = %asset.state, "deleting leftover of a failed upload");
                self.delete_asset(asset.id).await.map_err(Failure::Fatal)?;
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_once(
        &self,
        url: &reqwest::Url,
        what: &str,
        path: &Path,
        bytes: u64,
        media_type: &str,
        release: &Release,
        name: &str,
        sha256: &str,
    ) -> Result<Asset, Failure<GitHubError>> {
        let file = tokio::fs::File::open(path).await.map_err(|err| {
            Failure::Fatal(GitHubError::Rejected {
                what: what.to_string(),
                status: 0,
                message: format!("cannot read {}: {err}", path.display()),
            })
        })?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ));
        let sent = self
            .request(Method::POST, url.as_str())
            .header(CONTENT_TYPE, media_type)
            .header(CONTENT_LENGTH, bytes)
            .body(body)
            .send()
            .await
            .map_err(|err| Failure::transient(http::describe(&err)))?;
        match self.classify(what, sent).await {
            Ok(response) => parse(response, what).await.map_err(Failure::Fatal),
            // The name is taken: by our own bytes (a lost response), by a leftover, or by
            // someone else's file.
            Err(Failure::Fatal(GitHubError::Rejected {
                status: 422,
                message,
                ..
            })) if message.contains("already_exists") => {
                match self.reconcile_upload(release, name, bytes, sha256).await? {
                    Some(asset) => Ok(asset),
                    None if self
                        .list_assets(release.id)
                        .await
                        .map_err(Failure::Fatal)?
                        .iter()
                        .all(|a| a.name != name) =>
                    {
                        Err(Failure::Retry {
                            reason: "an incomplete asset blocked the name".into(),
                            wait: Wait::Backoff,
                        })
                    }
                    None => Err(Failure::Fatal(GitHubError::Rejected {
                        what: what.to_string(),
                        status: 422,
                        message: format!(
                            "{message}: another asset named {name} with different bytes is on the release"
                        ),
                    })),
                }
            }
            Err(failure) => Err(failure),
        }
    }
}

/// The answer to a conditional "latest release" request.
#[derive(Debug)]
pub enum Latest {
    /// The release and the ETag to send next time.
    Release(Box<Release>, Option<String>),
    /// Unchanged since the ETag we sent.
    NotModified,
    /// The repository has no published release.
    None,
}

/// GitHub's error message with its error codes, e.g. `Validation Failed [already_exists]`.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .map(|value| {
            let mut text = value["message"].as_str().unwrap_or("").to_string();
            if let Some(errors) = value["errors"].as_array() {
                for error in errors {
                    if let Some(code) = error["code"].as_str() {
                        text.push_str(&format!(" [{code}]"));
                    }
                }
            }
            text
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// Largest API answer read (a page of 100 releases with their assets is well under 1 MiB).
const MAX_API_BYTES: u64 = 32 * 1024 * 1024;
/// Largest published manifest read through the API.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// A body of at most `max` bytes, as this client's error.
async fn body(response: Response, what: &str, max: u64) -> Result<Vec<u8>, GitHubError> {
    http::read_capped(response, max)
        .await
        .map_err(|err| match err {
            http::BodyError::TooLarge(max) => GitHubError::Rejected {
                what: what.to_string(),
                status: 200,
                message: format!(
                    "the answer is larger than {} MiB; refusing to read it",
                    max >> 20
                ),
            },
            http::BodyError::Network(last) => GitHubError::Exhausted {
                what: what.to_string(),
                attempts: 1,
                last,
            },
        })
}

async fn parse<T: serde::de::DeserializeOwned>(
    response: Response,
    what: &str,
) -> Result<T, GitHubError> {
    let text = body(response, what, MAX_API_BYTES).await?;
    serde_json::from_slice(&text).map_err(|err| GitHubError::Rejected {
        what: what.to_string(),
        status: 200,
        message: format!("unexpected response ({err})"),
    })
}
