//! The storage suite, run on every backend: a local directory, memory, and (when
//! `EXPORT_CORE_S3_ENDPOINT` points at an S3-compatible server, see `scripts/s3-server.sh`) S3.

#[path = "common/services.rs"]
mod services;
#[path = "common/sigv4.rs"]
mod sigv4;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use export_core::ExportError;
use export_core::storage::{
    LocalStorage, MemoryStorage, MultipartOptions, Storage, StorageKey, content_type_for,
    open_storage,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// One storage under test, with what keeps it alive.
struct Backend {
    name: &'static str,
    storage: Arc<dyn Storage>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty storage of each kind.
fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    #[cfg_attr(not(feature = "s3"), allow(unused_mut))]
    let mut out = vec![
        Backend {
            name: "local",
            storage: Arc::new(LocalStorage::new(dir.path().join("store")).unwrap()),
            _dir: Some(dir),
        },
        Backend {
            name: "memory",
            storage: Arc::new(
                MemoryStorage::with_multipart(MultipartOptions {
                    part_size: 64 * 1024,
                    max_parts_in_flight: 2,
                })
                .unwrap(),
            ),
            _dir: None,
        },
    ];
    #[cfg(feature = "s3")]
    if let Some(storage) = s3::fresh_storage("suite") {
        out.push(Backend {
            name: "s3",
            storage: Arc::new(storage),
            _dir: None,
        });
    }
    out
}

fn key(text: &str) -> StorageKey {
    StorageKey::parse(text).unwrap()
}

/// Deterministic content of `len` bytes.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write(
    storage: &dyn Storage,
    k: &StorageKey,
    bytes: &[u8],
) -> export_core::storage::StoredObject {
    let mut upload = storage.create(k, content_type_for(k.file_name())).unwrap();
    for chunk in bytes.chunks(10_000) {
        upload.write_all(chunk).unwrap();
    }
    upload.commit().unwrap()
}

fn read_all(storage: &dyn Storage, k: &StorageKey) -> Vec<u8> {
    let mut out = Vec::new();
    storage.open(k).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn is_not_found(err: &ExportError) -> bool {
    matches!(err, ExportError::NotFound { kind: "file", .. })
}

#[test]
fn write_commit_and_read_back() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("exports/2026/11/job/trips.csv");
        // Several parts on memory (64 KiB parts), one PUT on S3, a plain file locally.
        let bytes = content(200_000);
        let stored = write(s, &k, &bytes);
        assert_eq!(stored.key, k, "{}", b.name);
        assert_eq!(stored.size, bytes.len() as u64, "{}", b.name);
        assert_eq!(stored.sha256, sha256(&bytes), "{}", b.name);
        assert_eq!(stored.content_type, "text/csv; charset=utf-8", "{}", b.name);

        let download = s.open(&k).unwrap();
        assert_eq!(download.size, bytes.len() as u64, "{}", b.name);
        assert_eq!(
            download.content_type, "text/csv; charset=utf-8",
            "{}",
            b.name
        );
        assert_eq!(download.verify(&stored.sha256).unwrap(), bytes.len() as u64);
        let back = read_all(s, &k);
        assert_eq!(sha256(&back), stored.sha256, "{}", b.name);
        assert!(back == bytes, "{}: content differs", b.name);

        let info = s.head(&k).unwrap().expect("visible after commit");
        assert_eq!(info.size, bytes.len() as u64, "{}", b.name);
        assert_eq!(
            info.content_type.as_deref(),
            Some("text/csv; charset=utf-8"),
            "{}",
            b.name
        );
        assert!(info.last_modified.is_some(), "{}", b.name);
    }
}

#[test]
fn empty_file() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("empty.json");
        let stored = s.create(&k, "application/json").unwrap().commit().unwrap();
        assert_eq!(stored.size, 0, "{}", b.name);
        assert_eq!(stored.sha256, sha256(b""), "{}", b.name);
        assert_eq!(read_all(s, &k), b"", "{}", b.name);
    }
}

#[test]
fn nothing_is_visible_before_commit() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("exports/job/out.csv");
        let mut upload = s.create(&k, "text/csv").unwrap();
        upload.write_all(&content(150_000)).unwrap();
        assert_eq!(upload.bytes_written(), 150_000);
        assert_eq!(upload.key(), &k);
        assert!(
            s.head(&k).unwrap().is_none(),
            "{}: head before commit",
            b.name
        );
        assert!(
            s.list("").unwrap().is_empty(),
            "{}: list before commit",
            b.name
        );
        assert!(
            is_not_found(&s.open(&k).unwrap_err()),
            "{}: open before commit",
            b.name
        );
        upload.commit().unwrap();
        assert_eq!(s.list("").unwrap().len(), 1, "{}", b.name);
    }
}

#[test]
fn abort_and_drop_leave_nothing() {
    for b in backends() {
        let s = b.storage.as_ref();
        let aborted = key("exports/a/aborted.csv");
        let mut upload = s.create(&aborted, "text/csv").unwrap();
        upload.write_all(&content(150_000)).unwrap();
        upload.abort().unwrap();

        let dropped = key("exports/b/dropped.csv");
        {
            let mut upload = s.create(&dropped, "text/csv").unwrap();
            upload.write_all(&content(150_000)).unwrap();
        }

        for k in [&aborted, &dropped] {
            assert!(s.head(k).unwrap().is_none(), "{}: {k}", b.name);
            assert!(is_not_found(&s.open(k).unwrap_err()), "{}: {k}", b.name);
        }
        assert!(s.list("").unwrap().is_empty(), "{}", b.name);
    }
}

#[test]
fn local_abort_removes_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStorage::new(dir.path()).unwrap();
    let k = key("exports/x/y.csv");
    let mut upload = s.create(&k, "text/csv").unwrap();
    upload.write_all(b"data").unwrap();
    upload.abort().unwrap();
    {
        let mut upload = s.create(&k, "text/csv").unwrap();
        upload.write_all(b"data").unwrap();
    }
    let leftovers: Vec<_> = walk(dir.path());
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn commit_replaces_an_existing_file() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("report.txt");
        write(s, &k, b"first version");
        let stored = write(s, &k, b"second");
        assert_eq!(read_all(s, &k), b"second", "{}", b.name);
        assert_eq!(s.head(&k).unwrap().unwrap().size, 6, "{}", b.name);
        assert_eq!(stored.sha256, sha256(b"second"));
    }
}

#[test]
fn delete_twice() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("exports/2026/11/job/trips.csv");
        write(s, &k, b"a;b\n");
        assert!(s.delete(&k).unwrap(), "{}: first delete", b.name);
        assert!(!s.delete(&k).unwrap(), "{}: second delete", b.name);
        assert!(s.head(&k).unwrap().is_none(), "{}", b.name);
        assert!(!s.delete(&key("never/written.csv")).unwrap(), "{}", b.name);
    }
}

#[test]
fn list_by_prefix() {
    for b in backends() {
        let s = b.storage.as_ref();
        for k in [
            "exports/2026/11/b/two.csv",
            "exports/2026/10/a/one.csv",
            "exports/2026/11/c/three.json",
            "other/four.txt",
        ] {
            write(s, &key(k), k.as_bytes());
        }
        let keys = |prefix: &str| -> Vec<String> {
            s.list(prefix)
                .unwrap()
                .into_iter()
                .map(|i| i.key.to_string())
                .collect()
        };
        assert_eq!(
            keys("exports/2026/11"),
            ["exports/2026/11/b/two.csv", "exports/2026/11/c/three.json"],
            "{}",
            b.name
        );
        assert_eq!(
            keys("exports/2026/11/"),
            keys("exports/2026/11"),
            "{}",
            b.name
        );
        assert_eq!(keys("exports").len(), 3, "{}", b.name);
        assert_eq!(keys("").len(), 4, "{}", b.name);
        assert!(
            keys("exports/2026/1").is_empty(),
            "{}: prefixes match whole segments",
            b.name
        );
        assert!(keys("nothing/here").is_empty(), "{}", b.name);
        let info = &s.list("other").unwrap()[0];
        assert_eq!(info.size, "other/four.txt".len() as u64, "{}", b.name);
        let err = s.list("../etc").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid `prefix`"),
            "{}: {err}",
            b.name
        );
    }
}

#[test]
fn put_file_streams_a_local_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("built.xlsx");
    let bytes = content(300_000);
    std::fs::write(&path, &bytes).unwrap();
    for b in backends() {
        let s = b.storage.as_ref();
        let k = StorageKey::for_export(
            uuid::Uuid::nil(),
            Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap(),
            "trips-v3-opendata-2026-10.xlsx",
        )
        .unwrap();
        let xlsx = content_type_for(k.file_name());
        let stored = s.put_file(&k, &path, xlsx).unwrap();
        assert_eq!(stored.sha256, sha256(&bytes), "{}", b.name);
        let download = s.open(&k).unwrap();
        assert_eq!(download.content_type, xlsx, "{}", b.name);
        assert_eq!(
            download.verify(&stored.sha256).unwrap(),
            300_000,
            "{}",
            b.name
        );
        let listed = s.list("exports/2026/11").unwrap();
        assert_eq!(listed.len(), 1, "{}", b.name);
        assert_eq!(
            listed[0].key.as_str(),
            "exports/2026/11/00000000-0000-0000-0000-000000000000/trips-v3-opendata-2026-10.xlsx"
        );

        let missing = dir.path().join("missing.xlsx");
        let err = s.put_file(&key("x.xlsx"), &missing, xlsx).unwrap_err();
        assert!(matches!(err, ExportError::Io { .. }), "{}: {err}", b.name);
        assert!(s.head(&key("x.xlsx")).unwrap().is_none(), "{}", b.name);
    }
}

#[test]
fn download_as_async_stream() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("stream.bin");
        let bytes = content(200_000);
        write(s, &k, &bytes);
        let stream = s.open(&k).unwrap().into_async_stream();
        // Polled by an executor that is not tokio: the stream needs no runtime context.
        let chunks: Vec<_> = futures::executor::block_on(stream.collect());
        let mut back = Vec::new();
        for chunk in chunks {
            back.extend_from_slice(&chunk.unwrap());
        }
        assert!(back == bytes, "{}", b.name);
    }
}

#[test]
fn checksum_mismatch_is_detected() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("c.txt");
        write(s, &k, b"content");
        let err = s.open(&k).unwrap().verify(&sha256(b"other")).unwrap_err();
        assert!(
            err.to_string().contains("checksum mismatch"),
            "{}: {err}",
            b.name
        );
    }
}

#[test]
fn signed_urls_where_supported() {
    for b in backends() {
        let s = b.storage.as_ref();
        let k = key("signed.csv");
        let err = s.signed_url(&k, Duration::from_secs(60)).unwrap_err();
        assert!(is_not_found(&err), "{}: {err}", b.name);
        write(s, &k, b"x;y\n");
        let err = s
            .signed_url(&k, Duration::from_secs(8 * 24 * 3600))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid `expires_in`"),
            "{}: {err}",
            b.name
        );
        let url = s.signed_url(&k, Duration::from_secs(60)).unwrap();
        assert_eq!(url.is_some(), b.name == "s3", "{}", b.name);
    }
}

#[test]
fn bad_content_type() {
    for b in backends() {
        let err = b
            .storage
            .create(&key("a.csv"), "text/csv\r\nX: y")
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("invalid `content_type`"),
            "{}: {err}",
            b.name
        );
    }
}

#[test]
fn key_validation_table() {
    let long = "a/".repeat(600) + "b";
    let long_segment = "x".repeat(256);
    let cases: &[(&str, &str)] = &[
        ("", "invalid `key`: must not be empty"),
        (
            "../etc/passwd",
            "contains a `..` segment (path traversal is not allowed)",
        ),
        ("exports/../../etc", "contains a `..` segment"),
        ("exports/..", "contains a `..` segment"),
        ("/etc/passwd", "starts with `/` (keys are relative)"),
        ("exports\\..\\x", "contains a backslash"),
        ("exports/a\nb", "contains the control character '\\n'"),
        ("exports/\u{7f}", "contains the control character"),
        ("exports/a\0", "contains the control character '\\0'"),
        ("exports//a", "contains an empty segment"),
        ("exports/", "contains an empty segment"),
        ("exports/./a", "contains a `.` segment"),
        ("exports/.hidden", "starting with `.`"),
        (&long, "more than the 1024 allowed"),
        (&long_segment, "more than the 255 allowed"),
    ];
    for (text, message) in cases {
        let err = StorageKey::parse(text).unwrap_err();
        assert!(
            matches!(&err, ExportError::InvalidRequest { field, .. } if field == "key"),
            "{text:?}: {err:?}"
        );
        assert!(err.to_string().contains(message), "{text:?}: {err}");
        assert!(
            err.to_string().starts_with("invalid `key`: "),
            "{text:?}: {err}"
        );
    }
    for ok in [
        "a",
        "exports/2026/11/x.csv",
        "Trips 2026 (final).xlsx",
        "données/été.csv",
    ] {
        assert_eq!(StorageKey::parse(ok).unwrap().as_str(), ok);
    }

    let job = uuid::Uuid::nil();
    let created = Utc.with_ymd_and_hms(2026, 1, 31, 23, 0, 0).unwrap();
    for bad in [
        "", "..", "a/b.csv", "a\\b.csv", "/x.csv", ".x.csv", "x\t.csv",
    ] {
        let err = StorageKey::for_export(job, created, bad).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid `file_name`"),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(
        StorageKey::for_export(job, created, "rpc-2026-01-31-opendata.csv")
            .unwrap()
            .as_str(),
        "exports/2026/01/00000000-0000-0000-0000-000000000000/rpc-2026-01-31-opendata.csv"
    );
}

#[test]
fn local_paths_never_leave_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStorage::new(dir.path().join("root")).unwrap();
    write(&s, &key("a/b/c.csv"), b"x");
    assert!(s.path_of(&key("a/b/c.csv")).starts_with(s.root()));
    assert!(s.root().join("a/b/c.csv").is_file());
    // Deleting the last file removes the emptied folders, not the root.
    assert!(s.delete(&key("a/b/c.csv")).unwrap());
    assert!(s.root().is_dir());
    assert!(!s.root().join("a").exists());
}

#[test]
fn open_storage_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path())
        .unwrap()
        .to_string();
    let s = open_storage(&url, [("", ""); 0]).unwrap();
    write(s.as_ref(), &key("a.csv"), b"x");
    assert!(dir.path().join("a.csv").is_file());
    assert!(s.url().starts_with("file:///"));

    let m = open_storage("memory://", [("max_parts_in_flight", "2")]).unwrap();
    assert_eq!(m.url(), "memory://");

    let cases: &[UrlCase] = &[
        ("gs://bucket", &[], "unsupported scheme `gs`"),
        ("", &[], "invalid `storage_url`"),
        ("file:///tmp", &[("region", "x")], "unknown option `region`"),
        ("memory://", &[("part_size", "0")], "invalid `part_size`"),
    ];
    check_url_errors(cases);
}

/// A URL, its options, and a part of the expected error message.
type UrlCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn check_url_errors(cases: &[UrlCase]) {
    for (url, options, message) in cases {
        let err = open_storage(url, options.iter().copied()).unwrap_err();
        assert!(err.to_string().contains(message), "{url}: {err}");
    }
}

#[cfg(feature = "s3")]
#[test]
fn s3_urls_and_options_are_checked() {
    check_url_errors(&[
        ("s3://Bad_Bucket/x", &[], "invalid `bucket`"),
        ("s3:///prefix", &[], "invalid `bucket`: is empty"),
        ("s3://bucket/../x", &[], "invalid `prefix`"),
        (
            "s3://bucket",
            &[
                ("endpoint", "http://127.0.0.1:9000"),
                ("allow_http", "false"),
            ],
            "set allow_http",
        ),
        (
            "s3://bucket",
            &[("endpoint", "localhost")],
            "invalid `endpoint`",
        ),
        (
            "s3://bucket",
            &[("colour", "blue")],
            "unknown option `colour`",
        ),
        ("s3://bucket", &[("allow_http", "maybe")], "true or false"),
        (
            "s3://bucket",
            &[("part_size", "1024")],
            "invalid `part_size`",
        ),
    ]);
}

#[cfg(not(feature = "s3"))]
#[test]
fn s3_urls_need_the_s3_feature() {
    check_url_errors(&[("s3://bucket", &[], "enable the `s3` feature")]);
}

#[cfg(feature = "s3")]
#[test]
fn unreachable_endpoint_gives_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let s = open_storage(
        "s3://exports/trips",
        [
            ("endpoint", "http://127.0.0.1:1"),
            ("allow_http", "true"),
            ("access_key_id", "testing"),
            ("secret_access_key", "testing"),
            ("region", "us-east-1"),
        ],
    )
    .unwrap();
    let err = s.check().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "storage: s3://exports/trips is not usable: the endpoint cannot be reached"
        ),
        "{text}"
    );
    let err = s.head(&key("a.csv")).unwrap_err();
    assert!(err.to_string().contains("s3://exports/trips"), "{err}");
}

/// Tests that need a real S3-compatible server.
#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use export_core::storage::{S3Options, S3Storage};

    /// The server's endpoint, or `None` (and a note on stderr) when the tests are to be skipped.
    pub fn endpoint() -> Option<String> {
        crate::services::s3_endpoint()
    }

    pub fn options(endpoint: &str, bucket: &str) -> S3Options {
        let mut options = S3Options::new(bucket);
        options.endpoint = Some(endpoint.to_owned());
        options.allow_http = true;
        options.region = Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()));
        options.access_key_id =
            Some(std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into()));
        options.secret_access_key =
            Some(std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into()));
        options
    }

    /// Creates a new, empty bucket (a plain PUT, as object_store does not create buckets).
    pub fn new_bucket(endpoint: &str, tag: &str) -> String {
        let bucket = format!(
            "ec-{tag}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        ureq::put(&format!("{endpoint}/{bucket}"))
            .send_empty()
            .unwrap_or_else(|e| panic!("cannot create bucket {bucket} at {endpoint}: {e}"));
        bucket
    }

    /// A storage on a fresh bucket under a prefix, with 5 MiB parts.
    pub fn fresh_storage(tag: &str) -> Option<S3Storage> {
        let endpoint = endpoint()?;
        let bucket = new_bucket(&endpoint, tag);
        let mut options = options(&endpoint, &bucket);
        options.prefix = "tenant-a".into();
        options.multipart = MultipartOptions {
            part_size: 5 * 1024 * 1024,
            max_parts_in_flight: 2,
        };
        Some(S3Storage::new(options).unwrap())
    }

    /// The multipart uploads still open in `bucket`.
    fn open_uploads(endpoint: &str, bucket: &str) -> usize {
        let body = ureq::get(&format!("{endpoint}/{bucket}?uploads"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        body.matches("<UploadId>").count()
    }

    /// Writes `len` deterministic bytes in 64 KiB chunks, returning their SHA-256.
    fn write_large(upload: &mut dyn Write, len: usize) -> String {
        let mut hasher = Sha256::new();
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            upload.write_all(&chunk[..n]).unwrap();
            hasher.update(&chunk[..n]);
            left -= n;
        }
        hex::encode(hasher.finalize())
    }

    #[test]
    fn multipart_upload_in_bounded_parts() {
        let Some(s) = fresh_storage("multipart") else {
            return;
        };
        let multipart = s.multipart();
        assert_eq!(multipart.max_memory(), 15 * 1024 * 1024);
        let k = key("exports/2026/11/job/big.csv");
        let len = 22 * 1024 * 1024 + 12_345;
        let mut upload = s.create(&k, "text/csv").unwrap();
        let sha = write_large(&mut upload, len);
        assert!(s.head(&k).unwrap().is_none(), "invisible while uploading");
        let stored = upload.commit().unwrap();
        assert_eq!(stored.size, len as u64);
        assert_eq!(stored.sha256, sha);

        let info = s.head(&k).unwrap().unwrap();
        assert_eq!(info.size, len as u64);
        assert_eq!(info.content_type.as_deref(), Some("text/csv"));
        // 4 full parts of 5 MiB and a last one of 2 MiB + 12,345 bytes.
        let e_tag = info.e_tag.unwrap_or_default();
        assert!(
            e_tag.trim_matches('"').ends_with("-5"),
            "multipart e-tag {e_tag}"
        );
        assert_eq!(s.open(&k).unwrap().verify(&sha).unwrap(), len as u64);
    }

    #[test]
    fn aborted_and_dropped_multipart_uploads_are_aborted_on_the_server() {
        let Some(endpoint) = endpoint() else {
            return;
        };
        let bucket = new_bucket(&endpoint, "abort");
        let mut options = options(&endpoint, &bucket);
        options.multipart.part_size = 5 * 1024 * 1024;
        let s = S3Storage::new(options).unwrap();

        let k = key("exports/aborted.csv");
        let mut upload = s.create(&k, "text/csv").unwrap();
        write_large(&mut upload, 6 * 1024 * 1024);
        assert_eq!(
            open_uploads(&endpoint, &bucket),
            1,
            "a multipart upload is open"
        );
        upload.abort().unwrap();
        assert_eq!(open_uploads(&endpoint, &bucket), 0, "abort closes it");

        {
            let mut upload = s.create(&k, "text/csv").unwrap();
            write_large(&mut upload, 6 * 1024 * 1024);
            assert_eq!(open_uploads(&endpoint, &bucket), 1);
        }
        assert_eq!(open_uploads(&endpoint, &bucket), 0, "drop aborts it");
        assert!(s.head(&k).unwrap().is_none());
        assert!(s.list("").unwrap().is_empty());
    }

    #[test]
    fn a_failed_upload_leaves_nothing() {
        let Some(endpoint) = endpoint() else {
            return;
        };
        // A bucket that does not exist: the first part fails.
        let mut options = options(&endpoint, "ec-no-such-bucket");
        options.multipart.part_size = 5 * 1024 * 1024;
        let s = S3Storage::new(options).unwrap();
        let k = key("exports/failed.csv");
        let mut upload = s.create(&k, "text/csv").unwrap();
        let chunk = vec![0u8; 1024 * 1024];
        let mut failed = None;
        for _ in 0..6 {
            if let Err(e) = upload.write_all(&chunk) {
                failed = Some(e);
                break;
            }
        }
        let err = failed.expect("writing to a missing bucket fails");
        assert!(
            err.to_string().contains("the bucket does not exist"),
            "{err}"
        );
        let err = upload.commit().unwrap_err();
        assert!(err.to_string().contains("earlier write failed"), "{err}");

        let err = s.check().unwrap_err();
        assert!(
            err.to_string().starts_with(
                "storage: s3://ec-no-such-bucket is not usable: the bucket does not exist"
            ),
            "{err}"
        );
    }

    #[test]
    fn signed_url_fetched_with_a_plain_http_client() {
        let Some(s) = fresh_storage("signed") else {
            return;
        };
        let k = key("exports/2026/11/job/trips.csv");
        let bytes = content(100_000);
        write(&s, &k, &bytes);
        let url = s.signed_url(&k, Duration::from_secs(120)).unwrap().unwrap();
        assert!(url.contains("X-Amz-Expires=120"), "{url}");
        assert!(
            url.contains("tenant-a/exports/2026/11/job/trips.csv"),
            "{url}"
        );
        let mut response = ureq::get(&url).call().unwrap();
        let fetched = response.body_mut().read_to_vec().unwrap();
        assert!(fetched == bytes);

        let url = s
            .signed_url(&k, Duration::from_secs(3600))
            .unwrap()
            .unwrap();
        assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    }

    /// The secret the test server's credentials use (see [`options`]).
    fn secret() -> String {
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into())
    }

    /// Replaces the first `from` in `url` by `to`, checking there is one.
    fn replace(url: &str, from: &str, to: &str) -> String {
        assert!(url.contains(from), "{from} not in {url}");
        url.replacen(from, to, 1)
    }

    #[test]
    fn signed_urls_refuse_tampering_and_expire() {
        use sigv4::{Refused, signed_at, verify};
        let Some(s) = fresh_storage("tamper") else {
            return;
        };
        let k = key("exports/2026/11/job/trips.csv");
        write(&s, &k, b"a;b\n");
        write(&s, &key("exports/2026/11/job/other.csv"), b"c;d\n");
        let url = s.signed_url(&k, Duration::from_secs(120)).unwrap().unwrap();
        let at = signed_at(&url);
        // The genuine URL verifies with the secret, up to its expiry and not after.
        assert_eq!(verify(&url, &secret(), at), Ok(()));
        assert_eq!(
            verify(&url, &secret(), at + chrono::Duration::seconds(120)),
            Ok(())
        );
        assert_eq!(
            verify(&url, &secret(), at + chrono::Duration::seconds(121)),
            Err(Refused::Expired)
        );

        // A changed signature, key, expiry or secret is refused.
        let sig_at = url.find("X-Amz-Signature=").expect("a signature") + "X-Amz-Signature=".len();
        let flipped = if &url[sig_at..=sig_at] == "0" {
            "1"
        } else {
            "0"
        };
        let tampered = format!("{}{flipped}{}", &url[..sig_at], &url[sig_at + 1..]);
        let other_key = replace(&url, "job/trips.csv", "job/other.csv");
        let longer = replace(&url, "X-Amz-Expires=120", "X-Amz-Expires=604800");
        for (what, bad) in [
            ("signature", &tampered),
            ("key", &other_key),
            ("expiry", &longer),
        ] {
            assert_eq!(
                verify(bad, &secret(), at),
                Err(Refused::SignatureDoesNotMatch),
                "changed {what}: {bad}"
            );
        }
        assert_eq!(
            verify(&url, "not-the-secret", at),
            Err(Refused::SignatureDoesNotMatch)
        );

        // A URL made to expire in 1 s is refused once that second has passed on the real clock.
        let short = s.signed_url(&k, Duration::from_secs(1)).unwrap().unwrap();
        assert_eq!(verify(&short, &secret(), signed_at(&short)), Ok(()));
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(verify(&short, &secret(), Utc::now()), Err(Refused::Expired));
    }

    #[test]
    fn prefix_keeps_tenants_apart() {
        let Some(endpoint) = endpoint() else {
            return;
        };
        let bucket = new_bucket(&endpoint, "prefix");
        let url_a = format!("s3://{bucket}/tenant-a");
        let url_b = format!("s3://{bucket}/tenant-b/");
        let opts = |e: &str| {
            [
                ("endpoint", e.to_owned()),
                ("allow_http", "true".to_owned()),
                ("access_key_id", "testing".to_owned()),
                ("secret_access_key", "testing".to_owned()),
            ]
        };
        let a = open_storage(&url_a, opts(&endpoint)).unwrap();
        let b = open_storage(&url_b, opts(&endpoint)).unwrap();
        a.check().unwrap();
        write(a.as_ref(), &key("x/one.csv"), b"1");
        write(b.as_ref(), &key("x/two.csv"), b"2");
        let listed: Vec<_> = a.list("").unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(listed, [key("x/one.csv")]);
        assert!(a.head(&key("x/two.csv")).unwrap().is_none());
        assert_eq!(b.url(), format!("s3://{bucket}/tenant-b"));
    }
}

/// The checker the S3 tests use agrees with AWS's own presigned-URL example ("Authenticating
/// Requests: Using Query Parameters", S3 API reference), so its verdicts are a verifying
/// server's.
#[test]
fn sigv4_checker_accepts_the_aws_example_and_refuses_changes() {
    let url = "https://examplebucket.s3.amazonaws.com/test.txt\
        ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let signed = Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).unwrap();
    assert_eq!(sigv4::verify(url, secret, signed), Ok(()));
    assert_eq!(
        sigv4::verify(
            url,
            secret,
            signed + chrono::Duration::days(1) + chrono::Duration::seconds(1)
        ),
        Err(sigv4::Refused::Expired)
    );
    assert_eq!(
        sigv4::verify(&url.replace("test.txt", "test.csv"), secret, signed),
        Err(sigv4::Refused::SignatureDoesNotMatch)
    );
}

#[test]
fn usable_from_spawn_blocking_in_an_async_host() {
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new().unwrap());
    let k = key("async/host.csv");
    let (stored, back) = host.block_on(async {
        let s = storage.clone();
        let k2 = k.clone();
        let stored = tokio::task::spawn_blocking(move || write(s.as_ref(), &k2, b"a;b\n"))
            .await
            .unwrap();
        // Downloads stream to async code without blocking the executor.
        let s = storage.clone();
        let k2 = k.clone();
        let download = tokio::task::spawn_blocking(move || s.open(&k2).unwrap())
            .await
            .unwrap();
        let chunks: Vec<_> = download.into_async_stream().collect().await;
        let back: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        (stored, back)
    });
    assert_eq!(back, b"a;b\n");
    assert_eq!(stored.sha256, sha256(b"a;b\n"));
    // Dropping an unfinished upload inside the host's runtime does not block nor panic.
    host.block_on(async {
        let mut upload = storage
            .create(&key("async/dropped.csv"), "text/csv")
            .unwrap();
        upload.write_all(b"x").unwrap();
        drop(upload);
    });
    assert!(storage.head(&key("async/dropped.csv")).unwrap().is_none());
}
