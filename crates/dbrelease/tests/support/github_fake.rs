//! A stateful fake of the GitHub REST API for releases, on 127.0.0.1.
//!
//! It follows GitHub's documented behaviour (shapes from @octokit/openapi's
//! api.github.com.json): `GET /releases/tags/{tag}` hides drafts, `GET /releases` lists
//! them; uploads go to the host in `upload_url`; a name already taken is 422
//! `already_exists`; a 502 during upload leaves an empty asset in state `starter`; assets
//! carry `digest: "sha256:…"`; published immutable releases refuse changes. Faults are
//! injected per request, from a queue or at random with a fixed seed.
#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A fault to inject into one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status (uploads with 5xx leave a `starter` asset, as GitHub does).
    Status(u16),
    /// Secondary rate limit: 403 with `retry-after: 1`.
    RateLimit,
    /// 429 with `retry-after: 1`.
    TooMany,
    /// Drop the connection after reading part of the request.
    Reset,
    /// Answer only after this long (longer than the client's read timeout = a stall).
    Delay(Duration),
    /// Carry the request out, then drop the connection: the client never learns it succeeded.
    LoseResponse,
    /// A secondary rate limit as GitHub sometimes sends it: 403, its message, no `retry-after`.
    SecondaryLimit,
}

/// Which requests a queued fault applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum On {
    /// Asset uploads.
    Upload,
    /// Any request.
    Any,
    /// Requests whose `METHOD /path` line contains this text, e.g. `"DELETE /repos/o/r/releases/assets"`.
    Matching(&'static str),
}

#[derive(Debug, Clone)]
pub struct FakeAsset {
    pub id: u64,
    pub name: String,
    pub state: String,
    pub content_type: String,
    /// Shared, so a download or a listing never copies a 1.5 GiB asset.
    pub data: Bytes,
    /// GitHub's `download_count`: every request the download host serves for it.
    pub downloads: u64,
}

#[derive(Debug, Clone, Default)]
pub struct FakeRelease {
    pub id: u64,
    pub tag: String,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
    pub immutable: bool,
    pub assets: Vec<FakeAsset>,
    /// Where a tag that did not exist was created (`target_commitish`, if sent).
    pub target_commitish: Option<String>,
    /// False when created or published with `make_latest: "false"`: never GitHub's latest.
    pub make_latest: bool,
    /// When it was created (the fake's clock, [`GitHubState::now`]).
    pub created_at: String,
    /// When it was published; None while a draft.
    pub published_at: Option<String>,
    /// Order of publication: GitHub's latest is the release most recently published with
    /// `make_latest` (not the one created last).
    pub published_seq: u64,
}

impl FakeRelease {
    /// GitHub's latest release: the one most recently published as latest, never a draft or
    /// a pre-release.
    pub fn latest(releases: &[FakeRelease]) -> Option<&FakeRelease> {
        releases
            .iter()
            .filter(|r| !r.draft && !r.prerelease && r.make_latest)
            .max_by_key(|r| r.published_seq)
    }
}

/// Everything the fake knows; tests read and change it directly.
#[derive(Debug)]
pub struct GitHubState {
    pub base: String,
    pub owner: String,
    pub repo: String,
    pub token: String,
    /// A token that may read but not write (403 on changes).
    pub read_only_token: Option<String>,
    /// Releases become immutable when published.
    pub immutable_releases: bool,
    pub releases: Vec<FakeRelease>,
    pub next_id: u64,
    pub queued_faults: VecDeque<(On, Fault)>,
    /// Random faults: (rng, probability, faults left).
    pub random_faults: Option<(StdRng, f64, usize)>,
    /// After every change: (what happened, asset names of that release).
    pub events: Vec<(String, BTreeSet<String>)>,
    /// Every request line, in order (method, path).
    pub requests: Vec<String>,
    /// Bytes received by successful uploads.
    pub uploads_bytes: u64,
    /// Every route used, as `METHOD /template` (templates as in GitHub's OpenAPI paths).
    pub routes: BTreeSet<String>,
    /// GitHub lists only the first 1000 releases; a page past them is a 422. Tests lower it.
    pub list_cap: usize,
    /// Random faults draw from every kind (lost responses, stalls, secondary limits without
    /// `retry-after` too), not only answers.
    pub every_fault_kind: bool,
    /// `retry-after` seconds of injected rate limits (the fault harness uses 0).
    pub retry_after_secs: u64,
    /// SIGKILL process `pid` at the `n`-th write request (1-based), before the fake acts on it
    /// or, with `after`, once it has: (pid, n, after).
    pub kill_at: Option<(u32, usize, bool)>,
    /// Write requests (anything but GET, uploads included) seen so far.
    pub writes_seen: usize,
    /// Faults injected so far (queued and random).
    pub faults_injected: usize,
    /// The fake's clock (RFC 3339): `created_at`/`published_at` of what is made now.
    pub now: String,
    /// Releases published so far (orders "latest").
    pub publish_count: u64,
    /// After every request: the request line, and what `GET /releases/latest` would have
    /// answered then (tag and asset names), to check a switch never shows a half release.
    pub latest_log: Vec<(String, Option<LatestSeen>)>,
    /// Where uploaded assets are kept, if not in memory: each is written to a file here and
    /// served from a read-only map of it, so a release larger than the machine's memory fits
    /// (the page cache holds it, and gives it back under pressure). For the benchmark.
    pub spool: Option<std::path::PathBuf>,
}

impl GitHubState {
    /// Publishes release `index` now (as a PATCH `draft: false` does).
    pub fn mark_published(&mut self, index: usize) {
        self.publish_count += 1;
        let (seq, now) = (self.publish_count, self.now.clone());
        let release = &mut self.releases[index];
        release.draft = false;
        release.published_seq = seq;
        release.published_at.get_or_insert(now);
    }

    /// Adds a published release with `assets` (name, bytes) at time `at`, as if an earlier
    /// run made it: for tests that need a long history.
    pub fn seed_release(&mut self, tag: &str, at: &str, assets: &[(&str, Vec<u8>)]) {
        let id = self.next_id;
        self.next_id += 1;
        let assets = assets
            .iter()
            .map(|(name, data)| {
                let asset_id = self.next_id;
                self.next_id += 1;
                FakeAsset {
                    id: asset_id,
                    name: name.to_string(),
                    state: "uploaded".into(),
                    content_type: "application/octet-stream".into(),
                    data: Bytes::from(data.clone()),
                    downloads: 0,
                }
            })
            .collect();
        self.publish_count += 1;
        self.releases.push(FakeRelease {
            id,
            tag: tag.into(),
            name: tag.into(),
            assets,
            make_latest: true,
            created_at: at.into(),
            published_at: Some(at.into()),
            published_seq: self.publish_count,
            ..FakeRelease::default()
        });
    }
}

pub type Shared = Arc<Mutex<GitHubState>>;

/// What `releases/latest` answered: its tag and asset names.
pub type LatestSeen = (String, BTreeSet<String>);

/// A running fake.
pub struct GitHubFake {
    pub url: String,
    pub state: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl GitHubFake {
    /// Starts the fake for `owner/repo` accepting `token`.
    pub fn start(owner: &str, repo: &str, token: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(GitHubState {
            base: url.clone(),
            owner: owner.into(),
            repo: repo.into(),
            token: token.into(),
            read_only_token: None,
            immutable_releases: false,
            releases: Vec::new(),
            next_id: 1,
            queued_faults: VecDeque::new(),
            random_faults: None,
            events: Vec::new(),
            requests: Vec::new(),
            uploads_bytes: 0,
            routes: BTreeSet::new(),
            list_cap: 1000,
            every_fault_kind: false,
            retry_after_secs: 1,
            kill_at: None,
            writes_seen: 0,
            faults_injected: 0,
            now: "2026-01-01T00:00:00Z".into(),
            publish_count: 0,
            latest_log: Vec::new(),
            spool: None,
        }));
        // Route templates use GitHub's OpenAPI parameter names, so tests can look them up.
        let app = Router::new()
            .route(
                "/repos/{owner}/{repo}/releases",
                get(list_releases).post(create_release),
            )
            .route(
                "/repos/{owner}/{repo}/releases/tags/{tag}",
                get(release_by_tag),
            )
            .route(
                "/repos/{owner}/{repo}/releases/{release_id}",
                patch(update_release)
                    .delete(delete_release)
                    .get(get_release),
            )
            .route(
                "/repos/{owner}/{repo}/releases/{release_id}/assets",
                get(list_assets),
            )
            .route(
                "/repos/{owner}/{repo}/releases/assets/{asset_id}",
                get(get_asset).patch(update_asset).delete(delete_asset),
            )
            .route(
                "/uploads/repos/{owner}/{repo}/releases/{release_id}/assets",
                post(upload_asset),
            )
            .route("/download/{asset_id}", get(download))
            .route("/repos/{owner}/{repo}/releases/latest", get(latest_release))
            .route("/repos/{owner}/{repo}", get(get_repository))
            .route("/repos/{owner}/{repo}/tags", get(list_tags))
            .route(
                "/{owner}/{repo}/releases/download/{tag}/{name}",
                get(browser_download),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                gate_layer,
            ))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                record_route,
            ))
            .layer(DefaultBodyLimit::disable())
            .with_state(state.clone());
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        GitHubFake {
            url,
            state,
            _runtime: runtime,
        }
    }

    /// Queues a fault for the next matching request.
    pub fn fail_next(&self, on: On, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .queued_faults
            .push_back((on, fault));
    }

    /// Injects up to `count` random faults, each request failing with `probability`.
    pub fn random_faults(&self, seed: u64, probability: f64, count: usize) {
        self.state.lock().unwrap().random_faults =
            Some((StdRng::seed_from_u64(seed), probability, count));
    }

    /// Releases of a tag (published and drafts).
    pub fn releases(&self, tag: &str) -> Vec<FakeRelease> {
        let state = self.state.lock().unwrap();
        state
            .releases
            .iter()
            .filter(|r| r.tag == tag)
            .cloned()
            .collect()
    }
}

async fn record_route(
    State(state): State<Shared>,
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!("{} {}", request.method(), request.uri().path());
    if let Some(matched) = matched {
        let route = format!("{} {}", request.method(), matched.as_str());
        state.lock().unwrap().routes.insert(route);
    }
    let response = next.run(request).await;
    let mut s = state.lock().unwrap();
    let latest = FakeRelease::latest(&s.releases).map(|r| {
        (
            r.tag.clone(),
            r.assets.iter().map(|a| a.name.clone()).collect(),
        )
    });
    s.latest_log.push((line, latest));
    response
}

/// The one gate in front of every API and upload route: authentication, the repository, then an
/// injected fault, as GitHub would answer them, before the handler runs.
async fn gate_layer(
    State(state): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    let upload = path.starts_with("/uploads/");
    let api = path.strip_prefix("/uploads").unwrap_or(&path);
    let Some(rest) = api.strip_prefix("/repos/") else {
        // Downloads are not API calls: no gate.
        return next.run(request).await;
    };
    let mut parts = rest.split('/');
    let (owner, repo) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let write = request.method() != axum::http::Method::GET;
    let line = format!("{} {path}", request.method());
    if let Some((pid, after)) = kill_point(&state, write || upload) {
        if after {
            drop(next.run(request).await);
        }
        kill(pid);
        panic!("injected kill of the client (expected in fault-injection tests)");
    }
    match gate(&state, request.headers(), owner, repo, write, upload, line).await {
        Ok(false) => next.run(request).await,
        Ok(true) => {
            let response = next.run(request).await;
            drop(response);
            panic!("injected lost response (expected in fault-injection tests)");
        }
        Err(response) => {
            if upload && response.status().is_server_error() {
                leave_starter_asset(&state, &path, request.uri().query().unwrap_or(""));
            }
            response
        }
    }
}

/// Counts a write request; the process to kill when this is the chosen one.
fn kill_point(state: &Shared, write: bool) -> Option<(u32, bool)> {
    let mut s = state.lock().unwrap();
    if !write {
        return None;
    }
    s.writes_seen += 1;
    match s.kill_at {
        Some((pid, at, after)) if at == s.writes_seen => {
            s.kill_at = None;
            Some((pid, after))
        }
        _ => None,
    }
}

/// SIGKILL, as a runner cancelling a job or an OOM kill does: no cleanup runs.
fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// GitHub leaves an empty `starter` asset behind when an upload dies server-side.
fn leave_starter_asset(state: &Shared, path: &str, query: &str) {
    let id: Option<u64> = path
        .trim_end_matches("/assets")
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok());
    let name = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "name")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let mut s = state.lock().unwrap();
    let Some(ri) = id.and_then(|id| s.releases.iter().position(|r| r.id == id)) else {
        return;
    };
    if name.is_empty() || s.releases[ri].assets.iter().any(|a| a.name == name) {
        return;
    }
    let asset_id = s.next_id;
    s.next_id += 1;
    s.releases[ri].assets.push(FakeAsset {
        id: asset_id,
        name: name.clone(),
        state: "starter".into(),
        content_type: "application/octet-stream".into(),
        data: Bytes::new(),
        downloads: 0,
    });
    let release_id = s.releases[ri].id;
    record(&mut s, release_id, format!("starter leftover {name}"));
}

fn error(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(
            json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-ratelimit-remaining", "4999".parse().unwrap());
    response
}

fn already_exists(resource: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "code": "already_exists", "field": "name" }],
            "documentation_url": "https://docs.github.com/rest"
        })),
    )
        .into_response()
}

/// The token of an `Authorization: Bearer|token …` header, or "".
fn presented_token(headers: &HeaderMap) -> &str {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("")
}

/// Checks auth and repository; picks a fault. `Err` is the response to send instead; `Ok(true)`
/// means: carry the request out, then lose the response.
async fn gate(
    state: &Shared,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    write: bool,
    upload: bool,
    line: String,
) -> Result<bool, Response> {
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(line.clone());
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let presented = presented_token(headers);
        let read_only = s.read_only_token.as_deref() == Some(presented);
        // The repository is public: reads need no token (drafts stay hidden from them).
        let anonymous_read = auth.is_empty() && !write && !upload;
        if presented != s.token && !read_only && !anonymous_read {
            return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
        }
        if owner != s.owner || repo != s.repo {
            return Err(error(StatusCode::NOT_FOUND, "Not Found"));
        }
        if write && (read_only || auth.is_empty()) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "Resource not accessible by integration",
            ));
        }
        let queued = s.queued_faults.iter().position(|(on, _)| match on {
            On::Any => true,
            On::Upload => upload,
            On::Matching(text) => line.contains(text),
        });
        match queued {
            Some(index) => s.queued_faults.remove(index).map(|(_, fault)| fault),
            None => match (s.every_fault_kind, &mut s.random_faults) {
                (every_kind, Some((rng, probability, left))) if *left > 0 && (write || upload) => {
                    if rng.random_bool(*probability) {
                        *left -= 1;
                        let kinds = if every_kind { 9 } else { 5 };
                        Some(match rng.random_range(0..kinds) {
                            0 => Fault::Status(502),
                            1 => Fault::Status(500),
                            2 => Fault::RateLimit,
                            3 => Fault::TooMany,
                            4 => Fault::Reset,
                            5 => Fault::LoseResponse,
                            6 => Fault::Delay(Duration::from_millis(800)),
                            7 => Fault::SecondaryLimit,
                            _ => Fault::Status(503),
                        })
                    } else {
                        None
                    }
                }
                _ => None,
            },
        }
    };
    let retry_after = {
        let mut s = state.lock().unwrap();
        if fault.is_some() {
            s.faults_injected += 1;
        }
        s.retry_after_secs.to_string()
    };
    match fault {
        None => Ok(false),
        Some(Fault::LoseResponse) => Ok(true),
        Some(Fault::Delay(duration)) => {
            tokio::time::sleep(duration).await;
            Ok(false)
        }
        Some(Fault::Status(code)) => Err(error(
            StatusCode::from_u16(code).unwrap(),
            "Server Error (injected)",
        )),
        Some(Fault::RateLimit) => {
            let mut response = error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after.parse().unwrap());
            Err(response)
        }
        Some(Fault::SecondaryLimit) => Err(error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )),
        Some(Fault::TooMany) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            response
                .headers_mut()
                .insert("retry-after", retry_after.parse().unwrap());
            Err(response)
        }
        Some(Fault::Reset) => {
            // Dropping the connection mid-request: the handler task dies, hyper closes the
            // socket, the client sees a reset.
            panic!("injected connection reset (expected in fault-injection tests)");
        }
    }
}

/// github.com's public download URL (`/{owner}/{repo}/releases/download/{tag}/{name}`), served
/// here from the same host; it redirects to the download host, as github.com does.
fn browser_download_url(
    base: &str,
    owner: &str,
    repo: &str,
    tag: &str,
    asset: &FakeAsset,
) -> String {
    format!(
        "{base}/{owner}/{repo}/releases/download/{tag}/{}",
        asset.name
    )
}

pub fn asset_json(
    base: &str,
    owner: &str,
    repo: &str,
    release_tag: &str,
    asset: &FakeAsset,
) -> Value {
    let digest = (asset.state == "uploaded")
        .then(|| format!("sha256:{}", hex::encode(Sha256::digest(&asset.data))));
    json!({
        "url": format!("{base}/repos/{owner}/{repo}/releases/assets/{}", asset.id),
        "browser_download_url": browser_download_url(base, owner, repo, release_tag, asset),
        "id": asset.id,
        "node_id": format!("RA_{}", asset.id),
        "name": asset.name,
        "label": "",
        "state": asset.state,
        "content_type": asset.content_type,
        "size": asset.data.len(),
        "digest": digest,
        "download_count": asset.downloads,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "uploader": null
    })
}

pub fn release_json(s: &GitHubState, release: &FakeRelease) -> Value {
    let base = &s.base;
    let (owner, repo) = (&s.owner, &s.repo);
    json!({
        "url": format!("{base}/repos/{owner}/{repo}/releases/{}", release.id),
        "html_url": format!("https://github.com/{owner}/{repo}/releases/tag/{}", release.tag),
        "assets_url": format!("{base}/repos/{owner}/{repo}/releases/{}/assets", release.id),
        "upload_url": format!("{base}/uploads/repos/{owner}/{repo}/releases/{}/assets{{?name,label}}", release.id),
        "tarball_url": null,
        "zipball_url": null,
        "id": release.id,
        "node_id": format!("RE_{}", release.id),
        "tag_name": release.tag,
        "target_commitish": "main",
        "name": release.name,
        "body": release.body,
        "draft": release.draft,
        "prerelease": release.prerelease,
        "immutable": release.immutable,
        "created_at": release.created_at,
        "published_at": if release.draft { Value::Null } else { json!(release.published_at.clone().unwrap_or_else(|| release.created_at.clone())) },
        "author": bot_user(base),
        "assets": release.assets.iter().map(|a| asset_json(base, owner, repo, &release.tag, a)).collect::<Vec<_>>(),
    })
}

/// The `simple-user` GitHub reports as a release's author (the Actions bot).
fn bot_user(base: &str) -> Value {
    let user = format!("{base}/users/github-actions%5Bbot%5D");
    json!({
        "login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
        "url": user, "html_url": "https://github.com/apps/github-actions",
        "followers_url": format!("{user}/followers"),
        "following_url": format!("{user}/following{{/other_user}}"),
        "gists_url": format!("{user}/gists{{/gist_id}}"),
        "starred_url": format!("{user}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{user}/subscriptions"),
        "organizations_url": format!("{user}/orgs"), "repos_url": format!("{user}/repos"),
        "events_url": format!("{user}/events{{/privacy}}"),
        "received_events_url": format!("{user}/received_events"),
        "type": "Bot", "site_admin": false
    })
}

fn record(s: &mut GitHubState, release_id: u64, what: String) {
    let names = s
        .releases
        .iter()
        .find(|r| r.id == release_id)
        .map(|r| r.assets.iter().map(|a| a.name.clone()).collect())
        .unwrap_or_default();
    s.events.push((what, names));
}

type Repo = Path<(String, String)>;

async fn list_releases(
    State(state): State<Shared>,
    Path((_owner, _repo)): Repo,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let anonymous = !headers.contains_key("authorization");
    let s = state.lock().unwrap();
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    if (page - 1) * per_page >= s.list_cap {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Only the first 1000 results are available.",
        );
    }
    // Newest first, as GitHub lists them.
    let all: Vec<Value> = s
        .releases
        .iter()
        .rev()
        .filter(|r| !(anonymous && r.draft))
        .map(|r| release_json(&s, r))
        .collect();
    let slice: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    axum::Json(Value::Array(slice)).into_response()
}

/// `GET /tags`: the tag of every release that is not a draft (a draft's tag does not exist
/// until it is published), newest first, paged like GitHub and without the releases' cap.
async fn list_tags(
    State(state): State<Shared>,
    Path((owner, repo)): Repo,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let s = state.lock().unwrap();
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .min(100);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let tags: Vec<Value> = s
        .releases
        .iter()
        .rev()
        .filter(|r| !r.draft)
        .skip((page.max(1) - 1) * per_page)
        .take(per_page)
        .map(|r| {
            json!({
                "name": r.tag,
                "commit": {
                    "sha": format!("{:040x}", r.id),
                    "url": format!("{}/repos/{owner}/{repo}/commits/{:040x}", s.base, r.id)
                },
                "zipball_url": format!("{}/repos/{owner}/{repo}/zipball/refs/tags/{}", s.base, r.tag),
                "tarball_url": format!("{}/repos/{owner}/{repo}/tarball/refs/tags/{}", s.base, r.tag),
                "node_id": format!("REF_{}", r.id)
            })
        })
        .collect();
    axum::Json(Value::Array(tags)).into_response()
}

async fn release_by_tag(
    State(state): State<Shared>,
    Path((_owner, _repo, tag)): Path<(String, String, String)>,
    _headers: HeaderMap,
) -> Response {
    let s = state.lock().unwrap();
    match s.releases.iter().find(|r| r.tag == tag && !r.draft) {
        Some(release) => axum::Json(release_json(&s, release)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn get_release(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
) -> Response {
    let s = state.lock().unwrap();
    match s.releases.iter().find(|r| r.id == id) {
        Some(release) => axum::Json(release_json(&s, release)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_release(
    State(state): State<Shared>,
    Path((_owner, _repo)): Repo,
    _headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    let tag = body["tag_name"].as_str().unwrap_or("").to_string();
    if tag.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed: tag_name is missing",
        );
    }
    let draft = body["draft"].as_bool().unwrap_or(false);
    if !draft && s.releases.iter().any(|r| r.tag == tag && !r.draft) {
        return already_exists("Release");
    }
    let id = s.next_id;
    s.next_id += 1;
    let release = FakeRelease {
        id,
        tag,
        name: body["name"].as_str().unwrap_or("").into(),
        body: body["body"].as_str().unwrap_or("").into(),
        draft,
        prerelease: body["prerelease"].as_bool().unwrap_or(false),
        immutable: false,
        assets: Vec::new(),
        target_commitish: body["target_commitish"].as_str().map(str::to_string),
        make_latest: body["make_latest"].as_str() != Some("false"),
        created_at: s.now.clone(),
        ..FakeRelease::default()
    };
    s.releases.push(release);
    if !draft {
        let index = s.releases.len() - 1;
        s.mark_published(index);
    }
    let json = release_json(&s, s.releases.last().expect("just pushed"));
    record(&mut s, id, "create release".into());
    (StatusCode::CREATED, axum::Json(json)).into_response()
}

async fn update_release(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    let immutable_releases = s.immutable_releases;
    let Some(index) = s.releases.iter().position(|r| r.id == id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if s.releases[index].immutable {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot modify an immutable release",
        );
    }
    if let Some(make_latest) = body["make_latest"].as_str() {
        s.releases[index].make_latest = make_latest != "false";
    }
    if let Some(draft) = body["draft"].as_bool() {
        if !draft && s.releases[index].draft {
            s.mark_published(index);
        }
        s.releases[index].draft = draft;
        if !draft && immutable_releases {
            s.releases[index].immutable = true;
        }
    }
    let release = &mut s.releases[index];
    if let Some(notes) = body["body"].as_str() {
        release.body = notes.into();
    }
    if let Some(name) = body["name"].as_str() {
        release.name = name.into();
    }
    let json = release_json(&s, &s.releases[index]);
    record(&mut s, id, "update release".into());
    axum::Json(json).into_response()
}

async fn delete_release(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    let before = s.releases.len();
    s.releases.retain(|r| r.id != id);
    if s.releases.len() == before {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_assets(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let s = state.lock().unwrap();
    let Some(release) = s.releases.iter().find(|r| r.id == id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let assets: Vec<Value> = release
        .assets
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|a| asset_json(&s.base, &s.owner, &s.repo, &release.tag, a))
        .collect();
    axum::Json(Value::Array(assets)).into_response()
}

fn find_asset(s: &mut GitHubState, id: u64) -> Option<(usize, usize)> {
    s.releases
        .iter()
        .enumerate()
        .find_map(|(ri, r)| r.assets.iter().position(|a| a.id == id).map(|ai| (ri, ai)))
}

async fn get_asset(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let wants_bytes = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    let mut s = state.lock().unwrap();
    let Some((ri, ai)) = find_asset(&mut s, id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if wants_bytes {
        // GitHub answers with a redirect to its download host.
        let location = format!("{}/download/{id}", s.base);
        return (StatusCode::FOUND, [("location", location)]).into_response();
    }
    axum::Json(asset_json(
        &s.base,
        &s.owner,
        &s.repo,
        &s.releases[ri].tag,
        &s.releases[ri].assets[ai],
    ))
    .into_response()
}

/// The download host: serves bytes, honouring single `Range: bytes=a-[b]` and `bytes=-n` requests as
/// GitHub's asset storage does.
async fn download(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    let data = {
        let mut s = state.lock().unwrap();
        s.requests.push(format!("GET download/{id}"));
        match find_asset(&mut s, id) {
            Some((ri, ai)) => {
                let asset = &mut s.releases[ri].assets[ai];
                asset.downloads += 1;
                asset.data.clone()
            }
            None => return error(StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    serve_range(data, &headers)
}

/// `bytes` as a 200, or the requested range as a 206 (416 when it starts past the end).
pub fn serve_range(data: impl Into<Bytes>, headers: &HeaderMap) -> Response {
    let data: Bytes = data.into();
    let total = data.len();
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(start, end)| {
            // `bytes=-N`: the last N bytes (Parquet readers ask for the footer this way).
            if start.is_empty() {
                let suffix: usize = end.parse().ok()?;
                return Some((total.saturating_sub(suffix), total.saturating_sub(1)));
            }
            let start: usize = start.parse().ok()?;
            let end: usize = if end.is_empty() {
                total.saturating_sub(1)
            } else {
                end.parse::<usize>().ok()?.min(total.saturating_sub(1))
            };
            Some((start, end))
        });
    match range {
        None => (StatusCode::OK, [("accept-ranges", "bytes")], data).into_response(),
        Some((start, _)) if start >= total => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [("content-range", format!("bytes */{total}"))],
        )
            .into_response(),
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            [("content-range", format!("bytes {start}-{end}/{total}"))],
            data.slice(start..=end),
        )
            .into_response(),
    }
}

/// github.com's `/{owner}/{repo}/releases/download/{tag}/{name}`: published releases only,
/// answered with a redirect to the download host.
async fn browser_download(
    State(state): State<Shared>,
    Path((owner, repo, tag, name)): Path<(String, String, String, String)>,
) -> Response {
    let s = state.lock().unwrap();
    let found = (owner == s.owner && repo == s.repo)
        .then(|| {
            s.releases
                .iter()
                .filter(|r| r.tag == tag && !r.draft)
                .flat_map(|r| r.assets.iter())
                .find(|a| a.name == name && a.state == "uploaded")
        })
        .flatten();
    match found {
        Some(asset) => {
            let location = format!("{}/download/{}", s.base, asset.id);
            (StatusCode::FOUND, [("location", location)]).into_response()
        }
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// `GET /repos/{owner}/{repo}`: the fields release tools read (semantic-release checks
/// `permissions.push` and `clone_url`).
async fn get_repository(
    State(state): State<Shared>,
    Path((_owner, _repo)): Repo,
    headers: HeaderMap,
) -> Response {
    let s = state.lock().unwrap();
    let push = presented_token(&headers) == s.token;
    axum::Json(json!({
        "id": 1,
        "node_id": "R_1",
        "name": s.repo,
        "full_name": format!("{}/{}", s.owner, s.repo),
        "private": false,
        "owner": bot_user(&s.base),
        "html_url": format!("https://github.com/{}/{}", s.owner, s.repo),
        "clone_url": format!("https://github.com/{}/{}.git", s.owner, s.repo),
        "default_branch": "main",
        "archived": false,
        "permissions": { "admin": false, "maintain": false, "push": push, "triage": push, "pull": true },
    }))
    .into_response()
}

/// `GET /releases/latest`: the newest published non-prerelease, with an ETag; a matching
/// `If-None-Match` gets 304 (which GitHub does not count against the rate limit).
async fn latest_release(
    State(state): State<Shared>,
    Path((_owner, _repo)): Repo,
    headers: HeaderMap,
) -> Response {
    let s = state.lock().unwrap();
    let Some(release) = FakeRelease::latest(&s.releases) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let body = release_json(&s, release);
    let etag = format!(
        "W/\"{}\"",
        hex::encode(Sha256::digest(body.to_string().as_bytes()))
    );
    let matches = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if matches {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    (StatusCode::OK, [("etag", etag)], axum::Json(body)).into_response()
}

async fn update_asset(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = state.lock().unwrap();
    let Some((ri, ai)) = find_asset(&mut s, id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if s.releases[ri].immutable {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot modify an asset of an immutable release",
        );
    }
    if let Some(name) = body["name"].as_str() {
        if s.releases[ri]
            .assets
            .iter()
            .any(|a| a.name == name && a.id != id)
        {
            return already_exists("ReleaseAsset");
        }
        s.releases[ri].assets[ai].name = name.into();
    }
    let release_id = s.releases[ri].id;
    let json = asset_json(
        &s.base,
        &s.owner,
        &s.repo,
        &s.releases[ri].tag,
        &s.releases[ri].assets[ai],
    );
    record(&mut s, release_id, format!("rename asset {id}"));
    axum::Json(json).into_response()
}

async fn delete_asset(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    _headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    let Some((ri, ai)) = find_asset(&mut s, id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if s.releases[ri].immutable {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot delete an asset of an immutable release",
        );
    }
    s.releases[ri].assets.remove(ai);
    let release_id = s.releases[ri].id;
    record(&mut s, release_id, format!("delete asset {id}"));
    StatusCode::NO_CONTENT.into_response()
}

async fn upload_asset(
    State(state): State<Shared>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let name = query.get("name").cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    let Some(ri) = s.releases.iter().position(|r| r.id == id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if name.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "name is required");
    }
    if s.releases[ri].immutable {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot upload assets to an immutable release",
        );
    }
    if s.releases[ri].assets.iter().any(|a| a.name == name) {
        return already_exists("ReleaseAsset");
    }
    let declared: Option<usize> = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared != Some(body.len()) {
        return error(
            StatusCode::BAD_REQUEST,
            "Content-Length does not match the body",
        );
    }
    let asset_id = s.next_id;
    s.next_id += 1;
    s.uploads_bytes += body.len() as u64;
    let body = match &s.spool {
        Some(dir) => match spool_asset(&dir.join(asset_id.to_string()), &body) {
            Ok(mapped) => mapped,
            Err(err) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("spooling the asset: {err}"),
                );
            }
        },
        None => body,
    };
    let asset = FakeAsset {
        id: asset_id,
        name: name.clone(),
        state: "uploaded".into(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .into(),
        data: body,
        downloads: 0,
    };
    let json = asset_json(&s.base, &s.owner, &s.repo, &s.releases[ri].tag, &asset);
    s.releases[ri].assets.push(asset);
    record(&mut s, id, format!("upload {name}"));
    (StatusCode::CREATED, axum::Json(json)).into_response()
}

/// Writes `body` to `path` and maps it back read-only: the asset's bytes then live in the page
/// cache, not the fake's heap.
fn spool_asset(path: &std::path::Path, body: &[u8]) -> std::io::Result<Bytes> {
    std::fs::write(path, body)?;
    let file = std::fs::File::open(path)?;
    if body.is_empty() {
        // A zero-length map is an error on Linux.
        return Ok(Bytes::new());
    }
    // SAFETY: the file is the fake's own, written above and never changed or truncated while
    // the map lives (an asset's bytes are immutable; a deleted asset's file is left in place).
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Bytes::from_owner(map))
}
