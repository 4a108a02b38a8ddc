//! Two independent S3 implementations on 127.0.0.1, behind one front that counts writes and
//! injects faults, so every S3 test runs against both and a behaviour only one has cannot hide:
//! - s3s + s3s-fs in-process (checks SigV4, `x-amz-checksum-*`, `If-None-Match`/`If-Match`);
//! - moto's server (PyPI `moto[server]`, installed by scripts/test.sh, which names it in
//!   `DBRELEASE_MOTO_SERVER`): honors conditions, but echoes any checksum it is sent;
//! - and a lax s3s-fs, which ignores conditions and checksum headers (like older MinIO).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Access key the server accepts.
pub const ACCESS_KEY: &str = "AKIDDBRELEASETEST";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "dbrelease-test-secret-key";

/// Which implementation answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    S3sFs,
    Moto,
    /// s3s-fs that ignores `If-None-Match`, `If-Match` and `x-amz-checksum-*` (and credentials).
    Lax,
}

/// A hook run (once) when a request matches, before the store sees it.
type Hook = Box<dyn FnOnce() + Send>;

/// What the front does besides forwarding.
#[derive(Default)]
struct Front {
    /// How many of the next multipart part uploads fail with a 500 (a dropped part).
    failing_parts: AtomicUsize,
    /// Requests that may change the store (anything but GET and HEAD).
    writes: AtomicUsize,
    /// Run before the first part upload reaches the store.
    before_first_part: Mutex<Option<Hook>>,
    /// Run before the first PUT of a key ending with the given suffix reaches the store.
    before_put: Mutex<Option<(String, Hook)>>,
}

enum Backend {
    S3s(s3s::service::S3Service),
    Moto {
        client: reqwest::Client,
        url: String,
    },
}

/// A running server.
pub struct S3Server {
    pub url: String,
    pub store: Store,
    front: Arc<Front>,
    /// s3s-fs's root folder (None on moto).
    root: Option<PathBuf>,
    moto: Option<std::process::Child>,
    /// moto's own address (the front's is `url`).
    moto_base: Option<String>,
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl S3Server {
    /// Starts s3s-fs with one empty bucket.
    pub fn start(bucket: &str) -> Self {
        Self::start_store(Store::S3sFs, bucket).expect("s3s-fs runs in-process")
    }

    /// Starts `store` with one empty bucket; None when moto is asked for and not installed.
    pub fn start_store(store: Store, bucket: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut moto_base = None;
        let (backend, root, moto) = match store {
            Store::S3sFs | Store::Lax => {
                let root = dir.path().to_path_buf();
                std::fs::create_dir(root.join(bucket)).unwrap();
                let fs = s3s_fs::FileSystem::new(&root).unwrap();
                let mut builder = s3s::service::S3ServiceBuilder::new(fs);
                if store == Store::S3sFs {
                    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
                }
                (Backend::S3s(builder.build()), Some(root), None)
            }
            Store::Moto => {
                let (url, child) = start_moto(bucket)?;
                let client = reqwest::Client::new();
                moto_base = Some(url.clone());
                (Backend::Moto { client, url }, None, Some(child))
            }
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let front = Arc::new(Front::default());
        let backend = Arc::new(backend);
        let serving = front.clone();
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let front = serving.clone();
                let backend = backend.clone();
                let service = hyper::service::service_fn(move |request| {
                    handle(front.clone(), backend.clone(), store, request)
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Some(S3Server {
            url,
            store,
            front,
            root,
            moto,
            moto_base,
            _dir: dir,
            runtime,
        })
    }

    /// The next `count` part uploads fail with a 500.
    pub fn fail_parts(&self, count: usize) {
        self.front.failing_parts.store(count, Ordering::SeqCst);
    }

    /// Requests seen so far that may change the store.
    pub fn writes(&self) -> usize {
        self.front.writes.load(Ordering::SeqCst)
    }

    /// Runs `hook` before the first part upload reaches the store.
    pub fn before_first_part(&self, hook: impl FnOnce() + Send + 'static) {
        *self.front.before_first_part.lock().unwrap() = Some(Box::new(hook));
    }

    /// Runs `hook` before the first PUT of a key ending with `suffix` reaches the store.
    pub fn before_put(&self, suffix: &str, hook: impl FnOnce() + Send + 'static) {
        *self.front.before_put.lock().unwrap() = Some((suffix.to_string(), Box::new(hook)));
    }

    /// Multipart uploads in progress.
    pub fn open_multipart_uploads(&self, bucket: &str) -> usize {
        match &self.root {
            // s3s-fs keeps them as hidden files in its root.
            Some(root) => std::fs::read_dir(root)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
                .count(),
            None => self
                .moto_get(&format!("{bucket}?uploads"))
                .map_or(0, |xml| {
                    String::from_utf8_lossy(&xml).matches("<UploadId>").count()
                }),
        }
    }

    /// The stored bytes of `bucket/key`, if any.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match &self.root {
            Some(root) => std::fs::read(root.join(bucket).join(key)).ok(),
            None => self.moto_get(&format!("{bucket}/{key}")),
        }
    }

    /// Replaces the bytes of `bucket/key` behind the server's back (a store that lost or
    /// corrupted an object; the store's own records of it are left as they were).
    pub fn corrupt(&self, bucket: &str, key: &str) {
        let root = self
            .root
            .as_ref()
            .expect("only s3s-fs stores can be corrupted");
        let path = root.join(bucket).join(key);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }

    /// Drops the last byte of `bucket/key` behind the server's back.
    pub fn truncate(&self, bucket: &str, key: &str) {
        let root = self
            .root
            .as_ref()
            .expect("only s3s-fs stores can be truncated");
        let path = root.join(bucket).join(key);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, bytes).unwrap();
    }

    /// Deletes `bucket/key` behind the server's back (an object lost from the store).
    pub fn remove(&self, bucket: &str, key: &str) {
        match &self.root {
            Some(root) => std::fs::remove_file(root.join(bucket).join(key)).unwrap(),
            None => {
                let client = self.moto_client();
                self.runtime
                    .block_on(client.delete_object().bucket(bucket).key(key).send())
                    .unwrap();
            }
        }
    }

    /// Every stored key under `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        match &self.root {
            // s3s-fs keeps its own metadata in hidden files.
            Some(root) => collect(&root.join(bucket), &root.join(bucket), &mut keys),
            None => {
                let listed = self
                    .moto_get(&format!("{bucket}?list-type=2"))
                    .unwrap_or_default();
                keys.extend(
                    String::from_utf8_lossy(&listed)
                        .lines()
                        .filter(|k| !k.is_empty())
                        .map(str::to_string),
                );
            }
        }
        keys.sort();
        keys
    }

    fn moto_url(&self) -> &str {
        assert_eq!(self.store, Store::Moto);
        self.moto_base.as_deref().unwrap()
    }

    /// A signed GET on moto (anonymous reads of private objects are refused); None unless 2xx.
    fn moto_get(&self, path: &str) -> Option<Vec<u8>> {
        let (bucket, rest) = path.split_once(['/', '?']).unwrap_or((path, ""));
        let client = self.moto_client();
        self.runtime.block_on(async {
            if path.contains("?uploads") {
                let listed = client
                    .list_multipart_uploads()
                    .bucket(bucket)
                    .send()
                    .await
                    .ok()?;
                return Some(vec![b'u'; listed.uploads().len()]);
            }
            if path.contains("?list-type") {
                let listed = client.list_objects_v2().bucket(bucket).send().await.ok()?;
                let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
                return Some(keys.join("\n").into_bytes());
            }
            let object = client
                .get_object()
                .bucket(bucket)
                .key(rest)
                .send()
                .await
                .ok()?;
            Some(object.body.collect().await.ok()?.into_bytes().to_vec())
        })
    }

    fn moto_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.moto_url())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.moto {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One request through the front: count it, maybe fail it or run a hook, then hand it to the
/// store.
async fn handle(
    front: Arc<Front>,
    backend: Arc<Backend>,
    store: Store,
    mut request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<s3s::Body>, std::convert::Infallible> {
    let method = request.method().clone();
    if method != hyper::Method::GET && method != hyper::Method::HEAD {
        front.writes.fetch_add(1, Ordering::SeqCst);
    }
    let is_part = method == hyper::Method::PUT
        && request
            .uri()
            .query()
            .is_some_and(|q| q.contains("partNumber="));
    if is_part {
        if front
            .failing_parts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(hyper::Response::builder()
                .status(500)
                .body(s3s::Body::from("injected part failure".to_string()))
                .unwrap());
        }
        let hook = front.before_first_part.lock().unwrap().take();
        if let Some(hook) = hook {
            tokio::task::spawn_blocking(hook).await.unwrap();
        }
    }
    if method == hyper::Method::PUT && !is_part {
        let path = request.uri().path().to_string();
        let hook = {
            let mut slot = front.before_put.lock().unwrap();
            match slot.as_ref() {
                Some((suffix, _)) if path.ends_with(suffix.as_str()) => slot.take(),
                _ => None,
            }
        };
        if let Some((_, hook)) = hook {
            tokio::task::spawn_blocking(hook).await.unwrap();
        }
    }
    if store == Store::Lax {
        // What an S3-compatible store that implements none of these does: nothing.
        let headers = request.headers_mut();
        headers.remove(hyper::header::AUTHORIZATION);
        headers.remove(hyper::header::IF_NONE_MATCH);
        headers.remove(hyper::header::IF_MATCH);
        headers.remove("x-amz-sdk-checksum-algorithm");
        headers.remove("x-amz-checksum-sha256");
        headers.remove("x-amz-checksum-algorithm");
    }
    Ok(match backend.as_ref() {
        Backend::S3s(service) => hyper::service::Service::call(service, request)
            .await
            .unwrap_or_else(|err| {
                hyper::Response::builder()
                    .status(500)
                    .body(s3s::Body::from(format!("{err:?}")))
                    .unwrap()
            }),
        Backend::Moto { client, url } => forward(client, url, request).await,
    })
}

/// Forwards a request to moto as it came (moto does not check signatures).
async fn forward(
    client: &reqwest::Client,
    base: &str,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<s3s::Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(axum::body::Body::new(body), usize::MAX)
        .await
        .unwrap();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut forwarded = client.request(parts.method, format!("{base}{path}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded.body(body).send().await.unwrap();
    let mut response = hyper::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        // Content-Length stays: a HEAD's is the object's size.
        if name != hyper::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(s3s::Body::from(bytes)).unwrap()
}

/// Starts moto's server on a free loopback port with `bucket` created; None without it.
fn start_moto(bucket: &str) -> Option<(String, std::process::Child)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = std::process::Command::new(std::env::var_os("DBRELEASE_MOTO_SERVER")?)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let url = format!("http://127.0.0.1:{port}");
    // Ready when it answers; moto accepts unsigned requests, so a plain PUT makes the bucket.
    for _ in 0..150 {
        let made = std::process::Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", "-X", "PUT"])
            .arg(format!("{url}/{bucket}"))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if made {
            return Some((url, child));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("moto_server did not start on port {port}");
}

fn collect(base: &Path, dir: &Path, keys: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, keys);
        } else {
            let key = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !key.starts_with('.') && !key.contains("/.") {
                keys.push(key);
            }
        }
    }
}

/// Credentials for this server and nothing else from the machine's AWS setup.
pub fn aws_env(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
}
