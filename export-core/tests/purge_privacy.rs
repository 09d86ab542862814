//! What survives a purge: after it, no stored byte pairs a purged job with the user or the
//! organisation that asked for it: not the job row, not its audit events, not the SQLite file
//! or its write-ahead log, not the JSON Lines audit file, not PostgreSQL's table files. Counts
//! and accountability stay, under keyed pseudonyms.
//!
//! PostgreSQL tests need `EXPORT_CORE_PG_URL` and read the server's data files, so they must run
//! on the server's machine as a user who can read its data directory; without the URL they
//! print SKIPPED and pass
//! (under `scripts/test` they must run: see `common/services.rs`).

#[cfg(feature = "postgres")]
#[path = "common/pg_admin.rs"]
mod pg_admin;
#[path = "common/services.rs"]
mod services;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Duration;
use export_core::audit::{
    AuditAction, AuditEvent, AuditLog, AuditQuery, JsonlAuditLog, Pseudonymiser, SqliteAuditLog,
    is_pseudonym,
};
use export_core::clock::{Clock, ManualClock};
use export_core::job::{JobStatus, JobStore, MemoryJobStore, SqliteJobStore};
use export_core::registry::SchemaRegistry;
use export_core::request::{Audience, ExportRequest, Format};
use export_core::retention::{PurgeReport, Purger};
use export_core::service::{ExportService, Principal};
use export_core::storage::{LocalStorage, Storage};
use export_core::worker::{SampleTripsProvider, Worker, WorkerConfig};
use uuid::Uuid;

const SECRET: &str = "a deployment secret, 32 bytes ok";

/// A user and an organisation no other test uses, so a shared database cannot disturb a search.
struct Identity {
    user: String,
    organisation: String,
}

impl Identity {
    fn new() -> Identity {
        let tag = Uuid::new_v4().simple().to_string();
        Identity {
            user: format!("alice-{tag}"),
            organisation: format!("org-{tag}"),
        }
    }

    /// True when `bytes` hold the user or the organisation id.
    fn found_in(&self, bytes: &[u8]) -> bool {
        [&self.user, &self.organisation]
            .iter()
            .any(|id| contains(bytes, id.as_bytes()))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

struct Backend {
    store: Arc<dyn JobStore>,
    audit: Arc<dyn AuditLog>,
}

/// The operator whose user exports its trips (the access policy allows nothing else).
const OPERATOR: i64 = 1;

/// Creates an operator export as `who`, runs it, downloads it, then lets 8 days pass and
/// purges. `before_purge` sees the stores while the job is still identifiable.
fn create_download_purge(
    backend: &Backend,
    who: &Identity,
    dir: &Path,
    before_purge: impl FnOnce(),
) -> (Uuid, PurgeReport) {
    let clock = Arc::new(ManualClock::new("2026-11-02T08:00:00Z".parse().unwrap()));
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.join("files")).unwrap());
    let service = ExportService::new(
        backend.store.clone(),
        storage.clone(),
        backend.audit.clone(),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    );
    let principal = Principal::new(who.user.clone(), Some(who.organisation.as_str()))
        .operator(OPERATOR)
        .with_all_scopes();
    let mut request = ExportRequest::new("trip", Format::Csv);
    request.audience = Some(Audience::Operator);
    request.filters.operators = vec![OPERATOR];
    let job = service.create(&principal, request).unwrap();
    let worker = Worker::new(
        WorkerConfig::default(),
        backend.store.clone(),
        storage.clone(),
        Arc::new(SampleTripsProvider { rows: 30, seed: 5 }),
        Arc::new(SchemaRegistry::new()),
        clock.clone(),
    )
    .with_audit(backend.audit.clone());
    assert_eq!(
        worker.run_once().unwrap().unwrap().status,
        JobStatus::Succeeded
    );
    let mut file = Vec::new();
    service
        .download(&principal, job.id)
        .unwrap()
        .reader
        .read_to_end(&mut file)
        .unwrap();
    // An event old enough for a year's audit retention, by someone else.
    let old = AuditEvent::new(
        AuditAction::Create,
        format!("{}-old", who.user),
        None,
        clock.now() - Duration::days(400),
    );
    backend.audit.record(&old).unwrap();
    before_purge();

    clock.advance(Duration::days(8));
    let purger = Purger::new(
        backend.store.clone(),
        storage,
        backend.audit.clone(),
        clock.clone(),
    )
    .with_audit_secret(SECRET)
    .unwrap()
    .with_audit_retention(Duration::days(365));
    let report = purger.purge().unwrap();
    assert_eq!(report.jobs, vec![job.id]);
    assert_eq!(report.audit_deleted, 1, "{report:?}");
    (job.id, report)
}

/// The job's events after the purge: every actor a pseudonym (the same for one person), the
/// actions, formats and row counts kept.
fn check_events(audit: &dyn AuditLog, job: Uuid, who: &Identity, report: &PurgeReport) {
    let events = audit.list(&AuditQuery::default().job(job)).unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Create,
            AuditAction::Export,
            AuditAction::Download,
            AuditAction::Expire
        ]
    );
    assert_eq!(report.audit_pseudonymised, 3);
    let p = Pseudonymiser::new(SECRET).unwrap();
    for e in &events[..3] {
        assert!(is_pseudonym(&e.actor_user_id), "{e:?}");
        assert_eq!(e.actor_user_id, p.user(&who.user));
        assert_eq!(
            e.actor_organisation_id.as_deref(),
            Some(p.organisation(&who.organisation).as_str())
        );
        assert_eq!(e.format, Some(Format::Csv));
    }
    assert_eq!(events[1].row_count, events[2].row_count);
    assert!(events[2].row_count.is_some());
    assert_eq!(events[3].actor_user_id, "retention");
    let old = audit
        .list(&AuditQuery::default().actor(format!("{}-old", who.user)))
        .unwrap();
    assert!(old.is_empty(), "past the audit retention: {old:?}");
}

/// The bytes of `path` and of its `-wal` and `-shm` companions.
fn sqlite_bytes(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(bytes) = std::fs::read(&file) {
            out.push((file, bytes));
        }
    }
    out
}

#[test]
fn sqlite_file_and_wal_keep_no_identity_after_a_purge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("export-core.db");
    let backend = Backend {
        store: Arc::new(SqliteJobStore::open(&db).unwrap()),
        audit: Arc::new(SqliteAuditLog::open(&db).unwrap()),
    };
    let who = Identity::new();
    let (job, report) = create_download_purge(&backend, &who, dir.path(), || {
        let all: Vec<u8> = sqlite_bytes(&db).into_iter().flat_map(|(_, b)| b).collect();
        assert!(who.found_in(&all), "the ids are stored before the purge");
    });
    check_events(backend.audit.as_ref(), job, &who, &report);
    let old_user = format!("{}-old", who.user);
    for (file, bytes) in sqlite_bytes(&db) {
        assert!(!who.found_in(&bytes), "{} holds the ids", file.display());
        assert!(
            !contains(&bytes, old_user.as_bytes()),
            "{} holds a deleted event",
            file.display()
        );
    }
    // Still a working database.
    assert_eq!(backend.store.get(job).unwrap().status, JobStatus::Expired);
}

#[test]
fn jsonl_audit_file_keeps_no_identity_after_a_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let backend = Backend {
        store: Arc::new(MemoryJobStore::new()),
        audit: Arc::new(JsonlAuditLog::open(&path).unwrap()),
    };
    let who = Identity::new();
    let (job, report) = create_download_purge(&backend, &who, dir.path(), || {
        assert!(who.found_in(&std::fs::read(&path).unwrap()));
    });
    check_events(backend.audit.as_ref(), job, &who, &report);
    assert!(!who.found_in(&std::fs::read(&path).unwrap()));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".audit-rewrite")),
        "no temporary file left: {names:?}"
    );
    // The log goes on appending to the rewritten file.
    let after = AuditEvent::new(AuditAction::Create, "bob", None, chrono::Utc::now());
    backend.audit.record(&after).unwrap();
    let reopened = JsonlAuditLog::open(&path).unwrap();
    assert_eq!(
        reopened.list(&AuditQuery::default().actor("bob")).unwrap(),
        vec![after]
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use export_core::audit::PgAuditLog;
    use export_core::db::PgOptions;
    use export_core::job::PgJobStore;

    /// The files of every relation (tables, indexes, TOAST) of `schema`, read after a checkpoint
    /// so that the server has written its buffers.
    fn relation_bytes(
        client: &mut crate::pg_admin::Client,
        schema: &str,
    ) -> Vec<(String, Vec<u8>)> {
        client.batch_execute("CHECKPOINT").unwrap();
        let data_dir: String = client.query_one("SHOW data_directory", &[]).unwrap().get(0);
        let rows = client
            .query(
                "SELECT c.relname::text, pg_relation_filepath(c.oid) FROM pg_class c \
                 WHERE (c.relnamespace = $1::text::regnamespace \
                    OR c.oid IN (SELECT reltoastrelid FROM pg_class \
                                 WHERE relnamespace = $1::text::regnamespace) \
                    OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t \
                                 ON t.oid = i.indrelid \
                                 WHERE t.oid IN (SELECT reltoastrelid FROM pg_class \
                                                 WHERE relnamespace = $1::text::regnamespace))) \
                   AND pg_relation_filepath(c.oid) IS NOT NULL",
                &[&schema],
            )
            .unwrap();
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            let file: String = row.get(1);
            let path = Path::new(&data_dir).join(&file);
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {} ({name}): {e}", path.display()));
            out.push((name, bytes));
        }
        out
    }

    #[test]
    fn postgres_tables_keep_no_identity_after_a_purge() {
        let Some(url) = services::pg_url() else {
            return;
        };
        let schema = format!("test_{}", Uuid::new_v4().simple());
        let options = PgOptions::default().schema(schema.clone()).pool_size(2);
        let backend = Backend {
            store: Arc::new(PgJobStore::connect_with(&url, options.clone()).unwrap()),
            audit: Arc::new(PgAuditLog::connect_with(&url, options).unwrap()),
        };
        let mut client = crate::pg_admin::Client::connect(&url).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let who = Identity::new();
        let (job, report) = create_download_purge(&backend, &who, dir.path(), || {
            let mut client = crate::pg_admin::Client::connect(&url).unwrap();
            let files = relation_bytes(&mut client, &schema);
            for table in ["export_jobs", "audit_events"] {
                let (_, bytes) = files.iter().find(|(n, _)| n == table).unwrap();
                assert!(
                    who.found_in(bytes),
                    "{table} holds the ids before the purge"
                );
            }
        });
        check_events(backend.audit.as_ref(), job, &who, &report);
        let files = relation_bytes(&mut client, &schema);
        assert!(
            files.len() >= 6,
            "tables and their indexes: {}",
            files.len()
        );
        for (name, bytes) in &files {
            assert!(!who.found_in(bytes), "{name} holds the ids");
        }
        let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
