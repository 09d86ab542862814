-- Export jobs (SQLite). Instants are microseconds since the Unix epoch, UTC.
CREATE TABLE export_jobs (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT    NOT NULL UNIQUE,
    owner_user_id         TEXT    NOT NULL,
    owner_organisation_id TEXT,
    request               TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    rows_done             INTEGER NOT NULL DEFAULT 0,
    rows_expected         INTEGER,
    created_at            INTEGER NOT NULL,
    started_at            INTEGER,
    heartbeat_at          INTEGER,
    finished_at           INTEGER,
    expires_at            INTEGER,
    not_before            INTEGER,
    attempts              INTEGER NOT NULL DEFAULT 0,
    max_attempts          INTEGER NOT NULL CHECK (max_attempts >= 1),
    retention_seconds     INTEGER,
    lease_worker_id       TEXT,
    lease_until           INTEGER,
    cancel_requested      INTEGER NOT NULL DEFAULT 0,
    result_storage_key    TEXT,
    result_size_bytes     INTEGER,
    result_rows           INTEGER,
    result_sha256         TEXT,
    result_file_name      TEXT,
    result_content_type   TEXT,
    error_kind            TEXT,
    error_message         TEXT,
    schedule_id           TEXT
);

-- list(owner) newest first
CREATE INDEX export_jobs_owner_created ON export_jobs (owner_user_id, created_at DESC, seq DESC);
-- claim: pending jobs whose back-off has passed
CREATE INDEX export_jobs_status_not_before ON export_jobs (status, not_before);
-- claim order among pending jobs
CREATE INDEX export_jobs_status_created ON export_jobs (status, created_at, seq);
-- reclaim_expired_leases
CREATE INDEX export_jobs_status_lease ON export_jobs (status, lease_until);
-- list_expired
CREATE INDEX export_jobs_status_expires ON export_jobs (status, expires_at);
-- schedules' runs
CREATE INDEX export_jobs_schedule ON export_jobs (schedule_id, created_at) WHERE schedule_id IS NOT NULL;
