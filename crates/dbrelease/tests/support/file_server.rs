//! A static HTTP server on 127.0.0.1 holding a published layout (what S3 or a CDN serves
//! under a public URL): ETags with `If-None-Match`, single Range requests, a redirect hop
//! under `/r/…`, and injected trouble: a tampered file, a connection dropped mid-body.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};

#[derive(Default)]
pub struct FilesState {
    /// Path (no leading slash) → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// `GET /path [range] -> status`, in order.
    pub requests: Vec<String>,
    /// Path → bytes to send before dropping the connection, once.
    pub drop_after: HashMap<String, usize>,
    /// Path → statuses to answer with before serving it (a flaky CDN).
    pub fail_with: HashMap<String, Vec<u16>>,
}

pub struct FileServer {
    pub url: String,
    pub state: Arc<Mutex<FilesState>>,
    _runtime: tokio::runtime::Runtime,
}

impl FileServer {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FilesState::default()));
        let app = Router::new().fallback({
            let state = state.clone();
            move |uri: Uri, headers: HeaderMap| serve(state.clone(), uri, headers)
        });
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FileServer {
            url,
            state,
            _runtime: runtime,
        }
    }

    /// Serves every file of `dist` under `{prefix}/{tag}/` and lists the version in
    /// `{prefix}/versions.json` (as `dbrelease publish --s3` lays a release out).
    pub fn publish_dist(&self, prefix: &str, tag: &str, dist: &Path, created_at: &str) {
        let mut s = self.state.lock().unwrap();
        for entry in std::fs::read_dir(dist).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            s.files.insert(
                format!("{prefix}/{tag}/{name}"),
                std::fs::read(entry.path()).unwrap(),
            );
        }
        let manifest = s.files[&format!("{prefix}/{tag}/manifest.json")].clone();
        let index_key = format!("{prefix}/versions.json");
        let mut index: serde_json::Value = s
            .files
            .get(&index_key)
            .map(|bytes| serde_json::from_slice(bytes).unwrap())
            .unwrap_or_else(|| serde_json::json!({ "versions": [] }));
        let base = format!("{}/{prefix}/{tag}/", self.url);
        // Publishing a tag again (a rolling `nightly`) replaces its entry.
        let versions = index["versions"].as_array_mut().unwrap();
        versions.retain(|v| v["tag"] != tag);
        versions.push(serde_json::json!({
            "tag": tag,
            "created_at": created_at,
            "manifest_sha256": hex::encode(Sha256::digest(&manifest)),
            "manifest_url": format!("{base}manifest.json"),
            "base_url": base,
        }));
        s.files
            .insert(index_key, serde_json::to_vec_pretty(&index).unwrap());
    }

    /// Flips one byte in the middle of a file (same size, different sha256).
    pub fn tamper(&self, path: &str) {
        let mut s = self.state.lock().unwrap();
        let data = s.files.get_mut(path).expect("file to tamper with");
        let middle = data.len() / 2;
        data[middle] ^= 0xff;
    }

    /// The next GET of `path` sends `bytes` bytes, then drops the connection.
    pub fn drop_once_after(&self, path: &str, bytes: usize) {
        self.state
            .lock()
            .unwrap()
            .drop_after
            .insert(path.to_string(), bytes);
    }

    /// The next GETs of `path` are answered with `statuses`, in order, then it is served.
    pub fn fail_next(&self, path: &str, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .fail_with
            .insert(path.to_string(), statuses.to_vec());
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

async fn serve(state: Arc<Mutex<FilesState>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/').to_string();
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let log = |status: StatusCode| {
        format!(
            "GET /{path} {} -> {}",
            range.as_deref().unwrap_or("-"),
            status.as_u16()
        )
    };
    // The redirect hop a CDN or GitHub puts in front of the bytes.
    if let Some(rest) = path.strip_prefix("r/") {
        state.lock().unwrap().requests.push(log(StatusCode::FOUND));
        return (StatusCode::FOUND, [("location", format!("/{rest}"))]).into_response();
    }
    let (data, drop_after) = {
        let mut s = state.lock().unwrap();
        if let Some(statuses) = s.fail_with.get_mut(&path)
            && !statuses.is_empty()
        {
            let status = StatusCode::from_u16(statuses.remove(0)).unwrap();
            s.requests.push(log(status));
            return (status, "injected failure").into_response();
        }
        let Some(data) = s.files.get(&path).cloned() else {
            s.requests.push(log(StatusCode::NOT_FOUND));
            return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
        };
        (data.clone(), s.drop_after.remove(&path))
    };
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&data)));
    if headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        state
            .lock()
            .unwrap()
            .requests
            .push(log(StatusCode::NOT_MODIFIED));
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let mut response = super::github_fake::serve_range(data, &headers);
    state.lock().unwrap().requests.push(log(response.status()));
    response.headers_mut().insert("etag", etag.parse().unwrap());
    if let Some(keep) = drop_after {
        // Announce the full length, send part of it, then fail the body: hyper closes the
        // connection mid-body, as a flaky network would.
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let head = bytes.slice(..keep.min(bytes.len()));
        let stream = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(head),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected drop",
            )),
        ])
        .then(|item| async move {
            // Let hyper flush the first part before the failure closes the connection.
            if item.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            item
        });
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    response
}
