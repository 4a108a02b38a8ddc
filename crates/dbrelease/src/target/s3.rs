//! S3 as a [`Target`]: versioned keys written create-only with server-verified checksums; when
//! finalizing, a `latest/` alias by server-side copy and `versions.json`, each step's manifest
//! last. [`Bucket`] is the edge (one client per run); [`S3Target`] the release on it.

use std::path::Path;

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

use dbrelease_manifest::versions::{VERSIONS_FILE, VersionEntry, VersionsIndex};
use dbrelease_manifest::{DATAPACKAGE_FILE, MANIFEST_FILE, Manifest, SHA256SUMS_FILE, sums};
use dbrelease_remote::http::{self, Failure, RetryPolicy};
use dbrelease_remote::verify::{FileCheck, TargetCheck};

use super::{ActionKind, AssetReport, Finalized, Inventory, Put, Staged, Target, TargetKind};
use crate::config::S3Options;
use crate::error::{Error, Result};
use crate::plan::{AssetPlan, Conflict, LocalFile, RemoteAsset};

/// Cache-Control of versioned keys: their bytes never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of `latest/` and `versions.json`: they move with every release.
const SHORT: &str = "public, max-age=300";
/// Multipart parts uploaded at once: memory stays at about this many parts.
const PARTS_IN_FLIGHT: usize = 6;
/// User metadata key holding the object's hex sha256 (also for multipart objects, whose S3
/// checksum is a checksum of part checksums).
const SHA256_META: &str = "sha256";

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

/// A call's result with "does not exist" (404) as None and every other failure explained.
fn found<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E>>,
    what: &str,
    bucket: &str,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Ok(None)
        }
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
    let status = err.raw_response().map(|r| r.status().as_u16());
    match status {
        Some(status) if (400..500).contains(&status) && status != 408 && status != 429 => {
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
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let advice = match (code.as_str(), status) {
        ("NoSuchBucket", _) => format!("bucket {bucket} does not exist: create it or fix `bucket`"),
        ("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken", _) => {
            "S3 rejected the credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the role (OIDC) setup".into()
        }
        ("AccessDenied", _) | (_, 403) => format!(
            "access denied on bucket {bucket}: the credentials need s3:GetObject, s3:PutObject and s3:ListBucket"
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

/// One bucket and prefix, with a client built once: the credential chain (web identity in
/// Actions) is resolved once per run, not once per call.
pub struct Bucket {
    client: Client,
    options: S3Options,
    retry: RetryPolicy,
    /// Multipart checksums of local files, computed once per run: inventory and both
    /// verifications ask for the same large files.
    composites: std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>>,
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
            .map_err(|err| {
                let status = err.raw_response().map(|r| r.status().as_u16());
                match status {
                    Some(404) => Error::Remote(format!(
                        "S3: bucket {} does not exist: create it or fix `bucket` under [s3] / --s3-bucket",
                        options.bucket
                    )),
                    _ => s3_error("checking the bucket", &options.bucket, err),
                }
            })?;
        Ok(Bucket {
            client,
            options: options.clone(),
            retry: retry.clone(),
            composites: Default::default(),
        })
    }

    fn key(&self, folder: &str, name: &str) -> String {
        let prefix = self.options.prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("{folder}/{name}")
        } else {
            format!("{prefix}/{folder}/{name}")
        }
    }

    fn url(&self, key: &str) -> String {
        match &self.options.public_base_url {
            Some(base) => format!("{}/{key}", base.trim_end_matches('/')),
            None => match &self.options.endpoint {
                Some(endpoint) => format!(
                    "{}/{}/{key}",
                    endpoint.trim_end_matches('/'),
                    self.options.bucket
                ),
                None => format!("https://{}.s3.amazonaws.com/{key}", self.options.bucket),
            },
        }
    }

    /// What S3 reports about an object, or None when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<Reported>> {
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
                stored_sha256: head.metadata().and_then(|m| m.get(SHA256_META)).cloned(),
            }),
        )
    }

    /// True when the object S3 reports holds `file`'s bytes (at `path` locally). The store's own
    /// checksum decides when it reports one: the plain sha256 of a single-part object, or, for a
    /// multipart one, the checksum of its part checksums — with a `-N` suffix (AWS, s3s) or
    /// without (moto) — which is recomputed here from the local file's parts. Only a store that
    /// reports no checksum at all falls back to the sha256 stored with the object at upload.
    fn holds(&self, reported: &Reported, file: &LocalFile, path: &Path) -> bool {
        if reported.bytes != file.bytes {
            return false;
        }
        let Some(checksum) = &reported.checksum else {
            return reported.stored_sha256.as_deref() == Some(file.sha256.as_str());
        };
        let checksum = checksum.split('-').next().unwrap_or(checksum);
        let plain = hex::decode(&file.sha256)
            .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw))
            .unwrap_or_default();
        if checksum == plain {
            return true;
        }
        file.bytes >= self.options.multipart_threshold
            && self.composite(path).is_some_and(|c| c == checksum)
    }

    async fn stream(&self, key: &str, dest: Option<&Path>) -> Result<Option<(u64, String)>> {
        use tokio::io::AsyncWriteExt;
        let Some(mut object) = self.get_object(key).await? else {
            return Ok(None);
        };
        let mut file = match dest {
            Some(dest) => Some(
                tokio::fs::File::create(dest)
                    .await
                    .map_err(|err| Error::output(dest, &err))?,
            ),
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

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.get_object(key).await? {
            Some(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|err| Error::Remote(format!("S3: reading {key} failed: {err}")))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            None => Ok(None),
        }
    }

    /// Uploads a file; `create_only` adds `If-None-Match: *`; `cache` is its Cache-Control.
    async fn put_file(
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
        let sha256_b64 = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(&file.sha256).expect("hex sha256"));
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
            .checksum_sha256(sha256_b64);
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
    /// each with its sha256 for the server to verify; aborted on any failure.
    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        create_only: bool,
        cache: &str,
    ) -> Result<()> {
        let bucket = &self.options.bucket;
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(&file.media_type)
            .cache_control(cache)
            .metadata(SHA256_META, &file.sha256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|err| s3_error(&format!("starting multipart {key}"), bucket, err))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let result = self.upload_parts(key, path, file, &upload_id).await;
        let parts = match result {
            Ok(parts) => parts,
            Err(err) => {
                self.abort(key, &upload_id).await;
                return Err(err);
            }
        };
        let mut complete = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if create_only {
            complete = complete.if_none_match("*");
        }
        if let Err(err) = complete.send().await {
            self.abort(key, &upload_id).await;
            return Err(s3_error(
                &format!("completing multipart {key}"),
                bucket,
                err,
            ));
        }
        Ok(())
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        file: &LocalFile,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>> {
        let part_size = self.options.part_size;
        let count = file.bytes.div_ceil(part_size).max(1);
        let results: Vec<Result<CompletedPart>> = futures::stream::iter(0..count)
            .map(|index| async move {
                let mut part = vec![0u8; part_size.min(file.bytes - index * part_size) as usize];
                let mut reader = tokio::fs::File::open(path).await.map_err(|err| {
                    Error::Remote(format!("cannot read {}: {err}", path.display()))
                })?;
                tokio::io::AsyncSeekExt::seek(
                    &mut reader,
                    std::io::SeekFrom::Start(index * part_size),
                )
                .await
                .map_err(|err| Error::Remote(format!("cannot read {}: {err}", path.display())))?;
                reader.read_exact(&mut part).await.map_err(|err| {
                    Error::Remote(format!("cannot read {}: {err}", path.display()))
                })?;
                let checksum =
                    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&part));
                // Shared, not copied, between retries.
                let part = bytes::Bytes::from(part);
                let part_number = index as i32 + 1;
                // Each part is retried on its own; the body is in memory, so a retry re-sends it.
                let what = format!("uploading part {part_number} of {key}");
                http::retry(
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
                .await
            })
            .buffered(PARTS_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
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

    async fn copy(&self, from: &str, to: &str, file: &LocalFile) -> Result<()> {
        self.client
            .copy_object()
            .bucket(&self.options.bucket)
            .key(to)
            .copy_source(format!("{}/{from}", self.options.bucket))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(&file.media_type)
            .cache_control(SHORT)
            .metadata(SHA256_META, &file.sha256)
            .send()
            .await
            .map_err(|err| s3_error(&format!("COPY {from} → {to}"), &self.options.bucket, err))?;
        Ok(())
    }

    async fn put_small(&self, key: &str, bytes: Vec<u8>, media_type: &str) -> Result<()> {
        let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        self.client
            .put_object()
            .bucket(&self.options.bucket)
            .key(key)
            .content_type(media_type)
            .cache_control(SHORT)
            .checksum_sha256(checksum)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| s3_error(&format!("PUT {key}"), &self.options.bucket, err))?;
        Ok(())
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

    /// HEADs every file under `folder` and checks it holds the local bytes (in `out_dir`).
    async fn verify(&self, folder: &str, files: &[&LocalFile], out_dir: &Path) -> Result<()> {
        let mut problems = Vec::new();
        for file in files {
            let key = self.key(folder, &file.name);
            match self.head(&key).await? {
                None => problems.push(format!("{key} is missing")),
                Some(reported) if !self.holds(&reported, file, &out_dir.join(&file.name)) => {
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
struct Reported {
    bytes: u64,
    /// `x-amz-checksum-sha256` as the store reports it (base64, maybe `-N`).
    checksum: Option<String>,
    /// The sha256 dbrelease stored in the object's metadata at upload.
    stored_sha256: Option<String>,
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

fn index_key(options: &S3Options) -> String {
    let prefix = options.prefix.trim_matches('/');
    if prefix.is_empty() {
        VERSIONS_FILE.to_string()
    } else {
        format!("{prefix}/{VERSIONS_FILE}")
    }
}

/// The manifest of the newest version in `versions.json` other than `tag`, if any.
pub async fn previous_manifest(target: &Bucket, tag: &str) -> Result<Option<Manifest>> {
    let Some(bytes) = target.get(&index_key(&target.options)).await? else {
        return Ok(None);
    };
    let index = VersionsIndex::parse(&bytes).map_err(|err| {
        Error::Remote(format!(
            "S3: {} {err}; move it away or fix it",
            index_key(&target.options)
        ))
    })?;
    let Some(previous) = index.newest_other_than(tag) else {
        return Ok(None);
    };
    let key = target.key(&previous.tag, MANIFEST_FILE);
    let manifest = target
        .get(&key)
        .await?
        .and_then(|bytes| super::readable_manifest(&target.url(&key), &bytes));
    Ok(manifest)
}

/// The bytes of file `name` of version `tag`, or None (small files: manifest, SHA256SUMS).
pub async fn read_version_file(bucket: &Bucket, tag: &str, name: &str) -> Result<Option<Vec<u8>>> {
    bucket.get(&bucket.key(tag, name)).await
}

/// Streams file `name` of version `tag` into `dest`; returns its size and sha256, or None
/// when the object does not exist.
pub async fn download_version_file(
    bucket: &Bucket,
    tag: &str,
    name: &str,
    dest: &Path,
) -> Result<Option<(u64, String)>> {
    bucket.stream(&bucket.key(tag, name), Some(dest)).await
}

/// Reads version `tag` back through the S3 API (so private buckets work) and checks every
/// object against the version's manifest, hashing each one as it streams.
pub async fn verify_version(target: &Bucket, tag: &str) -> Result<TargetCheck> {
    let options = &target.options;
    let name = format!(
        "s3://{}/{}",
        options.bucket,
        options.prefix.trim_matches('/')
    );
    // The manifest, and its record in versions.json.
    let manifest_key = target.key(tag, MANIFEST_FILE);
    let Some(manifest_bytes) = target.get(&manifest_key).await? else {
        return Ok(TargetCheck::unreadable(
            name,
            tag,
            format!(
                "no {manifest_key}: version {tag} was never published here, or its publish did not finish"
            ),
        ));
    };
    let mut problems = index_problems(target, tag, &manifest_key, &manifest_bytes).await?;
    let manifest = match Manifest::parse(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(err) => {
            return Ok(TargetCheck::unreadable(
                name,
                tag,
                format!("{manifest_key} {err}"),
            ));
        }
    };
    // Every artifact streamed and hashed, a few at a time.
    let checks: Vec<Result<(FileCheck, Option<String>)>> =
        futures::stream::iter(&manifest.artifacts)
            .map(|artifact| check_object(target, tag, artifact))
            .buffered(3)
            .collect()
            .await;
    let mut files = Vec::new();
    for check in checks {
        let (file, problem) = check?;
        files.push(file);
        problems.extend(problem);
    }
    // SHA256SUMS and datapackage.json agree with the manifest.
    problems.extend(metadata_problems(target, tag, &manifest).await?);
    Ok(TargetCheck {
        target: name,
        tag: tag.to_string(),
        location: target.url(&target.key(tag, "")),
        files,
        problems,
    })
}

/// versions.json must list `tag` with the sha256 of the manifest that is there.
async fn index_problems(
    target: &Bucket,
    tag: &str,
    manifest_key: &str,
    manifest_bytes: &[u8],
) -> Result<Vec<String>> {
    let index: Option<VersionsIndex> = target
        .get(&index_key(&target.options))
        .await?
        .and_then(|bytes| VersionsIndex::parse(&bytes).ok());
    let actual = hex::encode(Sha256::digest(manifest_bytes));
    Ok(match index.as_ref().and_then(|i| i.find(tag)) {
        Some(entry) if entry.manifest_sha256 != actual => vec![format!(
            "{manifest_key} has sha256 {actual}, versions.json records {}",
            entry.manifest_sha256
        )],
        Some(_) => Vec::new(),
        None => vec![format!("versions.json does not list {tag}")],
    })
}

/// One artifact's object, streamed and hashed, against the manifest.
async fn check_object(
    target: &Bucket,
    tag: &str,
    artifact: &dbrelease_manifest::Artifact,
) -> Result<(FileCheck, Option<String>)> {
    let key = target.key(tag, &artifact.name);
    let digest = match target.stream(&key, None).await {
        Err(Error::Integrity(problem)) => Err(problem),
        other => Ok(other?),
    };
    let problem = match digest {
        Err(problem) => Some(problem),
        Ok(None) => Some(format!(
            "{} is listed in the manifest but not published",
            artifact.name
        )),
        Ok(Some((bytes, sha256))) if bytes == artifact.bytes && sha256 == artifact.sha256 => None,
        Ok(Some((bytes, sha256))) => Some(format!(
            "{}: published {bytes} bytes with sha256 {sha256}, the manifest records {} bytes with sha256 {}",
            artifact.name, artifact.bytes, artifact.sha256
        )),
    };
    let check = FileCheck {
        name: artifact.name.clone(),
        bytes: artifact.bytes,
        sha256: artifact.sha256.clone(),
        ok: problem.is_none(),
    };
    Ok((check, problem))
}

/// SHA256SUMS lists every artifact with the manifest's sha256; datapackage.json matches its
/// SHA256SUMS line.
async fn metadata_problems(target: &Bucket, tag: &str, manifest: &Manifest) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let Some(bytes) = target.get(&target.key(tag, SHA256SUMS_FILE)).await? else {
        return Ok(vec![format!("{SHA256SUMS_FILE} is not published")]);
    };
    let listed = sums::parse(&String::from_utf8_lossy(&bytes));
    problems.extend(sums::problems(manifest, &listed));
    match target.get(&target.key(tag, DATAPACKAGE_FILE)).await? {
        None => problems.push(format!("{DATAPACKAGE_FILE} is not published")),
        Some(datapackage) => {
            let sha = hex::encode(Sha256::digest(&datapackage));
            if let Some((expected, _)) = listed.iter().find(|(_, n)| n == DATAPACKAGE_FILE)
                && *expected != sha
            {
                problems.push(format!(
                    "{DATAPACKAGE_FILE} has sha256 {sha}, {SHA256SUMS_FILE} lists {expected}"
                ));
            }
        }
    }
    Ok(problems)
}

/// One tag's release under `{prefix}/{tag}/` on a bucket.
pub struct S3Target<'a> {
    bucket: &'a Bucket,
    tag: String,
    /// The manifest being published (its `created_at` orders versions.json).
    manifest: &'a Manifest,
    local: &'a [LocalFile],
    /// Where the local files' bytes are.
    out_dir: &'a Path,
    /// Published with `--prerelease`: never `latest/`.
    prerelease: bool,
    /// A rolling tag (published with `--replace`, e.g. `nightly`): its objects change, so they
    /// get a short Cache-Control, and it is never `latest/`.
    rolling: bool,
    /// The index as read by `inventory`.
    index: VersionsIndex,
}

impl<'a> S3Target<'a> {
    /// The release `tag` of `manifest` (files `local`) on `bucket`.
    pub fn new(
        bucket: &'a Bucket,
        tag: &str,
        manifest: &'a Manifest,
        local: &'a [LocalFile],
        out_dir: &'a Path,
        prerelease: bool,
        rolling: bool,
    ) -> Self {
        S3Target {
            bucket,
            tag: tag.to_string(),
            manifest,
            local,
            out_dir,
            prerelease,
            rolling,
            index: VersionsIndex::default(),
        }
    }

    async fn read_index(&self) -> Result<VersionsIndex> {
        let key = index_key(&self.bucket.options);
        match self.bucket.get(&key).await? {
            Some(bytes) => VersionsIndex::parse(&bytes)
                .map_err(|err| Error::Remote(format!("S3: {key} {err}; move it away or fix it"))),
            None => Ok(VersionsIndex::default()),
        }
    }

    /// `latest/` follows the newest version only, artifacts first and manifest last, each by
    /// server-side copy of the verified version.
    async fn move_latest(
        &self,
        entry: &VersionEntry,
        index: &VersionsIndex,
    ) -> Result<Vec<AssetReport>> {
        let mut reports = Vec::new();
        // Mirroring or repairing an older tag later must not move `latest/` back.
        if !self.bucket.options.latest || !index.would_be_newest(entry) {
            return Ok(reports);
        }
        for file in self.local {
            let to = self.bucket.key("latest", &file.name);
            let current = self.bucket.head(&to).await?;
            let path = self.out_dir.join(&file.name);
            if current.is_some_and(|reported| self.bucket.holds(&reported, file, &path)) {
                continue;
            }
            self.bucket
                .copy(&self.bucket.key(&self.tag, &file.name), &to, file)
                .await?;
            reports.push(AssetReport {
                name: to,
                action: ActionKind::Copy,
                bytes: 0,
                seconds: 0.0,
            });
        }
        Ok(reports)
    }
}

impl Target for S3Target<'_> {
    fn kind(&self) -> TargetKind {
        TargetKind::S3
    }

    fn describe(&self) -> String {
        format!(
            "s3://{}/{}",
            self.bucket.options.bucket,
            self.bucket.key(&self.tag, "")
        )
    }

    fn locate(&self, name: &str) -> String {
        self.bucket.key(&self.tag, name)
    }

    async fn inventory(&mut self) -> Result<Inventory> {
        let mut assets = Vec::new();
        for file in self.local {
            let key = self.bucket.key(&self.tag, &file.name);
            if let Some(reported) = self.bucket.head(&key).await? {
                // The plan compares sha256s: an object that holds our bytes (whatever form the
                // store's checksum takes) reports ours, any other one what the store says.
                let path = self.out_dir.join(&file.name);
                let sha256 = if self.bucket.holds(&reported, file, &path) {
                    Some(file.sha256.clone())
                } else {
                    reported.checksum.clone().or(reported.stored_sha256.clone())
                };
                assets.push(RemoteAsset {
                    id: 0,
                    name: file.name.clone(),
                    bytes: reported.bytes,
                    state: dbrelease_remote::github::UPLOADED.into(),
                    sha256,
                });
            }
        }
        let published = match assets.iter().any(|a| a.name == MANIFEST_FILE) {
            true => {
                let key = self.bucket.key(&self.tag, MANIFEST_FILE);
                self.bucket
                    .get(&key)
                    .await?
                    .and_then(|bytes| super::readable_manifest(&self.bucket.url(&key), &bytes))
            }
            false => None,
        };
        self.index = self.read_index().await?;
        Ok(Inventory { assets, published })
    }

    fn pending(&self) -> bool {
        // versions.json must list this tag; it is written last, so a run that stopped before it
        // owes it.
        self.index.find(&self.tag).is_none()
    }

    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    fn conflict_message(&self, conflicts: &[Conflict]) -> String {
        let mut text = format!(
            "S3 already holds objects under {} that differ from this build:",
            self.bucket.key(&self.tag, "")
        );
        for conflict in conflicts {
            text.push_str(&format!("\n  {}", conflict.describe("stored")));
        }
        text.push_str("\nPass --replace to overwrite them, or publish under a new tag.");
        text
    }

    async fn prepare(&mut self, _plan: &AssetPlan) -> Result<()> {
        Ok(())
    }

    async fn remove(&self, asset: &RemoteAsset) -> Result<()> {
        // S3 writes are atomic: an interrupted PUT leaves nothing behind, so nothing is planned
        // here (an aborted multipart upload is aborted on the spot).
        Err(Error::Remote(format!(
            "S3: unexpected leftover {} in the plan",
            asset.name
        )))
    }

    async fn put(&self, file: &LocalFile, path: &Path, put: Put) -> Result<Option<Staged>> {
        let key = self.bucket.key(&self.tag, &file.name);
        // A PUT replaces an object atomically (readers see the old or the new bytes), so a
        // replacement needs no staging; a new key is written create-only.
        let create_only = put == Put::Create;
        // Immutable caching only for a version that will never change.
        let cache = if self.rolling { SHORT } else { IMMUTABLE };
        self.bucket
            .put_file(&key, path, file, create_only, cache)
            .await?;
        Ok(None)
    }

    async fn swap(&self, _staged: &Staged) -> Result<()> {
        Ok(())
    }

    async fn verify(&self, files: &[&LocalFile]) -> Result<()> {
        self.bucket.verify(&self.tag, files, self.out_dir).await
    }

    async fn finalize(&mut self) -> Result<Finalized> {
        let mut index = self.read_index().await?;
        // The manifest on S3 is the one that counts (an up-to-date run keeps the published one).
        let manifest_key = self.bucket.key(&self.tag, MANIFEST_FILE);
        let published_manifest = self.bucket.get(&manifest_key).await?.unwrap_or_default();
        let entry = VersionEntry {
            tag: self.tag.clone(),
            created_at: Manifest::parse(&published_manifest)
                .map(|m| m.created_at)
                .unwrap_or_else(|_| self.manifest.created_at.clone()),
            manifest_sha256: hex::encode(Sha256::digest(&published_manifest)),
            manifest_url: self.bucket.url(&manifest_key),
            base_url: self.bucket.url(&self.bucket.key(&self.tag, "")),
            prerelease: self.prerelease || self.rolling,
        };
        let mut assets = self.move_latest(&entry, &index).await?;
        let changed = index.record(entry);
        if changed {
            let key = index_key(&self.bucket.options);
            self.bucket
                .put_small(&key, index.to_json(), "application/json")
                .await?;
            assets.push(AssetReport {
                name: key,
                action: ActionKind::Upload,
                bytes: 0,
                seconds: 0.0,
            });
        }
        self.index = index;
        Ok(Finalized {
            changed: changed || !assets.is_empty(),
            assets,
        })
    }

    fn location(&self) -> Option<String> {
        Some(self.bucket.url(&self.bucket.key(&self.tag, "")))
    }

    fn manifest_url(&self) -> String {
        self.bucket.url(&self.bucket.key(&self.tag, MANIFEST_FILE))
    }

    fn is_draft(&self) -> bool {
        false
    }
}
