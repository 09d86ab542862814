CREATE TABLE audit_events (
    seq                   BIGSERIAL   PRIMARY KEY,
    id                    UUID        NOT NULL UNIQUE,
    at                    TIMESTAMPTZ NOT NULL,
    actor_user_id         TEXT        NOT NULL,
    actor_organisation_id TEXT,
    action                TEXT        NOT NULL,
    job_id                UUID,
    format                TEXT,
    schema_name           TEXT,
    audience              TEXT,
    filters               JSONB       NOT NULL,
    row_count             BIGINT,
    risk                  TEXT        NOT NULL
);
CREATE INDEX audit_events_job ON audit_events (job_id, at);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
