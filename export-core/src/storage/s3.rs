//! [`S3Storage`]: AWS S3 and S3-compatible stores (MinIO, Ceph, Garage, ...), feature `s3`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, RetryConfig};

use super::key::validate_prefix;
use super::object::ObjectStorage;
use super::{Download, MultipartOptions, ObjectInfo, Storage, StorageKey, Upload, parse_bool};
use crate::error::{ExportError, Result};
use crate::runtime::IoRuntime;

/// The smallest part S3 accepts in a multipart upload (but the last): 5 MiB.
const S3_MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The region used when none is given.
const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to reach an S3-compatible bucket.
///
/// Credentials left unset are looked up by the S3 client the usual way (instance metadata, web
/// identity); [`S3Options::from_env`] fills the options from the `AWS_*` environment variables.
/// The `Debug` output hides the secret key and the session token.
///
/// # Examples
///
/// ```
/// use export_core::storage::S3Options;
/// let mut options = S3Options::new("exports");
/// options.endpoint = Some("http://127.0.0.1:9000".into());
/// options.allow_http = true;
/// options.access_key_id = Some("minio".into());
/// options.secret_access_key = Some("minio-secret".into());
/// assert!(!format!("{options:?}").contains("minio-secret"));
/// ```
#[derive(Clone, Default)]
pub struct S3Options {
    /// The bucket name (3 to 63 characters: lower-case letters, digits, `.` and `-`).
    pub bucket: String,
    /// A key prefix inside the bucket (`""` for none): key `a/b.csv` is stored as
    /// `<prefix>/a/b.csv`.
    pub prefix: String,
    /// The endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// The region (default `us-east-1`).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// A session token for temporary credentials.
    pub session_token: Option<String>,
    /// Allows an `http://` endpoint (for a server on loopback or a private network).
    pub allow_http: bool,
    /// Addresses the bucket as `<bucket>.<endpoint host>` instead of `<endpoint>/<bucket>`; with
    /// a custom endpoint, the endpoint must then include the bucket.
    pub virtual_hosted_style: bool,
    /// How uploads are cut into parts (parts of at least 5 MiB).
    pub multipart: MultipartOptions,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("multipart", &self.multipart)
            .finish()
    }
}

impl S3Options {
    /// Options for `bucket`, everything else default (AWS, `us-east-1`, no prefix).
    pub fn new(bucket: impl Into<String>) -> S3Options {
        S3Options {
            bucket: bucket.into(),
            ..S3Options::default()
        }
    }

    /// Options from the environment: `AWS_BUCKET` (or `AWS_BUCKET_NAME`),
    /// `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`, `AWS_ENDPOINT`), `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_ALLOW_HTTP` and `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` (`true`/`false`). Empty variables
    /// count as unset.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = export_core::storage::S3Options::from_env();
    /// options.bucket = "exports".into(); // whatever AWS_BUCKET said
    /// ```
    pub fn from_env() -> S3Options {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        };
        let flag = |name: &str| var(&[name]).is_some_and(|v| parse_bool(name, &v).unwrap_or(false));
        S3Options {
            bucket: var(&["AWS_BUCKET", "AWS_BUCKET_NAME"]).unwrap_or_default(),
            prefix: String::new(),
            endpoint: var(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]),
            region: var(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            access_key_id: var(&["AWS_ACCESS_KEY_ID"]),
            secret_access_key: var(&["AWS_SECRET_ACCESS_KEY"]),
            session_token: var(&["AWS_SESSION_TOKEN"]),
            allow_http: flag("AWS_ALLOW_HTTP"),
            virtual_hosted_style: flag("AWS_VIRTUAL_HOSTED_STYLE_REQUEST"),
            multipart: MultipartOptions::default(),
        }
    }

    /// Checks every option without contacting the server.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] with field `bucket`, `prefix`, `endpoint`, `region`,
    /// `access_key_id`, `secret_access_key`, `part_size` or `max_parts_in_flight`, saying what
    /// is wrong with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::storage::S3Options;
    /// let err = S3Options::new("My_Bucket").validate().unwrap_err();
    /// assert!(err.to_string().starts_with("invalid `bucket`"));
    /// let mut options = S3Options::new("exports");
    /// options.endpoint = Some("http://127.0.0.1:9000".into());
    /// let err = options.validate().unwrap_err();
    /// assert!(err.to_string().contains("allow_http"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        validate_bucket(&self.bucket)?;
        validate_prefix(&self.prefix).map_err(|e| match e {
            ExportError::InvalidRequest { reason, .. } => ExportError::request("prefix", reason),
            e => e,
        })?;
        if let Some(endpoint) = &self.endpoint {
            validate_endpoint(endpoint, self.allow_http)?;
        }
        if let Some(region) = &self.region
            && (region.is_empty()
                || !region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(ExportError::request(
                "region",
                format!("{region:?} is not a region name (letters, digits, `-`, `_`)"),
            ));
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => {
                return Err(ExportError::request(
                    "secret_access_key",
                    "is missing while access_key_id is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ExportError::request(
                    "access_key_id",
                    "is missing while secret_access_key is set",
                ));
            }
            _ => {}
        }
        self.multipart.validate(S3_MIN_PART_SIZE)
    }
}

fn validate_bucket(bucket: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(ExportError::request(
            "bucket",
            format!("{bucket:?} {reason}"),
        ))
    };
    if bucket.is_empty() {
        return Err(ExportError::request(
            "bucket",
            "is empty (give s3://<bucket>/<prefix> or set AWS_BUCKET)",
        ));
    }
    if !(3..=63).contains(&bucket.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return bad("may only contain lower-case letters, digits, `.` and `-`");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return bad("must start and end with a letter or a digit");
    }
    if bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.") {
        return bad("must not contain `..`, `.-` or `-.`");
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("must not look like an IP address");
    }
    Ok(())
}

fn validate_endpoint(endpoint: &str, allow_http: bool) -> Result<()> {
    let bad = |reason: String| {
        Err(ExportError::request(
            "endpoint",
            format!("{endpoint:?} {reason}"),
        ))
    };
    let url = match url::Url::parse(endpoint) {
        Ok(url) => url,
        Err(e) => {
            return bad(format!(
                "is not a URL ({e}); expected http(s)://host[:port]"
            ));
        }
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return bad(
                "uses plain http; set allow_http to true for a local or private server".into(),
            );
        }
        other => return bad(format!("has scheme `{other}`; expected http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad(
            "contains credentials; give them as access_key_id and secret_access_key".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return bad("must not have a query or a fragment".into());
    }
    Ok(())
}

/// Files in an S3 bucket (AWS S3 or an S3-compatible server such as MinIO), under an optional
/// key prefix.
///
/// Uploads are multipart uploads in parts of [`MultipartOptions::part_size`] (default 8 MiB)
/// with at most [`MultipartOptions::max_parts_in_flight`] (default 3) sent at once, so an
/// upload holds at most [`MultipartOptions::max_memory`] bytes whatever the file size; a file
/// smaller than one part is sent with a single PUT. The object appears only when the upload
/// completes; an aborted or dropped upload is aborted on the server (its parts deleted).
/// [`Storage::signed_url`] gives presigned GET URLs. Failed requests are retried up to 3 times
/// (within 60 seconds).
///
/// Its requests run on an [`IoRuntime`]: [`IoRuntime::shared`] for [`S3Storage::new`], the
/// engine's for [`S3Storage::with_runtime`]; the storage starts no thread of its own. Every
/// method may be called from any thread, async runtimes included (see the
/// [module documentation](super)).
///
/// # Examples
///
/// ```
/// use export_core::storage::{S3Options, S3Storage, Storage};
/// let mut options = S3Options::new("exports");
/// options.prefix = "trips".into();
/// options.region = Some("eu-west-3".into());
/// options.access_key_id = Some("AKIDEXAMPLE".into());
/// options.secret_access_key = Some("secret".into());
/// let storage = S3Storage::new(options).unwrap(); // no request is made yet
/// assert_eq!(storage.url(), "s3://exports/trips");
/// ```
#[derive(Clone, Debug)]
pub struct S3Storage {
    inner: ObjectStorage,
    bucket: String,
    prefix: String,
}

impl S3Storage {
    /// A storage on the bucket and prefix of `options`. No request is made; use
    /// [`Storage::check`] to see whether the bucket answers.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] as [`S3Options::validate`] says; [`ExportError::Storage`]
    /// when the client cannot be configured.
    ///
    /// # Panics
    ///
    /// As [`IoRuntime::shared`], if the shared runtime cannot start.
    pub fn new(options: S3Options) -> Result<S3Storage> {
        options.validate()?;
        S3Storage::with_runtime(options, &IoRuntime::shared())
    }

    /// As [`S3Storage::new`], with the requests driven by `io` (an engine's runtime).
    ///
    /// # Errors
    ///
    /// As [`S3Storage::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::runtime::IoRuntime;
    /// use export_core::storage::{S3Options, S3Storage, Storage};
    /// let io = IoRuntime::new(1).unwrap();
    /// let mut options = S3Options::new("exports");
    /// options.access_key_id = Some("AKIDEXAMPLE".into());
    /// options.secret_access_key = Some("secret".into());
    /// let storage = S3Storage::with_runtime(options, &io).unwrap();
    /// assert_eq!(storage.url(), "s3://exports");
    /// ```
    pub fn with_runtime(options: S3Options, io: &IoRuntime) -> Result<S3Storage> {
        options.validate()?;
        let prefix = options.prefix.trim_end_matches('/').to_owned();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&options.bucket)
            .with_region(options.region.as_deref().unwrap_or(DEFAULT_REGION))
            .with_allow_http(options.allow_http)
            .with_virtual_hosted_style_request(options.virtual_hosted_style)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        if let Some(id) = &options.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &options.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &options.session_token {
            builder = builder.with_token(token);
        }
        let url = if prefix.is_empty() {
            format!("s3://{}", options.bucket)
        } else {
            format!("s3://{}/{prefix}", options.bucket)
        };
        let s3 = Arc::new(
            builder
                .build()
                .map_err(|e| ExportError::Storage(format!("cannot configure {url}: {e}")))?,
        );
        let store: Arc<dyn ObjectStore> = s3.clone();
        let inner =
            ObjectStorage::new(store, &prefix, url, options.multipart, io)?.with_signer(s3)?;
        Ok(S3Storage {
            inner,
            bucket: options.bucket,
            prefix,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix inside the bucket (`""` for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How uploads are cut into parts.
    pub fn multipart(&self) -> MultipartOptions {
        self.inner.multipart()
    }
}

impl Storage for S3Storage {
    fn url(&self) -> String {
        self.inner.url()
    }

    /// Lists the prefix once.
    ///
    /// # Errors
    ///
    /// [`ExportError::Storage`] naming the bucket when the server cannot be reached, the bucket
    /// does not exist or the credentials are refused.
    fn check(&self) -> Result<()> {
        self.inner.check()
    }

    fn create(&self, key: &StorageKey, content_type: &str) -> Result<Box<dyn Upload>> {
        self.inner.create(key, content_type)
    }

    fn open(&self, key: &StorageKey) -> Result<Download> {
        self.inner.open(key)
    }

    fn head(&self, key: &StorageKey) -> Result<Option<ObjectInfo>> {
        self.inner.head(key)
    }

    fn delete(&self, key: &StorageKey) -> Result<bool> {
        self.inner.delete(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }

    fn signed_url(&self, key: &StorageKey, expires_in: Duration) -> Result<Option<String>> {
        self.inner.signed_url(key, expires_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        for ok in ["exports", "my-bucket.2026", "abc"] {
            assert!(validate_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "Exports",
            "my_bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "a/b",
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(validate_endpoint("https://s3.example.com", false).is_ok());
        assert!(validate_endpoint("http://127.0.0.1:9000", true).is_ok());
        assert!(validate_endpoint("http://127.0.0.1:9000", false).is_err());
        assert!(validate_endpoint("127.0.0.1:9000", true).is_err());
        assert!(validate_endpoint("ftp://host", true).is_err());
        assert!(validate_endpoint("https://user:pw@host", false).is_err());
        assert!(validate_endpoint("not a url", false).is_err());
    }

    #[test]
    fn credentials_come_in_pairs() {
        let mut options = S3Options::new("exports");
        options.access_key_id = Some("id".into());
        let err = options.validate().unwrap_err();
        assert!(err.to_string().contains("secret_access_key"), "{err}");
    }
}
