//! Storages start no runtime and downloads no thread: 20 storages of each kind opened on one
//! runtime, then 20 downloads of each kind open and read at once (half as blocking readers, half
//! as async streams), add only a small constant number of OS threads.
//!
//! Alone in its test binary, so that no other test's threads come and go while it counts.

#[path = "common/services.rs"]
mod services;

use std::io::{Read, Write};
use std::sync::Arc;

use export_core::runtime::IoRuntime;
use export_core::storage::{Download, Storage, StorageKey, open_storage, open_storage_with};
use futures::StreamExt;

const N: usize = 20;

/// The number of threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn content(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 17 + seed) % 249) as u8).collect()
}

#[test]
fn many_storages_and_concurrent_downloads_add_no_thread_each() {
    // The runtimes exist before counting: the shared one and an engine's.
    let engine = IoRuntime::new(1).unwrap();
    let warm = open_storage("memory://", [("", ""); 0]).unwrap();
    warm.head(&StorageKey::parse("warm").unwrap()).unwrap();
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..N).map(|_| tempfile::tempdir().unwrap()).collect();
    let s3 = services::s3_endpoint().map(|endpoint| {
        let bucket = format!(
            "ec-threads-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        ureq::put(&format!("{endpoint}/{bucket}"))
            .send_empty()
            .unwrap();
        (endpoint, bucket)
    });
    let before = threads();

    // N storages of each kind, half on the shared runtime, half on the engine's.
    let mut storages: Vec<(String, Arc<dyn Storage>)> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let on_engine = i % 2 == 0;
        let open = |url: &str, options: Vec<(&str, String)>| {
            if on_engine {
                open_storage_with(url, options, &engine).unwrap()
            } else {
                open_storage(url, options).unwrap()
            }
        };
        let file_url = format!("file://{}", dir.path().display());
        storages.push((format!("local {i}"), open(&file_url, vec![])));
        storages.push((format!("memory {i}"), open("memory://", vec![])));
        if let Some((endpoint, bucket)) = &s3 {
            let options = vec![
                ("endpoint", endpoint.clone()),
                ("allow_http", "true".into()),
                ("region", "us-east-1".into()),
                ("access_key_id", "testing".into()),
                ("secret_access_key", "testing".into()),
            ];
            storages.push((
                format!("s3 {i}"),
                open(&format!("s3://{bucket}/t{i}"), options),
            ));
        }
    }
    assert_eq!(storages.len(), N * if s3.is_some() { 3 } else { 2 });
    let after_open = threads();

    // One file in each, several chunks long.
    let k = StorageKey::parse("exports/file.bin").unwrap();
    let mut expected = Vec::new();
    for (i, (_, s)) in storages.iter().enumerate() {
        let bytes = content(300_000, i);
        let mut up = s.create(&k, "application/octet-stream").unwrap();
        up.write_all(&bytes).unwrap();
        up.commit().unwrap();
        expected.push(bytes);
    }

    // Every download open at once.
    let downloads: Vec<Download> = storages.iter().map(|(_, s)| s.open(&k).unwrap()).collect();
    let while_open = threads();

    // Half read as blocking readers, 16 KiB from each in turn; half as async streams polled
    // concurrently by one current-thread host, counting the threads once every stream has
    // given its first chunk.
    let mut readers = Vec::new();
    let mut streams = Vec::new();
    for (i, d) in downloads.into_iter().enumerate() {
        if i % 2 == 0 {
            readers.push((i, d, Vec::new()));
        } else {
            streams.push((i, d.into_async_stream()));
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut max_threads = while_open;
    loop {
        let mut progressed = false;
        for (_, d, out) in readers.iter_mut() {
            let n = d.read(&mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
            progressed |= n > 0;
        }
        max_threads = max_threads.max(threads());
        if !progressed {
            break;
        }
    }
    for (i, _, out) in &readers {
        assert!(*out == expected[*i], "{}: content differs", storages[*i].0);
    }
    let (streamed, during_streams) = host.block_on(async {
        let mut firsts = Vec::new();
        for (i, stream) in streams.iter_mut() {
            firsts.push((*i, stream.next().await.unwrap().unwrap()));
        }
        let during = threads();
        let rests = futures::future::join_all(streams.into_iter().map(|(i, stream)| async move {
            let chunks: Vec<_> = stream.collect().await;
            (i, chunks)
        }))
        .await;
        let mut out = Vec::new();
        for ((i, first), (j, chunks)) in firsts.into_iter().zip(rests) {
            assert_eq!(i, j);
            let mut bytes = first.to_vec();
            for chunk in chunks {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            out.push((i, bytes));
        }
        (out, during.max(threads()))
    });
    max_threads = max_threads.max(during_streams);
    for (i, bytes) in &streamed {
        assert!(
            *bytes == expected[*i],
            "{}: content differs",
            storages[*i].0
        );
    }

    let opened = storages.len();
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect();
    eprintln!(
        "threads: {before} before, {after_open} with {opened} storages, {while_open} with \
         {opened} downloads open, at most {max_threads} while reading them"
    );
    assert!(
        after_open <= before,
        "opening {opened} storages started {} threads",
        after_open - before
    );
    // Local files stream through at most two blocking reader tasks (process-wide), on the
    // blocking pools of the two runtimes in use; nothing grows with the number of storages or
    // downloads.
    assert!(
        max_threads <= before + 4,
        "{opened} concurrent downloads took {} more threads: {names:?}",
        max_threads - before
    );
}
