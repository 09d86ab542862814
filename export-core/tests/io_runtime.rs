//! Storages and stream sources on one [`IoRuntime`]: every storage operation called from a plain
//! thread, from a multi-thread tokio runtime (its `block_on` thread and its workers) and from a
//! current-thread runtime, on a local directory, memory and (with `EXPORT_CORE_S3_ENDPOINT`, see
//! `scripts/s3-server.sh`) S3; downloads read as async streams from async tasks; stream sources
//! fed by tokio timers and channels.

#[path = "common/services.rs"]
mod services;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use export_core::ExportError;
use export_core::runtime::IoRuntime;
use export_core::source::Source;
use export_core::source::{StreamSource, channel};
use export_core::storage::{
    LocalStorage, MemoryStorage, MultipartOptions, Storage, StorageKey, open_storage,
    open_storage_with,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// One storage under test, with what keeps it alive.
struct Backend {
    name: &'static str,
    storage: Arc<dyn Storage>,
    /// The size of a file that takes several parts (a multipart upload on object stores).
    large: usize,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh storage of each kind, all on `io` (or the shared runtime when `None`).
fn backends(io: Option<&IoRuntime>, tag: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let multipart = MultipartOptions {
        part_size: 64 * 1024,
        max_parts_in_flight: 2,
    };
    let (local, memory): (Arc<dyn Storage>, Arc<dyn Storage>) = match io {
        Some(io) => (
            Arc::new(LocalStorage::with_runtime(&root, io).unwrap()),
            Arc::new(MemoryStorage::with_runtime(multipart, io).unwrap()),
        ),
        None => (
            Arc::new(LocalStorage::new(&root).unwrap()),
            Arc::new(MemoryStorage::with_multipart(multipart).unwrap()),
        ),
    };
    let mut out = vec![
        Backend {
            name: "local",
            storage: local,
            large: 300_000,
            _dir: Some(dir),
        },
        Backend {
            name: "memory",
            storage: memory,
            large: 300_000,
            _dir: None,
        },
    ];
    if let Some(endpoint) = services::s3_endpoint() {
        let bucket = new_bucket(&endpoint, tag);
        let url = format!("s3://{bucket}/tenant");
        let options = s3_options(&endpoint);
        let storage = match io {
            Some(io) => open_storage_with(&url, options, io).unwrap(),
            None => open_storage(&url, options).unwrap(),
        };
        out.push(Backend {
            name: "s3",
            storage,
            // 5 MiB parts: two parts.
            large: 5 * 1024 * 1024 + 300_000,
            _dir: None,
        });
    }
    out
}

fn s3_options(endpoint: &str) -> Vec<(&'static str, String)> {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| "testing".into());
    vec![
        ("endpoint", endpoint.to_owned()),
        ("allow_http", "true".into()),
        ("region", "us-east-1".into()),
        ("access_key_id", env("AWS_ACCESS_KEY_ID")),
        ("secret_access_key", env("AWS_SECRET_ACCESS_KEY")),
        ("part_size", (5 * 1024 * 1024).to_string()),
        ("max_parts_in_flight", "2".into()),
    ]
}

/// Creates a new, empty bucket with a plain PUT.
fn new_bucket(endpoint: &str, tag: &str) -> String {
    let bucket = format!(
        "ec-rt-{tag}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    ureq::put(&format!("{endpoint}/{bucket}"))
        .send_empty()
        .unwrap_or_else(|e| panic!("cannot create bucket {bucket} at {endpoint}: {e}"));
    bucket
}

fn key(text: &str) -> StorageKey {
    StorageKey::parse(text).unwrap()
}

/// Deterministic content of `len` bytes.
fn content(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn upload(storage: &dyn Storage, k: &StorageKey, bytes: &[u8]) -> String {
    let mut up = storage.create(k, "text/csv").unwrap();
    for chunk in bytes.chunks(50_000) {
        up.write_all(chunk).unwrap();
    }
    let stored = up.commit().unwrap();
    assert_eq!(stored.size, bytes.len() as u64);
    stored.sha256
}

/// Every storage operation, checked: upload (small and multipart), commit, abort, drop, open and
/// read, verify, head, list, signed URL, put_file, delete, check.
fn exercise(b: &Backend, context: &str) {
    let s = b.storage.as_ref();
    let name = format!("{} from {context}", b.name);
    let base = format!("ctx/{}", context.replace(' ', "-"));
    s.check().unwrap();

    // Upload and commit: small (one PUT) and large (multipart).
    let small = key(&format!("{base}/small.csv"));
    let small_bytes = content(1000, 1);
    assert_eq!(
        upload(s, &small, &small_bytes),
        sha256(&small_bytes),
        "{name}"
    );
    let large = key(&format!("{base}/large.csv"));
    let large_bytes = content(b.large, 2);
    let large_sha = upload(s, &large, &large_bytes);
    assert_eq!(large_sha, sha256(&large_bytes), "{name}");

    // Abort and drop, after a part went up: nothing visible.
    for abort in [true, false] {
        let k = key(&format!("{base}/gone-{abort}.csv"));
        let mut up = s.create(&k, "text/csv").unwrap();
        up.write_all(&content(b.large, 3)).unwrap();
        if abort {
            up.abort().unwrap();
        } else {
            drop(up);
        }
        assert!(s.head(&k).unwrap().is_none(), "{name}: {k} visible");
    }

    // Download: blocking read, verify.
    let mut back = Vec::new();
    let mut download = s.open(&large).unwrap();
    assert_eq!(download.size, large_bytes.len() as u64, "{name}");
    download.read_to_end(&mut back).unwrap();
    assert!(back == large_bytes, "{name}: content differs");
    assert_eq!(
        s.open(&small)
            .unwrap()
            .verify(&sha256(&small_bytes))
            .unwrap(),
        1000
    );
    let err = s.open(&key(&format!("{base}/missing.csv"))).unwrap_err();
    assert!(matches!(err, ExportError::NotFound { .. }), "{name}: {err}");

    // Stat and list.
    let info = s.head(&large).unwrap().unwrap();
    assert_eq!(info.size, large_bytes.len() as u64, "{name}");
    let listed: Vec<String> = s
        .list(&base)
        .unwrap()
        .into_iter()
        .map(|i| i.key.to_string())
        .collect();
    assert_eq!(
        listed,
        vec![format!("{base}/large.csv"), format!("{base}/small.csv")],
        "{name}"
    );

    // Signed URL: S3 only; a missing key is NotFound everywhere.
    let url = s.signed_url(&small, Duration::from_secs(60)).unwrap();
    assert_eq!(url.is_some(), b.name == "s3", "{name}");
    if let Some(url) = url {
        assert!(url.contains("X-Amz-Signature="), "{name}: {url}");
    }
    let err = s
        .signed_url(
            &key(&format!("{base}/missing.csv")),
            Duration::from_secs(60),
        )
        .unwrap_err();
    assert!(matches!(err, ExportError::NotFound { .. }), "{name}: {err}");

    // put_file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, &small_bytes).unwrap();
    let put = key(&format!("{base}/put.bin"));
    let stored = s.put_file(&put, &path, "application/octet-stream").unwrap();
    assert_eq!(stored.sha256, sha256(&small_bytes), "{name}");

    // Delete, twice.
    for k in [&small, &large, &put] {
        assert!(s.delete(k).unwrap(), "{name}: {k}");
        assert!(!s.delete(k).unwrap(), "{name}: {k}");
    }
    assert!(s.list(&base).unwrap().is_empty(), "{name}");
}

/// Writes a file, then reads it back as an async stream in an async task; returns the bytes.
async fn stream_back(storage: Arc<dyn Storage>, k: StorageKey, len: usize) -> Vec<u8> {
    let bytes = content(len, 9);
    let (s, k2, b2) = (storage.clone(), k.clone(), bytes.clone());
    IoRuntime::shared()
        .spawn_blocking(move || upload(s.as_ref(), &k2, &b2))
        .await
        .unwrap();
    let s = storage.clone();
    let download = IoRuntime::shared()
        .spawn_blocking(move || s.open(&k).unwrap())
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let mut back = Vec::new();
        let mut stream = download.into_async_stream();
        while let Some(chunk) = stream.next().await {
            back.extend_from_slice(&chunk.unwrap());
        }
        back
    });
    let back = task.await.unwrap();
    assert!(back == bytes, "streamed content differs");
    back
}

#[test]
fn every_operation_from_a_plain_thread() {
    for b in backends(None, "plain") {
        std::thread::spawn(move || exercise(&b, "a plain thread"))
            .join()
            .unwrap();
    }
}

#[test]
fn every_operation_on_an_engine_runtime_from_a_plain_thread() {
    let io = IoRuntime::new(1).unwrap();
    for b in backends(Some(&io), "engine") {
        exercise(&b, "the test thread");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_from_a_multi_thread_runtime() {
    for b in backends(None, "multi") {
        // On the thread running the runtime's `block_on`...
        exercise(&b, "a multi-thread block_on");
        // ... and on one of its workers.
        let b = tokio::spawn(async move {
            exercise(&b, "a multi-thread worker");
            b
        })
        .await
        .unwrap();
        // ... and on its blocking pool.
        tokio::task::spawn_blocking(move || exercise(&b, "a multi-thread blocking thread"))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_operation_from_a_current_thread_runtime() {
    for b in backends(None, "current") {
        exercise(&b, "a current-thread runtime");
        let b = tokio::spawn(async move {
            exercise(&b, "a current-thread task");
            b
        })
        .await
        .unwrap();
        tokio::task::spawn_blocking(move || exercise(&b, "a current-thread blocking thread"))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_operation_on_an_engine_runtime_from_a_current_thread_task() {
    let io = IoRuntime::new(1).unwrap();
    for b in backends(Some(&io), "engine-current") {
        // What an async API does: the blocking call on the engine's blocking pool.
        io.spawn_blocking(move || exercise(&b, "an engine blocking thread"))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_stream_of_a_download_from_a_current_thread_task() {
    for b in backends(None, "stream-current") {
        // Several chunks everywhere: 64 KiB reads locally, several parts on object stores.
        stream_back(b.storage.clone(), key("stream/a.bin"), b.large).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_stream_of_a_download_from_a_multi_thread_task() {
    let io = IoRuntime::new(1).unwrap();
    for b in backends(Some(&io), "stream-multi") {
        stream_back(b.storage.clone(), key("stream/b.bin"), b.large).await;
    }
}

#[test]
fn async_stream_continues_after_a_partial_read_and_local_chunks_are_bounded() {
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for b in backends(None, "partial") {
        let s = b.storage.as_ref();
        let k = key("partial/a.bin");
        let bytes = content(200_000, 4);
        upload(s, &k, &bytes);
        let mut download = s.open(&k).unwrap();
        let mut head = vec![0u8; 1000];
        download.read_exact(&mut head).unwrap();
        let chunks: Vec<_> = host.block_on(download.into_async_stream().collect());
        let mut back = head;
        for chunk in chunks {
            let chunk = chunk.unwrap();
            if b.name == "local" {
                assert!(chunk.len() <= 64 * 1024, "local chunks are at most 64 KiB");
            }
            back.extend_from_slice(&chunk);
        }
        assert!(back == bytes, "{}: content differs", b.name);
    }
}

#[test]
fn dropping_a_download_stream_midway_stops_cleanly() {
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    for b in backends(None, "dropped") {
        let s = b.storage.clone();
        let k = key("dropped/a.bin");
        upload(s.as_ref(), &k, &content(b.large, 5));
        let first = host.block_on(async move {
            let mut stream = s.open(&k).unwrap().into_async_stream();
            let first = stream.next().await.unwrap().unwrap();
            drop(stream);
            // The storage is still usable afterwards, from the same task.
            assert!(s.head(&k).unwrap().is_some());
            first
        });
        assert!(!first.is_empty(), "{}", b.name);
    }
}

// --- stream sources ---

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
}

/// A stream of `n` one-row batches, each after a tokio timer: it needs a tokio runtime context
/// wherever it is polled (`futures::executor::block_on` panics with "there is no reactor
/// running").
fn timed_stream(
    n: i64,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = export_core::Result<RecordBatch>> + Send>> {
    let schema = schema();
    Box::pin(futures::stream::iter(0..n).then(move |i| {
        let schema = schema.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(RecordBatch::try_new(
                schema,
                vec![Arc::new(Int64Array::from(vec![i]))],
            )?)
        }
    }))
}

fn drain(source: &mut dyn Source) -> Vec<i64> {
    let mut out = Vec::new();
    while let Some(batch) = source.next_batch().unwrap() {
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        out.extend(col.values().iter().copied());
    }
    out
}

#[test]
fn stream_source_with_tokio_timers_from_a_plain_thread() {
    let mut source = StreamSource::new(schema(), timed_stream(5));
    let got = std::thread::spawn(move || drain(&mut source))
        .join()
        .unwrap();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);

    let io = IoRuntime::new(1).unwrap();
    let mut source = StreamSource::new(schema(), timed_stream(3)).with_runtime(&io);
    assert_eq!(drain(&mut source), vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_source_from_a_multi_thread_worker() {
    let got = tokio::spawn(async {
        let mut source = StreamSource::new(schema(), timed_stream(4));
        drain(&mut source)
    })
    .await
    .unwrap();
    assert_eq!(got, vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "current_thread")]
async fn stream_source_from_a_current_thread_runtime() {
    let mut source = StreamSource::new(schema(), timed_stream(4));
    assert_eq!(drain(&mut source), vec![0, 1, 2, 3]);
    let got = tokio::task::spawn_blocking(|| {
        let mut source = StreamSource::new(schema(), timed_stream(2));
        drain(&mut source)
    })
    .await
    .unwrap();
    assert_eq!(got, vec![0, 1]);
}

#[test]
fn channel_fed_by_tokio_tasks_drained_on_an_engine_blocking_thread() {
    let io = IoRuntime::new(1).unwrap();
    let (mut sender, source) = channel(schema(), 2);
    let mut source = source.with_runtime(&io);
    let schema = schema();
    // The producer sleeps on tokio's timer, on the engine's runtime.
    io.handle().spawn(async move {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![i]))])
                    .unwrap();
            sender.send(batch).await.unwrap();
        }
    });
    let host = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let got = host
        .block_on(io.spawn_blocking(move || drain(&mut source)))
        .unwrap();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_blocking_send_from_a_worker_does_not_panic() {
    let (mut sender, mut source) = channel(schema(), 1);
    let schema = schema();
    let producer = tokio::spawn(async move {
        for i in 0..5 {
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![i]))])
                    .unwrap();
            // Blocks in place on this worker while the channel is full.
            sender.blocking_send(batch).unwrap();
        }
    });
    let got = tokio::task::spawn_blocking(move || drain(&mut source))
        .await
        .unwrap();
    producer.await.unwrap();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
}
