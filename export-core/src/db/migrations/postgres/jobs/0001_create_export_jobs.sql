-- Export jobs (PostgreSQL).
CREATE TABLE export_jobs (
    seq                   BIGSERIAL   NOT NULL UNIQUE,
    id                    UUID        PRIMARY KEY,
    owner_user_id         TEXT        NOT NULL,
    owner_organisation_id TEXT,
    request               JSONB       NOT NULL,
    status                TEXT        NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    rows_done             BIGINT      NOT NULL DEFAULT 0,
    rows_expected         BIGINT,
    created_at            TIMESTAMPTZ NOT NULL,
    started_at            TIMESTAMPTZ,
    heartbeat_at          TIMESTAMPTZ,
    finished_at           TIMESTAMPTZ,
    expires_at            TIMESTAMPTZ,
    not_before            TIMESTAMPTZ,
    attempts              INTEGER     NOT NULL DEFAULT 0,
    max_attempts          INTEGER     NOT NULL CHECK (max_attempts >= 1),
    retention_seconds     BIGINT,
    lease_worker_id       TEXT,
    lease_until           TIMESTAMPTZ,
    cancel_requested      BOOLEAN     NOT NULL DEFAULT FALSE,
    result_storage_key    TEXT,
    result_size_bytes     BIGINT,
    result_rows           BIGINT,
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
CREATE INDEX export_jobs_pending_created ON export_jobs (created_at, seq) WHERE status = 'pending';
-- reclaim_expired_leases
CREATE INDEX export_jobs_running_lease ON export_jobs (lease_until) WHERE status = 'running';
-- list_expired
CREATE INDEX export_jobs_status_expires ON export_jobs (status, expires_at);
-- schedules' runs
CREATE INDEX export_jobs_schedule ON export_jobs (schedule_id, created_at) WHERE schedule_id IS NOT NULL;
