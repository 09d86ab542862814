//! A bounded load test of `export-core serve` on loopback: N clients for S seconds, each
//! looping over the catalogue's job lifecycle (create, poll progress, download, delete) and a
//! small stream, every answer checked. Prints requests per second, latency percentiles per
//! route, errors, and whether any job is left pending or running at the end.
//!
//! ```text
//! cargo build --release -p export-core --features cli
//! cargo run --release -p export-core-benches --bin http_load -- \
//!     --server target/release/export-core --clients 50 --seconds 30
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    server: String,
    clients: usize,
    seconds: u64,
    workers: usize,
    products: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        server: "target/release/export-core".into(),
        clients: 50,
        seconds: 30,
        workers: 2,
        products: 2_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => args.server = value(),
            "--clients" => args.clients = value().parse().expect("--clients N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds N"),
            "--workers" => args.workers = value().parse().expect("--workers N"),
            "--products" => args.products = value().parse().expect("--products N"),
            other => panic!(
                "unknown flag {other}; flags: --server --clients --seconds --workers --products"
            ),
        }
    }
    args
}

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
    jobs: u64,
}

fn main() {
    let args = parse_args();
    let dir = std::env::temp_dir().join(format!("export-core-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One user per client: the per-user creation limit applies to people, not to this test.
    let tokens: serde_json::Map<String, serde_json::Value> = (0..args.clients)
        .map(|i| {
            (
                format!("t-{i}"),
                serde_json::json!({"user": format!("u{i}"), "organisation": "shop", "scopes": "READ_EXPORTS,WRITE_EXPORTS"}),
            )
        })
        .collect();
    std::fs::write(
        dir.join("tokens.json"),
        serde_json::Value::Object(tokens).to_string(),
    )
    .unwrap();
    let mut child = Command::new(&args.server)
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(dir.join("tokens.json"))
        .arg("--db")
        .arg(dir.join("jobs.db"))
        .arg("--storage")
        .arg(format!("file://{}", dir.join("files").display()))
        .args([
            "--workers",
            &args.workers.to_string(),
            "--catalog-products",
            &args.products.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();

    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let threads: Vec<_> = (0..args.clients)
        .map(|i| {
            let (base, stats) = (base.clone(), stats.clone());
            std::thread::spawn(move || client(&base, &format!("t-{i}"), until, &stats))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = started.elapsed();

    // Every job the clients created was deleted by them; nothing may be left behind.
    let mut stuck = 0;
    for i in 0..args.clients {
        let (status, body) = call(
            &base,
            "GET",
            "/api/v1/exports?limit=100",
            &format!("t-{i}"),
            None,
        );
        assert_eq!(status, 200);
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        stuck += page["jobs"].as_array().map_or(0, Vec::len);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let stats = stats.lock().unwrap();
    let total: usize = stats.latencies.values().map(Vec::len).sum();
    println!(
        "{} clients, {:.1} s: {total} requests, {:.0} requests/s, {} jobs through their whole lifecycle, {} errors, {stuck} jobs left, server exit {exit}",
        args.clients,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        stats.jobs,
        stats.errors.len(),
    );
    println!("| route | requests | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (route, lat) in &stats.latencies {
        let mut lat = lat.clone();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!(
            "| {route} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            lat.len(),
            p(0.5),
            p(0.9),
            p(0.99),
            p(1.0)
        );
    }
    for e in stats.errors.iter().take(10) {
        println!("error: {e}");
    }
    if !stats.errors.is_empty() || stuck > 0 || !exit.success() {
        std::process::exit(1);
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn call(base: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Vec<u8>) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"));
    let response = match body {
        Some(b) => agent().run(
            request
                .header("content-type", "application/json")
                .body(b.to_string())
                .unwrap(),
        ),
        None => agent().run(request.body(()).unwrap()),
    };
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let mut out = Vec::new();
            r.into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader()
                .read_to_end(&mut out)
                .unwrap_or(0);
            (status, out)
        }
        Err(e) => (0, e.to_string().into_bytes()),
    }
}

fn client(base: &str, token: &str, until: Instant, stats: &Mutex<Stats>) {
    let timed = |route: &'static str, method: &str, path: &str, body: Option<&str>, want: u16| {
        let t = Instant::now();
        let (status, bytes) = call(base, method, path, token, body);
        let mut s = stats.lock().unwrap();
        s.latencies.entry(route).or_default().push(t.elapsed());
        if status != want {
            s.errors.push(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
            return None;
        }
        Some(bytes)
    };
    while Instant::now() < until {
        let Some(body) = timed(
            "POST /api/v1/exports/create",
            "POST",
            "/api/v1/exports/create",
            Some(r#"{"schema":"products","format":"csv"}"#),
            201,
        ) else {
            continue;
        };
        let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let id = job["task_id"].as_str().unwrap().to_string();
        let done = loop {
            let Some(body) = timed(
                "GET /api/v1/exports/progress/{id}",
                "GET",
                &format!("/api/v1/exports/progress/{id}"),
                None,
                200,
            ) else {
                break false;
            };
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            match v["status"].as_str() {
                Some("succeeded") => break true,
                Some("pending" | "running") => std::thread::sleep(Duration::from_millis(50)),
                other => {
                    stats
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("job {id} ended {other:?}: {v}"));
                    break false;
                }
            }
        };
        if done {
            timed(
                "GET /api/v1/exports/download/{id}",
                "GET",
                &format!("/api/v1/exports/download/{id}"),
                None,
                200,
            );
        }
        timed(
            "GET /api/v1/exports/stream/csv/products (100 rows)",
            "GET",
            "/api/v1/exports/stream/csv/products?filter=id:range:..100",
            None,
            200,
        );
        if timed(
            "DELETE /api/v1/exports/{id}",
            "DELETE",
            &format!("/api/v1/exports/{id}"),
            None,
            204,
        )
        .is_some()
            && done
        {
            stats.lock().unwrap().jobs += 1;
        }
    }
}
