//! The S3 edge: one client per run and the few calls a release needs, each with its failure
//! explained. What the store holds is decided from what the store reports — or, when it does not
//! vouch for its checksums, from the bytes read back — never from metadata we wrote ourselves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use base64::Engine;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use dbrelease_remote::http::{self, Failure, RetryPolicy};

use crate::config::S3Options;
use crate::error::{Error, Result};
use crate::plan::LocalFile;

/// Cache-Control of versioned keys: their bytes never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of `latest/`, `versions.json` and rolling versions: they move.
pub const SHORT: &str = "public, max-age=300";
/// Multipart parts uploaded (or copied) at once: memory stays at about this many parts.
const PARTS_IN_FLIGHT: usize = 6;
/// User metadata key holding the object's hex sha256, for people browsing the bucket. Never read
/// back as evidence: a store keeps whatever metadata it is sent, whatever bytes it got.
const SHA256_META: &str = "sha256";
/// S3's limit on the parts of one multipart upload.
const MAX_PARTS: u64 = 10_000;
/// Folder (under the prefix) of the short-lived object that probes what the store enforces.
const PROBE_FOLDER: &str = ".dbrelease-probe";

/// What a store enforces, learned once per run before its first write (see [`Bucket::probe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Refuses a body that does not match its `x-amz-checksum-sha256`. When false (moto, older
    /// MinIO) a checksum it reports is only an echo of ours, so objects are verified by reading
    /// them back.
    pub verifies_checksums: bool,
    /// Refuses `If-None-Match: *` on a key that exists. When false a create-only write cannot
    /// be trusted to be one, so `versions.json` is re-read after every write to confirm it.
    pub honors_conditions: bool,
}

/// How a conditional write of a small object went.
#[derive(Debug, PartialEq, Eq)]
pub enum Conditional {
    Written,
    /// The object changed (or appeared, or vanished) since it was read: read it again.
    Stale,
}

/// Builds a client from the AWS default chain plus the config's overrides.
async fn client(options: &S3Options) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(options.force_path_style || options.endpoint.is_some());
    if shared.region().is_none() {
        // S3-compatible stores ignore the region, but the SDK needs one to sign.
        builder = builder.region(Region::new("us-east-1"));
    }
    if options.checksum_when_required {
        // For stores that reject the SDK's aws-chunked CRC trailer; our own sha256 header
        // still makes the server verify every upload.
        builder = builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Client::from_conf(builder.build())
}

fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A call's result with "does not exist" (404) as None and every other failure explained.
fn found<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E>>,
    what: &str,
    bucket: &str,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if status(&err) == Some(404) => Ok(None),
        Err(err) => Err(s3_error(what, bucket, err)),
    }
}

/// A failed S3 call for the one retry loop: client errors (4xx but 408/429) are final, the rest
/// (5xx, timeouts, dropped connections) worth another attempt.
fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    bucket: &str,
    err: SdkError<E>,
) -> Failure<Error> {
    match status(&err) {
        Some(code) if (400..500).contains(&code) && code != 408 && code != 429 => {
            Failure::Fatal(s3_error(what, bucket, err))
        }
        _ => Failure::transient(s3_error(what, bucket, err).to_string()),
    }
}

fn s3_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    bucket: &str,
    err: SdkError<E>,
) -> Error {
    let (code, message) = match &err {
        SdkError::ServiceError(service) => (
            service.err().code().unwrap_or("").to_string(),
            service.err().message().unwrap_or("").to_string(),
        ),
        other => (String::new(), format!("{other:?}")),
    };
    let status = status(&err).unwrap_or(0);
    let advice = match (code.as_str(), status) {
        ("NoSuchBucket", _) => format!("bucket {bucket} does not exist: create it or fix `bucket`"),
        ("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken", _) => {
            "S3 rejected the credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the role (OIDC) setup".into()
        }
        ("AccessDenied", _) | (_, 403) => format!(
            "access denied on bucket {bucket}: the credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket"
        ),
        ("PermanentRedirect" | "AuthorizationHeaderMalformed", _) | (_, 301) => {
            format!("bucket {bucket} is in another region: set `region` under [s3]")
        }
        ("BadDigest" | "XAmzContentSHA256Mismatch" | "InvalidDigest", _) => {
            "S3 computed a different checksum than we sent: the file changed or was corrupted in transit; rebuild and retry".into()
        }
        ("PreconditionFailed", _) | (_, 412) => {
            "the object appeared while publishing (another run?): re-run to compare it".into()
        }
        _ => format!("{code} {message}").trim().to_string(),
    };
    Error::Remote(format!("S3: {what} failed ({status} {code}): {advice}"))
}

fn base64_of_hex(sha256: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hex::decode(sha256).expect("hex sha256"))
}

/// One bucket and prefix, with a client built once: the credential chain (web identity in
/// Actions) is resolved once per run, not once per call.
pub struct Bucket {
    client: Client,
    pub(super) options: S3Options,
    retry: RetryPolicy,
    /// Multipart checksums of local files, computed once per run: inventory and both
    /// verifications ask for the same large files.
    composites: Mutex<HashMap<PathBuf, String>>,
    /// Learned by [`Bucket::probe`] before the first write; unknown (None) in dry runs and
    /// read-only commands, where a checksum the store reports is taken at its word.
    capabilities: OnceLock<Capabilities>,
}

impl Bucket {
    /// A client for `options` from the AWS default chain plus the config's overrides, checked
    /// against the bucket: a missing bucket, wrong region or bad credentials fail here, before
    /// any target (GitHub included) is written.
    pub async fn connect(options: &S3Options, retry: &RetryPolicy) -> Result<Bucket> {
        let client = client(options).await;
        client
            .head_bucket()
            .bucket(&options.bucket)
            .send()
            .await
            .map_err(|err| match status(&err) {
                Some(404) => Error::Remote(format!(
                    "S3: bucket {} does not exist: create it or fix `bucket` under [s3] / --s3-bucket",
                    options.bucket
                )),
                _ => s3_error("checking the bucket", &options.bucket, err),
            })?;
        Ok(Bucket {
            client,
            options: options.clone(),
            retry: retry.clone(),
            composites: Default::default(),
            capabilities: OnceLock::new(),
        })
    }

    /// `{prefix}/{folder}/{name}`.
    pub fn key(&self, folder: &str, name: &str) -> String {
        let prefix = self.options.prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("{folder}/{name}")
        } else {
            format!("{prefix}/{folder}/{name}")
        }
    }

    /// `{prefix}/{name}` (the prefix's own files: `versions.json`).
    pub fn top_key(&self, name: &str) -> String {
        let prefix = self.options.prefix.trim_matches('/');
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    }

    /// `s3://bucket/{key}`.
    pub fn describe(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.options.bucket)
    }

    /// The public URL of `key`.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.options.public_base())
    }

    /// Learns, once per run and before the first write, whether the store refuses a wrong
    /// checksum and a create-only write on an existing key, using one short-lived object
    /// under `{prefix}/.dbrelease-probe/`. Stores differ here and say nothing about it:
    /// AWS and s3s enforce both; moto echoes any checksum it is sent; older MinIO ignores
    /// `If-None-Match`. What is not enforced is then checked by reading back.
    pub async fn probe(&self) -> Result<Capabilities> {
        if let Some(known) = self.capabilities.get() {
            return Ok(*known);
        }
        let bucket = &self.options.bucket;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let key = self.key(PROBE_FOLDER, &format!("{}-{nanos}", std::process::id()));
        let body = b"dbrelease: what does this store enforce?".to_vec();
        let put = |checksum: String| {
            self.client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .checksum_sha256(checksum)
                .body(ByteStream::from(body.clone()))
        };
        let right = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
        let wrong = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"other"));
        let verifies_checksums = match put(wrong).send().await {
            Ok(_) => false,
            Err(err) if status(&err) == Some(400) => true,
            Err(err) => return Err(s3_error("probing the store (PUT)", bucket, err)),
        };
        if verifies_checksums {
            put(right.clone())
                .send()
                .await
                .map_err(|err| s3_error("probing the store (PUT)", bucket, err))?;
        }
        let honors_conditions = match put(right).if_none_match("*").send().await {
            Ok(_) => false,
            Err(err) if matches!(status(&err), Some(409 | 412)) => true,
            Err(err) => return Err(s3_error("probing the store (PUT)", bucket, err)),
        };
        self.delete(&key).await?;
        let capabilities = Capabilities {
            verifies_checksums,
            honors_conditions,
        };
        if !verifies_checksums {
            tracing::warn!(
                "S3: the store accepted a body with a wrong x-amz-checksum-sha256; every object is verified by reading it back"
            );
        }
        if !honors_conditions {
            tracing::warn!(
                "S3: the store ignores If-None-Match; versions.json is re-read after writing to confirm no concurrent publish overwrote it"
            );
        }
        Ok(*self.capabilities.get_or_init(|| capabilities))
    }

    /// Refuses, before anything is written, a file that would need more parts than S3 takes.
    pub fn check_part_count(&self, file: &LocalFile) -> Result<()> {
        let parts = file.bytes.div_ceil(self.options.part_size);
        if file.bytes >= self.options.multipart_threshold && parts > MAX_PARTS {
            return Err(Error::Config(format!(
                "{} needs {parts} parts of s3.part_size {} bytes; S3 takes at most {MAX_PARTS}: raise part_size to at least {}",
                file.name,
                self.options.part_size,
                file.bytes.div_ceil(MAX_PARTS)
            )));
        }
        Ok(())
    }

    /// The capabilities learned by [`Bucket::probe`], if it ran.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.capabilities.get().copied()
    }

    /// What S3 reports about an object, or None when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<Reported>> {
        let head = self
            .client
            .head_object()
            .bucket(&self.options.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        Ok(
            found(head, &format!("HEAD {key}"), &self.options.bucket)?.map(|head| Reported {
                bytes: head.content_length().unwrap_or(0) as u64,
                checksum: head.checksum_sha256().map(str::to_string),
            }),
        )
    }

    /// True when object `key`, as `reported`, holds `file`'s bytes (at `path` locally). A
    /// checksum the store vouches for decides: the plain sha256 of a single-part object, or, for
    /// a multipart one, the checksum of its part checksums — with a `-N` suffix (AWS) or without
    /// (moto) — recomputed here from the local file's parts. Without one (no checksum reported,
    /// or a store that does not check what it is sent) the object is read back and hashed.
    pub async fn holds(
        &self,
        key: &str,
        reported: &Reported,
        file: &LocalFile,
        path: &Path,
    ) -> Result<bool> {
        if reported.bytes != file.bytes {
            return Ok(false);
        }
        let vouched = self.capabilities().is_none_or(|c| c.verifies_checksums);
        if let (Some(checksum), true) = (&reported.checksum, vouched) {
            let checksum = checksum.split('-').next().unwrap_or(checksum);
            if checksum == base64_of_hex(&file.sha256) {
                return Ok(true);
            }
            return Ok(file.bytes >= self.options.multipart_threshold
                && self.composite(path).is_some_and(|c| c == checksum));
        }
        Ok(match self.stream(key, None).await {
            Ok(Some((bytes, sha256))) => bytes == file.bytes && sha256 == file.sha256,
            Ok(None) | Err(Error::Integrity(_)) => false,
            Err(err) => return Err(err),
        })
    }

    /// Streams object `key` (into `dest` if given) and returns its size and sha256, or None
    /// when it does not exist.
    pub async fn stream(&self, key: &str, dest: Option<&Path>) -> Result<Option<(u64, String)>> {
        use tokio::io::AsyncWriteExt;
        let Some(mut object) = self.get_object(key).await? else {
            return Ok(None);
        };
        let mut file = match dest {
            // A new file: a link or a hard link planted at `dest` is removed, never written.
            Some(dest) => Some(tokio::fs::File::from_std(
                dbrelease_remote::localfs::create_fresh(dest)?,
            )),
            None => None,
        };
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        // A body that fails mid-way (the SDK checks the stored checksum as it reads) does not
        // read back intact: a problem of the object, reported as such.
        while let Some(chunk) = object.body.try_next().await.map_err(|err| {
            Error::Integrity(format!(
                "{key} does not read back intact: {}",
                error_chain(&err)
            ))
        })? {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            if let (Some(file), Some(dest)) = (file.as_mut(), dest) {
                file.write_all(&chunk)
                    .await
                    .map_err(|err| Error::output(dest, &err))?;
            }
        }
        if let (Some(file), Some(dest)) = (file, dest) {
            file.sync_all()
                .await
                .map_err(|err| Error::output(dest, &err))?;
        }
        Ok(Some((bytes, hex::encode(hasher.finalize()))))
    }

    /// GetObject, or None when the key does not exist.
    async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>> {
        let object = self
            .client
            .get_object()
            .bucket(&self.options.bucket)
            .key(key)
            .send()
            .await;
        found(object, &format!("GET {key}"), &self.options.bucket)
    }

    /// A small object's bytes and ETag, or None.
    pub async fn get_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>> {
        let Some(object) = self.get_object(key).await? else {
            return Ok(None);
        };
        let etag = object.e_tag().map(str::to_string);
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|err| Error::Remote(format!("S3: reading {key} failed: {err}")))?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
    }

    /// A small object's bytes, or None.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_tagged(key).await?.map(|(bytes, _)| bytes))
    }

    /// Uploads a file; `create_only` adds `If-None-Match: *`; `cache` is its Cache-Control.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        create_only: bool,
        cache: &str,
    ) -> Result<()> {
        if file.bytes >= self.options.multipart_threshold {
            return self
                .put_multipart(key, path, file, create_only, cache)
                .await;
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|err| Error::Remote(format!("cannot read {}: {err}", path.display())))?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.options.bucket)
            .key(key)
            .body(body)
            .content_length(file.bytes as i64)
            .content_type(&file.media_type)
            .cache_control(cache)
            .metadata(SHA256_META, &file.sha256)
            .checksum_sha256(base64_of_hex(&file.sha256));
        if create_only {
            request = request.if_none_match("*");
        }
        request
            .send()
            .await
            .map_err(|err| s3_error(&format!("PUT {key}"), &self.options.bucket, err))?;
        Ok(())
    }

    /// Multipart upload: parts read one at a time per worker (memory = part size × workers),
    /// each with its sha256 for the server to verify, and the whole file's sha256 computed over
    /// the bytes actually sent: the upload is completed only when that equals the manifest's,
    /// and aborted on any failure.
    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        create_only: bool,
        cache: &str,
    ) -> Result<()> {
        let upload_id = self.start_multipart(key, file, cache).await?;
        let parts = self.upload_parts(key, path, file, &upload_id).await;
        self.complete(key, &upload_id, parts, create_only).await
    }

    /// Starts a multipart upload of `file` to `key` with sha256 part checksums.
    async fn start_multipart(&self, key: &str, file: &LocalFile, cache: &str) -> Result<String> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.options.bucket)
            .key(key)
            .content_type(&file.media_type)
            .cache_control(cache)
            .metadata(SHA256_META, &file.sha256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|err| {
                s3_error(
                    &format!("starting multipart {key}"),
                    &self.options.bucket,
                    err,
                )
            })?;
        Ok(created.upload_id().unwrap_or_default().to_string())
    }

    /// Completes a multipart upload with its `parts` (create-only if asked); when a part failed
    /// or completing fails, the upload is aborted, so no parts are left behind.
    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Result<Vec<CompletedPart>>,
        create_only: bool,
    ) -> Result<()> {
        let parts = match parts {
            Ok(parts) => parts,
            Err(err) => {
                self.abort(key, upload_id).await;
                return Err(err);
            }
        };
        let mut complete = self
            .client
            .complete_multipart_upload()
            .bucket(&self.options.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if create_only {
            complete = complete.if_none_match("*");
        }
        if let Err(err) = complete.send().await {
            self.abort(key, upload_id).await;
            return Err(s3_error(
                &format!("completing multipart {key}"),
                &self.options.bucket,
                err,
            ));
        }
        Ok(())
    }

    /// Uploads `file`'s parts a few at a time, hashing the bytes sent in order; fails (for the
    /// caller to abort) when they are not the bytes the manifest records.
    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>> {
        let part_size = self.options.part_size;
        let count = file.bytes.div_ceil(part_size).max(1);
        let mut uploads = futures::stream::iter(0..count)
            .map(|index| self.upload_part(key, path, file, upload_id, index))
            .buffered(PARTS_IN_FLIGHT);
        let mut sent = Sha256::new();
        let mut sent_bytes = 0u64;
        let mut parts = Vec::with_capacity(count as usize);
        while let Some(uploaded) = uploads.next().await {
            let (part, body) = uploaded?;
            sent.update(&body);
            sent_bytes += body.len() as u64;
            parts.push(part);
        }
        let sent = hex::encode(sent.finalize());
        if sent != file.sha256 || sent_bytes != file.bytes {
            return Err(Error::Integrity(format!(
                "{} changed while it was uploaded to {key}: {sent_bytes} bytes with sha256 {sent} were sent, the manifest records {} bytes with sha256 {}; the upload was aborted, rebuild and publish again",
                path.display(),
                file.bytes,
                file.sha256
            )));
        }
        Ok(parts)
    }

    /// Reads part `index` of `path` and uploads it (retried on its own; the body is in memory, so
    /// a retry re-sends it). Returns the completed part and the bytes sent.
    async fn upload_part(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        upload_id: &str,
        index: u64,
    ) -> Result<(CompletedPart, bytes::Bytes)> {
        let part_size = self.options.part_size;
        let unreadable =
            |err: std::io::Error| Error::Remote(format!("cannot read {}: {err}", path.display()));
        let mut part = vec![0u8; part_size.min(file.bytes - index * part_size) as usize];
        let mut reader = tokio::fs::File::open(path).await.map_err(unreadable)?;
        tokio::io::AsyncSeekExt::seek(&mut reader, std::io::SeekFrom::Start(index * part_size))
            .await
            .map_err(unreadable)?;
        reader.read_exact(&mut part).await.map_err(unreadable)?;
        let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&part));
        // Shared, not copied, between retries.
        let part = bytes::Bytes::from(part);
        let part_number = index as i32 + 1;
        let what = format!("uploading part {part_number} of {key}");
        let completed = http::retry(
            &self.retry,
            &what,
            || async {
                self.client
                    .upload_part()
                    .bucket(&self.options.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .checksum_sha256(&checksum)
                    .body(ByteStream::from(part.clone()))
                    .send()
                    .await
                    .map(|uploaded| {
                        CompletedPart::builder()
                            .part_number(part_number)
                            .set_e_tag(uploaded.e_tag().map(str::to_string))
                            .checksum_sha256(checksum.clone())
                            .build()
                    })
                    .map_err(|err| classify(&what, &self.options.bucket, err))
            },
            |exhausted| Error::Remote(format!("S3: {what} {exhausted}")),
        )
        .await?;
        Ok((completed, part))
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        // Best effort: a failed abort leaves parts that a lifecycle rule cleans up.
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(&self.options.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
    }

    /// Server-side copy of `from` to `to` (Cache-Control [`SHORT`]). Objects from the multipart
    /// threshold up are copied part by part with the upload's part size: CopyObject stops at
    /// 5 GiB, and the copy then reports the same checksum of part checksums as its source.
    pub async fn copy(&self, from: &str, to: &str, file: &LocalFile, cache: &str) -> Result<()> {
        if file.bytes >= self.options.multipart_threshold {
            return self.copy_multipart(from, to, file, cache).await;
        }
        self.client
            .copy_object()
            .bucket(&self.options.bucket)
            .key(to)
            .copy_source(format!("{}/{from}", self.options.bucket))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(&file.media_type)
            .cache_control(cache)
            .metadata(SHA256_META, &file.sha256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|err| s3_error(&format!("COPY {from} → {to}"), &self.options.bucket, err))?;
        Ok(())
    }

    async fn copy_multipart(
        &self,
        from: &str,
        to: &str,
        file: &LocalFile,
        cache: &str,
    ) -> Result<()> {
        let upload_id = self.start_multipart(to, file, cache).await?;
        let part_size = self.options.part_size;
        let count = file.bytes.div_ceil(part_size).max(1);
        let copied: Vec<Result<CompletedPart>> = futures::stream::iter(0..count)
            .map(|index| {
                let first = index * part_size;
                let last = (first + part_size).min(file.bytes) - 1;
                self.copy_part(from, to, &upload_id, index as i32 + 1, first, last)
            })
            .buffered(PARTS_IN_FLIGHT)
            .collect()
            .await;
        let parts = copied.into_iter().collect::<Result<Vec<_>>>();
        self.complete(to, &upload_id, parts, false).await
    }

    /// Copies bytes `first..=last` of `from` as part `part_number` of `to` (idempotent: retried).
    async fn copy_part(
        &self,
        from: &str,
        to: &str,
        upload_id: &str,
        part_number: i32,
        first: u64,
        last: u64,
    ) -> Result<CompletedPart> {
        let what = format!("copying part {part_number} of {from} to {to}");
        http::retry(
            &self.retry,
            &what,
            || async {
                self.client
                    .upload_part_copy()
                    .bucket(&self.options.bucket)
                    .key(to)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .copy_source(format!("{}/{from}", self.options.bucket))
                    .copy_source_range(format!("bytes={first}-{last}"))
                    .send()
                    .await
                    .map(|copied| {
                        let result = copied.copy_part_result();
                        CompletedPart::builder()
                            .part_number(part_number)
                            .set_e_tag(result.and_then(|r| r.e_tag()).map(str::to_string))
                            .set_checksum_sha256(
                                result.and_then(|r| r.checksum_sha256()).map(str::to_string),
                            )
                            .build()
                    })
                    .map_err(|err| classify(&what, &self.options.bucket, err))
            },
            |exhausted| Error::Remote(format!("S3: {what} {exhausted}")),
        )
        .await
    }

    /// Writes a small object with Cache-Control [`SHORT`], unconditionally.
    pub async fn put_small(&self, key: &str, bytes: Vec<u8>, media_type: &str) -> Result<()> {
        match self.put_small_if(key, bytes, media_type, None).await? {
            Conditional::Written => Ok(()),
            Conditional::Stale => unreachable!("an unconditional write is never stale"),
        }
    }

    /// Writes a small object only if it is still as read: `Some(Some(etag))` requires that
    /// ETag (`If-Match`), `Some(None)` that it does not exist (`If-None-Match: *`), `None`
    /// nothing.
    pub async fn put_small_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        media_type: &str,
        read_as: Option<Option<&str>>,
    ) -> Result<Conditional> {
        let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        let mut request = self
            .client
            .put_object()
            .bucket(&self.options.bucket)
            .key(key)
            .content_type(media_type)
            .cache_control(SHORT)
            .checksum_sha256(checksum)
            .body(ByteStream::from(bytes));
        request = match read_as {
            Some(Some(etag)) => request.if_match(etag),
            Some(None) => request.if_none_match("*"),
            None => request,
        };
        match request.send().await {
            Ok(_) => Ok(Conditional::Written),
            // 412: changed since read; 409: a concurrent conditional write won (AWS); 404: an
            // If-Match on an object deleted since (moto).
            Err(err) if read_as.is_some() && matches!(status(&err), Some(409 | 412 | 404)) => {
                Ok(Conditional::Stale)
            }
            Err(err) => Err(s3_error(&format!("PUT {key}"), &self.options.bucket, err)),
        }
    }

    /// Deletes `key` (a missing key counts as deleted).
    pub async fn delete(&self, key: &str) -> Result<()> {
        let what = format!("DELETE {key}");
        http::retry(
            &self.retry,
            &what,
            || async {
                self.client
                    .delete_object()
                    .bucket(&self.options.bucket)
                    .key(key)
                    .send()
                    .await
                    .map(|_| ())
                    .or_else(|err| match status(&err) {
                        Some(404) => Ok(()),
                        _ => Err(classify(&what, &self.options.bucket, err)),
                    })
            },
            |exhausted| Error::Remote(format!("S3: {what} {exhausted}")),
        )
        .await
    }

    /// The names of the objects directly under `{prefix}/{folder}/`.
    pub async fn list(&self, folder: &str) -> Result<Vec<String>> {
        let prefix = self.key(folder, "");
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.options.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|err| s3_error(&format!("LIST {prefix}"), &self.options.bucket, err))?;
            for object in page.contents() {
                if let Some(name) = object.key().and_then(|k| k.strip_prefix(&prefix))
                    && !name.contains('/')
                {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    /// [`composite_sha256`] of a local file, read once per run.
    fn composite(&self, path: &Path) -> Option<String> {
        let mut cache = self.composites.lock().expect("composite cache");
        if let Some(known) = cache.get(path) {
            return Some(known.clone());
        }
        let computed = composite_sha256(path, self.options.part_size).ok()?;
        cache.insert(path.to_path_buf(), computed.clone());
        Some(computed)
    }

    /// Checks that every file holds the local bytes (in `out_dir`) under `folder`.
    pub async fn verify(&self, folder: &str, files: &[&LocalFile], out_dir: &Path) -> Result<()> {
        let mut problems = Vec::new();
        for file in files {
            let key = self.key(folder, &file.name);
            match self.head(&key).await? {
                None => problems.push(format!("{key} is missing")),
                Some(reported)
                    if !self
                        .holds(&key, &reported, file, &out_dir.join(&file.name))
                        .await? =>
                {
                    problems.push(format!(
                        "{key}: {} bytes, checksum {}, expected {} bytes sha256 {}",
                        reported.bytes,
                        reported.checksum.as_deref().unwrap_or("none"),
                        file.bytes,
                        file.sha256
                    ))
                }
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Remote(format!(
                "S3 verification failed; the manifest was not written:\n  {}",
                problems.join("\n  ")
            )))
        }
    }
}

/// What a HEAD reports about an object's bytes.
pub struct Reported {
    pub bytes: u64,
    /// `x-amz-checksum-sha256` as the store reports it (base64, maybe `-N`).
    pub checksum: Option<String>,
}

/// S3's checksum of a multipart object uploaded in `part_size` parts: the sha256 of the
/// concatenated part sha256s, base64 (without the `-N` suffix).
fn composite_sha256(path: &Path, part_size: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut parts = Sha256::new();
    loop {
        let mut part = Sha256::new();
        let mut taken = 0u64;
        while taken < part_size {
            let want = buffer.len().min((part_size - taken) as usize);
            let read = file.read(&mut buffer[..want])?;
            if read == 0 {
                break;
            }
            part.update(&buffer[..read]);
            taken += read as u64;
        }
        if taken == 0 {
            break;
        }
        parts.update(part.finalize());
        if taken < part_size {
            break;
        }
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(parts.finalize()))
}

/// An error and its causes on one line ("streaming error" alone says nothing).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
