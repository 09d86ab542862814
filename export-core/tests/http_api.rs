//! `export-core serve` over real HTTP on loopback: both seeds' route sets end to end, the
//! permission matrix on every route, bad bodies, downloads with ranges, a 1M-row stream in flat
//! server memory, a client leaving mid-stream, schedules and platforms, and SIGTERM.

#[path = "common/services.rs"]
mod services;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const TOKENS: &str = r#"{
  "t-alice":  {"user": "alice", "organisation": "op-7", "operator": 7, "scopes": "READ_EXPORTS,WRITE_EXPORTS"},
  "t-alice2": {"user": "alice", "organisation": "op-9", "operator": 9, "scopes": "READ_EXPORTS,WRITE_EXPORTS"},
  "t-carol":  {"user": "carol", "organisation": "op-7", "operator": 7, "scopes": "READ_EXPORTS,WRITE_EXPORTS"},
  "t-reader": {"user": "alice", "organisation": "op-7", "operator": 7, "scopes": []}
}"#;

struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_in(dir, extra)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let tokens = dir.path().join("tokens.json");
        std::fs::write(&tokens, TOKENS).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_export-core"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--tokens"])
            .arg(&tokens)
            .arg("--db")
            .arg(dir.path().join("jobs.db"))
            .args(if extra.contains(&"--storage") {
                vec![]
            } else {
                vec![
                    "--storage".to_string(),
                    format!("file://{}", dir.path().join("files").display()),
                ]
            })
            .args(extra)
            .env_remove("EXPORT_CORE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base, dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
        self.call_with(method, path, token, body, &[])
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = match body {
            Some(body) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    request = request.header("content-type", "application/json");
                }
                agent().run(request.body(body.to_string()).unwrap())
            }
            None => agent().run(request.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .read_to_end(&mut body)
            .unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn json(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> serde_json::Value {
        let r = self.call(method, path, Some(token), body);
        assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    fn wait_status(&self, path: &str, token: &str, want: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.json("GET", path, token, None);
            if v["status"] == want {
                return v;
            }
            assert!(Instant::now() < deadline, "{path} never {want}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .allow_non_standard_methods(true)
        .build()
        .new_agent()
}

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    /// A problem body: the status and code it says, and its content type.
    fn problem(&self) -> (u16, String) {
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text()
        );
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(v["status"], self.status);
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()));
        (self.status, v["code"].as_str().unwrap().to_string())
    }
}

const TRIP: &str = r#"{"version":"v2","audience":"operator","format":"csv",
    "period":{"start":"2026-10-01","end":"2026-10-02"}}"#;

fn small() -> Vec<&'static str> {
    vec!["--catalog-products", "2000"]
}

#[test]
fn trip_job_lifecycle_with_ranges_head_and_pagination() {
    let s = Server::start(&small());
    let created = s.call("POST", "/v3/export", Some("t-alice"), Some(TRIP));
    assert_eq!(created.status, 201, "{}", created.text());
    let job: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(created.header("location"), format!("export/{id}"));
    assert_eq!(job["request"]["schema"], "trip");
    // The access policy narrowed the operator's export to its own trips.
    assert_eq!(
        job["request"]["filters"]["operators"],
        serde_json::json!([7])
    );

    let status = s.wait_status(&format!("/v3/export/{id}/status"), "t-alice", "succeeded");
    assert_eq!(status["percent"], 100.0);
    let full = s.call(
        "GET",
        &format!("/v3/export/{id}/download"),
        Some("t-alice"),
        None,
    );
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-length"), full.body.len().to_string());
    assert!(
        full.header("content-disposition")
            .starts_with("attachment; filename=\"trips-v2-operator-")
    );
    let sha = hex::encode(Sha256::digest(&full.body));
    assert_eq!(full.header("x-export-sha256"), sha);
    assert_eq!(full.header("etag"), format!("\"{sha}\""));
    let rows = full.text().lines().count() - 1;
    assert_eq!(full.header("x-export-rows"), rows.to_string());

    let dl = format!("/v3/export/{id}/download");
    let part = s.call_with(
        "GET",
        &dl,
        Some("t-alice"),
        None,
        &[("range", "bytes=10-99")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &full.body[10..100]);
    assert_eq!(
        part.header("content-range"),
        format!("bytes 10-99/{}", full.body.len())
    );
    let tail = s.call_with("GET", &dl, Some("t-alice"), None, &[("range", "bytes=-5")]);
    assert_eq!(tail.body, &full.body[full.body.len() - 5..]);
    let stale = s.call_with(
        "GET",
        &dl,
        Some("t-alice"),
        None,
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    );
    assert_eq!((stale.status, stale.body.len()), (200, full.body.len()));
    let beyond = format!("bytes={}-", full.body.len());
    let bad = s.call_with("GET", &dl, Some("t-alice"), None, &[("range", &beyond)]);
    assert_eq!(bad.problem(), (416, "RANGE_NOT_SATISFIABLE".into()));
    assert_eq!(
        bad.header("content-range"),
        format!("bytes */{}", full.body.len())
    );
    let head = s.call("HEAD", &dl, Some("t-alice"), None);
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), full.body.len().to_string());

    for _ in 0..2 {
        assert_eq!(
            s.call("POST", "/v3/export", Some("t-alice"), Some(TRIP))
                .status,
            201
        );
    }
    let first = s.call("GET", "/v3/export?limit=2", Some("t-alice"), None);
    let page: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(page["jobs"].as_array().unwrap().len(), 2);
    let link = first.header("link").to_string();
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("no next link in {link:?}"))
        .0;
    let second = s.json("GET", &format!("/v3/export{next}"), "t-alice", None);
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["jobs"].as_array().unwrap())
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&id.as_str()));

    let deleted = s.call("DELETE", &format!("/v3/export/{id}"), Some("t-alice"), None);
    assert_eq!(deleted.status, 204);
    let gone = s.call("GET", &format!("/v3/export/{id}"), Some("t-alice"), None);
    assert_eq!(gone.problem(), (404, "NOT_FOUND".into()));
}

#[test]
fn catalogue_jobs_immediate_exports_and_streams() {
    let s = Server::start(&small());
    let datasets = s.json("GET", "/api/v1/exports/datasets", "t-alice", None);
    let names: Vec<&str> = datasets
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    // The built-in sample trips are a dataset like the configured catalogue ones.
    assert_eq!(
        names,
        ["catalogue", "categories", "products", "suppliers", "trip"]
    );

    let job = s.json(
        "POST",
        "/api/v1/exports/create",
        "t-alice",
        Some(r#"{"schema":"products","format":"jsonlines","fields":{"include":["id","sku","supplier"]}}"#),
    );
    let task = job["task_id"].as_str().unwrap().to_string();
    assert_eq!(job["id"], task);
    s.wait_status(
        &format!("/api/v1/exports/progress/{task}"),
        "t-alice",
        "succeeded",
    );
    let file = s.call(
        "GET",
        &format!("/api/v1/exports/download/{task}"),
        Some("t-alice"),
        None,
    );
    let lines: Vec<serde_json::Value> = file
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2000);
    assert_eq!(
        lines[41],
        serde_json::json!({"id": 42, "sku": "SKU-00000042", "supplier": {"id": 43, "name": "Supplier 0043"}})
    );
    let listed = s.json("GET", "/api/v1/exports", "t-alice", None);
    assert_eq!(listed["jobs"][0]["id"], task);
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/exports/{task}"),
            Some("t-alice"),
            None
        )
        .status,
        204
    );

    // Immediate: a CSV with a BOM and a filter, and the three-sheet workbook.
    let csv = s.call(
        "POST",
        "/api/v1/exports/csv/suppliers",
        Some("t-alice"),
        Some(r#"{"options":{"bom":true},"filters":{"predicates":[{"op":"eq","column":"country","value":"FR"}]}}"#),
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert!(
        csv.body
            .starts_with(b"\xEF\xBB\xBFid,name,country,email,created_at\n")
    );
    let text = csv.text();
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.split(',').nth(2) == Some("FR")),
        "{text}"
    );
    let xlsx = s.call(
        "POST",
        "/api/v1/exports/excel/catalogue",
        Some("t-alice"),
        None,
    );
    assert_eq!(xlsx.status, 200, "{}", xlsx.text());
    assert!(
        xlsx.header("content-disposition")
            .contains("catalogue.xlsx")
    );
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx.body)).unwrap();
    assert_eq!(book.sheet_names(), ["products", "suppliers", "categories"]);
    assert_eq!(book.worksheet_range("products").unwrap().height(), 2001);
    assert_eq!(book.worksheet_range("categories").unwrap().height(), 9);

    // Streams: field selection, exclusions, filters, JSON Lines and pretty JSON.
    let stream = s.call("GET", "/api/v1/exports/stream/csv/products?fields=id,category&filter=category:in:books|toys&filter=id:range:..20", Some("t-alice"), None);
    assert_eq!(
        stream.text(),
        "id,category\n7,toys\n8,books\n15,toys\n16,books\n"
    );
    let lines = s.call(
        "GET",
        "/api/v1/exports/stream/json/categories?lines=true&exclude=products",
        Some("t-alice"),
        None,
    );
    assert_eq!(lines.header("content-type"), "application/x-ndjson");
    assert_eq!(
        lines.text().lines().next(),
        Some(r#"{"id":1,"name":"books"}"#)
    );
    let pretty = s.call(
        "GET",
        "/api/v1/exports/stream/json/categories?pretty=true&fields=name",
        Some("t-alice"),
        None,
    );
    let parsed: serde_json::Value = serde_json::from_slice(&pretty.body).unwrap();
    assert_eq!(parsed[7]["name"], "toys");
    assert!(pretty.text().contains("\n  "), "{}", pretty.text());
}

#[test]
fn every_route_checks_scopes_and_owners() {
    let s = Server::start(&small());
    let job = s.json("POST", "/v3/export", "t-alice", Some(TRIP));
    let id = job["id"].as_str().unwrap().to_string();
    s.wait_status(&format!("/v3/export/{id}/status"), "t-alice", "succeeded");
    s.json(
        "POST",
        "/api/v1/exports/platforms",
        "t-alice",
        Some(r#"{"name":"p-alice","request":{"schema":"products","format":"csv"}}"#),
    );
    let schedule = r#"{"id":"s-alice","target":{"kind":"platform","platform":"p-alice"},"trigger":{"kind":"cron","expression":"0 2 * * *","time_zone":"Europe/Paris"}}"#;
    s.json(
        "POST",
        "/api/v1/exports/schedules",
        "t-alice",
        Some(schedule),
    );

    // (method, path, body): every route that acts on something of alice's.
    let owned: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", format!("/v3/export/{id}"), None),
        ("GET", format!("/v3/export/{id}/status"), None),
        ("GET", format!("/v3/export/{id}/download"), None),
        ("GET", format!("/api/v1/exports/{id}"), None),
        ("GET", format!("/api/v1/exports/progress/{id}"), None),
        ("GET", format!("/api/v1/exports/download/{id}"), None),
        ("GET", "/api/v1/exports/schedules/s-alice".into(), None),
        (
            "PUT",
            "/api/v1/exports/schedules/s-alice".into(),
            Some(r#"{"name":"x"}"#),
        ),
        (
            "POST",
            "/api/v1/exports/schedules/s-alice/toggle".into(),
            None,
        ),
        ("GET", "/api/v1/exports/schedules/s-alice/runs".into(), None),
        ("GET", "/api/v1/exports/platforms/p-alice".into(), None),
        (
            "PUT",
            "/api/v1/exports/platforms/p-alice".into(),
            Some(r#"{"request":{"schema":"products","format":"json"}}"#),
        ),
        ("DELETE", format!("/v3/export/{id}"), None),
        ("DELETE", format!("/api/v1/exports/{id}"), None),
        ("DELETE", "/api/v1/exports/schedules/s-alice".into(), None),
        ("DELETE", "/api/v1/exports/platforms/p-alice".into(), None),
    ];
    for (method, path, body) in &owned {
        let what = format!("{method} {path}");
        // Another user of the same organisation, and the same user in another one: 404.
        for stranger in ["t-carol", "t-alice2"] {
            let r = s.call(method, path, Some(stranger), *body);
            assert_eq!(
                r.problem(),
                (404, "NOT_FOUND".into()),
                "{what} as {stranger}"
            );
        }
        // No scope at all: 403, before anything is looked up.
        let r = s.call(method, path, Some("t-reader"), *body);
        assert_eq!(
            r.problem(),
            (403, "FORBIDDEN".into()),
            "{what} without scopes"
        );
        for token in [None, Some("nope")] {
            let r = s.call(method, path, token, *body);
            assert_eq!(
                r.problem(),
                (401, "UNAUTHENTICATED".into()),
                "{what} with {token:?}"
            );
            assert!(r.header("www-authenticate").starts_with("Bearer"));
        }
    }
    // Routes that create or list: no scope is 403, no token 401; lists show only one's own.
    let open: Vec<(&str, &str, Option<&str>)> = vec![
        ("POST", "/v3/export", Some(TRIP)),
        ("GET", "/v3/export", None),
        ("GET", "/api/v1/exports", None),
        (
            "POST",
            "/api/v1/exports/create",
            Some(r#"{"schema":"products","format":"csv"}"#),
        ),
        ("GET", "/api/v1/exports/datasets", None),
        ("POST", "/api/v1/exports/csv/products", None),
        ("GET", "/api/v1/exports/stream/csv/products", None),
        ("GET", "/api/v1/exports/schedules", None),
        ("POST", "/api/v1/exports/schedules", Some(schedule)),
        ("GET", "/api/v1/exports/platforms", None),
        (
            "POST",
            "/api/v1/exports/platforms",
            Some(r#"{"name":"p2","request":{"schema":"products","format":"csv"}}"#),
        ),
    ];
    for (method, path, body) in &open {
        assert_eq!(
            s.call(method, path, Some("t-reader"), *body).problem(),
            (403, "FORBIDDEN".into()),
            "{method} {path}"
        );
        assert_eq!(
            s.call(method, path, None, *body).problem().0,
            401,
            "{method} {path}"
        );
    }
    for token in ["t-carol", "t-alice2"] {
        assert_eq!(
            s.json("GET", "/v3/export", token, None)["jobs"],
            serde_json::json!([])
        );
        assert_eq!(
            s.json("GET", "/api/v1/exports/schedules", token, None),
            serde_json::json!([])
        );
        let platforms = s.json("GET", "/api/v1/exports/platforms", token, None);
        assert!(
            platforms
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["name"] != "p-alice"),
            "{platforms}"
        );
    }
    // Alice still has all of it: the strangers changed nothing.
    assert_eq!(
        s.json("GET", &format!("/v3/export/{id}/status"), "t-alice", None)["status"],
        "succeeded"
    );
    assert_eq!(
        s.json("GET", "/api/v1/exports/schedules/s-alice", "t-alice", None)["name"],
        "s-alice"
    );
}

#[test]
fn bad_requests_are_problems_naming_what_is_wrong() {
    let s = Server::start(&small());
    let post = |body: &str| s.call("POST", "/v3/export", Some("t-alice"), Some(body));
    let cases: Vec<(Resp, u16, &str, &str)> = vec![
        (post("{\"format\":"), 400, "MALFORMED_JSON", "not valid JSON"),
        (post(r#"{"format":"csv","feilds":{}}"#), 422, "INVALID_REQUEST", "unknown field `feilds`"),
        (post(r#"{"format":"csv","period":{"start":"2026-13-01","end":"2026-10-02"}}"#), 422, "INVALID_REQUEST", "2026-13-01"),
        (post(r#"{"format":"pdf"}"#), 422, "INVALID_REQUEST", "pdf"),
        (post(r#"{"format":"csv","period":{"start":"2026-10-02","end":"2026-10-01"}}"#), 422, "INVALID_REQUEST", "not after start"),
        (post(r#"{"schema":"products","format":"csv"}"#), 422, "INVALID_REQUEST", "trips only"),
        (post("[\"trip\",null,null,\"csv\"]"), 422, "INVALID_REQUEST", "JSON object"),
        (post(&format!(r#"{{"format":"csv","recipients":["{}"]}}"#, "a".repeat(70_000))), 413, "PAYLOAD_TOO_LARGE", "65536"),
        (s.call_with("POST", "/v3/export", Some("t-alice"), Some(TRIP), &[("content-type", "text/plain")]), 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"),
        (s.call("POST", "/v3/export", Some("t-alice"), None), 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"),
        (s.call("GET", "/v3/export?limt=2", Some("t-alice"), None), 422, "INVALID_REQUEST", "limt"),
        (s.call("GET", "/v3/export?status=done", Some("t-alice"), None), 422, "INVALID_REQUEST", "done"),
        (s.call("GET", "/v3/export/not-a-uuid", Some("t-alice"), None), 404, "NOT_FOUND", "not-a-uuid"),
        (s.call("GET", "/api/v1/exports/stream/csv/orders", Some("t-alice"), None), 404, "NOT_FOUND", "orders"),
        (s.call("GET", "/api/v1/exports/stream/xml/products", Some("t-alice"), None), 404, "NOT_FOUND", "xml"),
        (s.call("GET", "/api/v1/exports/stream/csv/products?filter=price:between:1", Some("t-alice"), None), 422, "INVALID_REQUEST", "between"),
        (s.call("GET", "/api/v1/exports/stream/csv/products?fields=id,nope", Some("t-alice"), None), 422, "UNKNOWN_FIELD", "nope"),
        (s.call("GET", "/api/v1/exports/stream/csv/products?pretty=true", Some("t-alice"), None), 422, "INVALID_REQUEST", "pretty"),
        (s.call("GET", "/api/v1/exports/stream/csv/products?bom=yes", Some("t-alice"), None), 422, "INVALID_REQUEST", "yes"),
        (s.call("POST", "/api/v1/exports/csv/products", Some("t-alice"), Some(r#"{"format":"json"}"#)), 422, "INVALID_REQUEST", "path"),
        (s.call("POST", "/api/v1/exports/schedules", Some("t-alice"), Some(r#"{"id":"x","target":{"kind":"platform","platform":"p"},"trigger":{"kind":"cron","expresion":"0 6 * * *"}}"#)), 422, "INVALID_REQUEST", "expresion"),
        (s.call("PUT", "/api/v1/exports/schedules/x", Some("t-alice"), Some(r#"{"nmae":"x"}"#)), 422, "INVALID_REQUEST", "nmae"),
        (s.call("GET", "/v4/export", Some("t-alice"), None), 404, "ROUTE_NOT_FOUND", "/v4/export"),
        (s.call("PATCH", "/v3/export", Some("t-alice"), None), 405, "METHOD_NOT_ALLOWED", "POST, GET"),
    ];
    for (r, status, code, says) in cases {
        let text = r.text();
        assert_eq!(r.problem(), (status, code.to_string()), "{text}");
        assert!(text.contains(says), "{says:?} not in {text}");
    }
    // Nothing of it created a job.
    assert_eq!(
        s.json("GET", "/v3/export", "t-alice", None)["jobs"],
        serde_json::json!([])
    );
}

/// The server's peak resident set (VmHWM) and CPU time so far, from /proc.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; `after` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_million_row_stream_in_flat_memory_and_a_client_that_leaves() {
    let s = Server::start(&[
        "--catalog-products",
        "1000000",
        "--workers",
        "0",
        "--no-scheduler",
        "--purge-seconds",
        "0",
    ]);
    let path = "/api/v1/exports/stream/csv/products";
    let warm = s.call(
        "GET",
        &format!("{path}?filter=id:range:..5000"),
        Some("t-alice"),
        None,
    );
    assert_eq!(warm.text().lines().count(), 5001);
    let before = vm_hwm_kib(s.pid());

    let response = agent()
        .get(format!("{}{path}", s.base))
        .header("authorization", "Bearer t-alice")
        .call()
        .unwrap();
    let mut reader = BufReader::new(
        response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader(),
    );
    let (mut rows, mut bytes, mut line) = (0u64, 0u64, String::new());
    while reader.read_line(&mut line).unwrap() > 0 {
        rows += 1;
        bytes += line.len() as u64;
        line.clear();
    }
    assert_eq!(rows, 1_000_001, "header and a million products");
    assert!(bytes > 80_000_000, "{bytes} bytes");
    let grew = vm_hwm_kib(s.pid()).saturating_sub(before);
    assert!(
        grew < 64 * 1024,
        "the server's peak RSS grew by {grew} KiB for a {bytes}-byte stream"
    );

    // A client that reads 1 MB and leaves: the export stops, the server goes idle.
    let response = agent()
        .get(format!("{}{path}", s.base))
        .header("authorization", "Bearer t-alice")
        .call()
        .unwrap();
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    let mut buf = vec![0u8; 1 << 20];
    reader.read_exact(&mut buf).unwrap();
    drop(reader);
    std::thread::sleep(Duration::from_millis(500));
    let t0 = cpu_ticks(s.pid());
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_ticks(s.pid()) - t0;
    // Producing the rest would take seconds of CPU (a full stream took well over 100 ticks).
    assert!(
        used < 30,
        "the server used {used} ticks after the client left"
    );
    assert_eq!(
        s.call("GET", "/v3/export", Some("t-alice"), None).status,
        200
    );
}

#[test]
fn schedules_and_platforms_round_trip() {
    let s = Server::start(&small());
    let platform = s.call("POST", "/api/v1/exports/platforms", Some("t-alice"),
        Some(r#"{"name":"nightly-products","description":"for the marketplace","request":{"schema":"products","format":"csv","options":{"bom":true}}}"#));
    assert_eq!(platform.status, 201, "{}", platform.text());
    assert_eq!(platform.header("location"), "platforms/nightly-products");
    let spec = r#"{"id":"nightly","name":"Nightly products","target":{"kind":"platform","platform":"nightly-products"},
        "trigger":{"kind":"cron","expression":"0 2 * * *","time_zone":"Europe/Paris"},"retry":{"max_attempts":2,"delay_seconds":60}}"#;
    let created = s.call(
        "POST",
        "/api/v1/exports/schedules",
        Some("t-alice"),
        Some(spec),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let schedule: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    assert!(schedule["next_run"].is_string(), "{schedule}");
    assert_eq!(schedule["enabled"], true);
    let again = s.call(
        "POST",
        "/api/v1/exports/schedules",
        Some("t-alice"),
        Some(spec),
    );
    assert_eq!(again.problem(), (409, "ALREADY_EXISTS".into()));

    let updated = s.json(
        "PUT",
        "/api/v1/exports/schedules/nightly",
        "t-alice",
        Some(r#"{"name":"Every 90 minutes","trigger":{"kind":"interval","every_minutes":90}}"#),
    );
    assert_eq!(updated["name"], "Every 90 minutes");
    assert_ne!(updated["next_run"], schedule["next_run"]);
    let toggled = s.json(
        "POST",
        "/api/v1/exports/schedules/nightly/toggle",
        "t-alice",
        None,
    );
    assert_eq!(toggled["enabled"], false);
    let listed = s.json(
        "GET",
        "/api/v1/exports/schedules?enabled=false",
        "t-alice",
        None,
    );
    assert_eq!(listed[0]["id"], "nightly");
    assert_eq!(
        s.json(
            "GET",
            "/api/v1/exports/schedules?enabled=true",
            "t-alice",
            None
        ),
        serde_json::json!([])
    );
    assert_eq!(
        s.json(
            "GET",
            "/api/v1/exports/schedules/nightly/runs",
            "t-alice",
            None
        ),
        serde_json::json!([])
    );

    let changed = s.json(
        "PUT",
        "/api/v1/exports/platforms/nightly-products",
        "t-alice",
        Some(r#"{"description":"json now","request":{"schema":"products","format":"json"}}"#),
    );
    assert_eq!(changed["request"]["format"], "json");
    assert_eq!(
        s.json(
            "GET",
            "/api/v1/exports/platforms/nightly-products",
            "t-alice",
            None
        )["description"],
        "json now"
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/api/v1/exports/schedules/nightly",
            Some("t-alice"),
            None
        )
        .status,
        204
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/api/v1/exports/platforms/nightly-products",
            Some("t-alice"),
            None
        )
        .status,
        204
    );
    assert_eq!(
        s.call(
            "GET",
            "/api/v1/exports/schedules/nightly",
            Some("t-alice"),
            None
        )
        .problem()
        .0,
        404
    );
}

#[test]
fn sigterm_stops_cleanly_and_a_running_export_returns_to_pending() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("engine.toml");
    // Enough trips that the export is still running when the signal comes.
    std::fs::write(&config, "[sources]\nsample_rows = 50000000\n").unwrap();
    let config_arg = config.display().to_string();
    let mut s = Server::start_in(dir, &["--config", &config_arg]);
    let job = s.json("POST", "/v3/export", "t-alice", Some(TRIP));
    let id = job["id"].as_str().unwrap().to_string();
    s.wait_status(&format!("/v3/export/{id}/status"), "t-alice", "running");
    let status = s.sigterm();
    assert!(status.success(), "{status:?}");
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);
    assert!(
        no_published_file(&dir.path().join("files")),
        "a file was published"
    );

    let s = Server::start_in(dir, &["--config", &config_arg, "--workers", "0"]);
    let status = s.json("GET", &format!("/v3/export/{id}/status"), "t-alice", None);
    assert_eq!(status["status"], "pending", "{status}");
}

fn no_published_file(dir: &Path) -> bool {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    files(dir, &mut found);
    found.iter().all(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    })
}

/// The (method, path) pairs `docs/openapi.yaml` lists: paths indented two spaces, methods
/// four, as the document is written.
fn documented_routes(yaml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut path = None;
    for line in yaml.lines() {
        if let Some(rest) = line.strip_prefix("  ")
            && rest.starts_with('/')
        {
            path = Some(rest.trim_end_matches(':').trim_matches('"').to_string());
        } else if !line.starts_with("  ") {
            path = None;
        } else if let Some(rest) = line.strip_prefix("    ")
            && !rest.starts_with(' ')
            && let Some(p) = &path
        {
            let key = rest.trim_end_matches(':');
            if ["get", "post", "put", "delete", "patch", "head"].contains(&key) {
                out.push((key.to_uppercase(), p.clone()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_served() {
    let yaml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .unwrap();
    assert_eq!(yaml, export_core::http::OPENAPI_YAML);
    let mut routes: Vec<(String, String)> = export_core::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routes.sort();
    assert_eq!(documented_routes(&yaml), routes);

    let s = Server::start(&small());
    let served = s.call("GET", "/openapi.yaml", None, None);
    assert_eq!((served.status, served.text()), (200, yaml));
    let uuid = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    for (method, template) in export_core::http::ROUTES {
        let path = template
            .replace("{id}", uuid)
            .replace("{task_id}", uuid)
            .replace("{format}", "csv")
            .replace("{dataset}", "products")
            .replace("{name}", "p");
        let r = s.call(method, &path, None, None);
        if *template == "/openapi.yaml" {
            continue;
        }
        // Every route exists for its method: it asks who is calling.
        assert_eq!(
            r.problem(),
            (401, "UNAUTHENTICATED".into()),
            "{method} {template}"
        );
    }
}

#[test]
fn redirect_mode_hands_out_a_signed_link_to_the_object_storage() {
    let Some(endpoint) = services::s3_endpoint() else {
        return;
    };
    let bucket = format!(
        "ec-http-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    agent()
        .put(format!("{endpoint}/{bucket}"))
        .send_empty()
        .unwrap_or_else(|e| panic!("cannot create bucket {bucket}: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("engine.toml");
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| "testing".into());
    std::fs::write(
        &config,
        format!(
            "[storage.options]\nendpoint = \"{endpoint}\"\nallow_http = \"true\"\nregion = \"us-east-1\"\n\
             access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY")
        ),
    )
    .unwrap();
    let storage = format!("s3://{bucket}/exports");
    let config_arg = config.display().to_string();
    let s = Server::start_in(
        dir,
        &[
            "--config",
            &config_arg,
            "--storage",
            &storage,
            "--downloads",
            "redirect",
            "--catalog-products",
            "500",
        ],
    );
    let job = s.json(
        "POST",
        "/api/v1/exports/create",
        "t-alice",
        Some(r#"{"schema":"suppliers","format":"csv"}"#),
    );
    let id = job["id"].as_str().unwrap().to_string();
    s.wait_status(
        &format!("/api/v1/exports/progress/{id}"),
        "t-alice",
        "succeeded",
    );
    let redirect = s.call(
        "GET",
        &format!("/api/v1/exports/download/{id}"),
        Some("t-alice"),
        None,
    );
    assert_eq!(redirect.status, 307, "{}", redirect.text());
    let location = redirect.header("location").to_string();
    assert!(location.starts_with(&endpoint), "{location}");
    // The link alone (no token) gets the file, as published.
    let mut file = Vec::new();
    agent()
        .get(&location)
        .call()
        .unwrap()
        .into_body()
        .into_reader()
        .read_to_end(&mut file)
        .unwrap();
    let stored = s.json("GET", &format!("/api/v1/exports/{id}"), "t-alice", None);
    assert_eq!(
        hex::encode(Sha256::digest(&file)),
        stored["result"]["sha256"].as_str().unwrap()
    );
    assert!(file.starts_with(b"id,name,country,email,created_at\n"));
    // Someone else gets no link.
    let other = s.call(
        "GET",
        &format!("/api/v1/exports/download/{id}"),
        Some("t-carol"),
        None,
    );
    assert_eq!(other.problem(), (404, "NOT_FOUND".into()));
}
