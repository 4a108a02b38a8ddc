//! A real S3 protocol implementation (s3s + s3s-fs) on 127.0.0.1, checking SigV4,
//! `x-amz-checksum-*` and `If-None-Match`, storing objects in a temporary folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Access key the server accepts.
pub const ACCESS_KEY: &str = "AKIDDBRELEASETEST";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "dbrelease-test-secret-key";

/// A running server.
pub struct S3Server {
    pub url: String,
    pub root: PathBuf,
    /// How many of the next multipart part uploads fail with a 500 (a dropped part).
    pub failing_parts: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl S3Server {
    /// Starts a server with one empty bucket.
    pub fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join(bucket)).unwrap();
        let fs = s3s_fs::FileSystem::new(&root).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let failing_parts = Arc::new(AtomicUsize::new(0));
        let failures = failing_parts.clone();
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                let failures = failures.clone();
                // Fault injection in front of the real implementation: fail UploadPart
                // requests while the counter is positive.
                let faulty = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let service = service.clone();
                        let failures = failures.clone();
                        async move {
                            let is_part = request.method() == hyper::Method::PUT
                                && request
                                    .uri()
                                    .query()
                                    .is_some_and(|q| q.contains("partNumber="));
                            if is_part
                                && failures
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    })
                                    .is_ok()
                            {
                                let response = hyper::Response::builder()
                                    .status(500)
                                    .body(s3s::Body::from("injected part failure".to_string()))
                                    .unwrap();
                                return Ok(response);
                            }
                            hyper::service::Service::call(&service, request).await
                        }
                    },
                );
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), faulty)
                        .await;
                });
            }
        });
        S3Server {
            url,
            root,
            failing_parts,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Multipart uploads in progress (s3s-fs keeps them as hidden files in its root).
    pub fn open_multipart_uploads(&self) -> usize {
        std::fs::read_dir(&self.root)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
            .count()
    }

    /// The stored bytes of `bucket/key`, if any.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(bucket).join(key)).ok()
    }

    /// Deletes `bucket/key` behind the server's back (an object lost from the store).
    pub fn remove(&self, bucket: &str, key: &str) {
        std::fs::remove_file(self.root.join(bucket).join(key)).unwrap();
    }

    /// Every stored key under `bucket`, sorted (s3s-fs keeps its own metadata elsewhere).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        collect(&self.root.join(bucket), &self.root.join(bucket), &mut keys);
        keys.sort();
        keys
    }
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

/// moto's S3 server (PyPI `moto[server]`, installed by scripts/test.sh, which names it in
/// `DBRELEASE_MOTO_SERVER`): a second, independent S3 implementation, so behaviour that only
/// s3s-fs has cannot hide. None without it.
pub struct MotoServer {
    pub url: String,
    child: std::process::Child,
}

impl MotoServer {
    /// Starts moto on a free loopback port with `bucket` created.
    pub fn start(bucket: &str) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new(std::env::var_os("DBRELEASE_MOTO_SERVER")?)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = MotoServer {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        // Ready when it answers; moto accepts unsigned requests, so a plain PUT makes the bucket.
        for _ in 0..100 {
            let made = std::process::Command::new("curl")
                .args(["-fsS", "-o", "/dev/null", "-X", "PUT"])
                .arg(format!("{}/{bucket}", server.url))
                .status()
                .is_ok_and(|status| status.success());
            if made {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server did not start on port {port}");
    }

    /// The stored bytes of `bucket/key` (moto serves unsigned GETs).
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let output = std::process::Command::new("curl")
            .args(["-fsS"])
            .arg(format!("{}/{bucket}/{key}", self.url))
            .output()
            .ok()?;
        output.status.success().then_some(output.stdout)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
