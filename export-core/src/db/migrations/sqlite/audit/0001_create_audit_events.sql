CREATE TABLE audit_events (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT    NOT NULL UNIQUE,
    at_micros             INTEGER NOT NULL,
    actor_user_id         TEXT    NOT NULL,
    actor_organisation_id TEXT,
    action                TEXT    NOT NULL,
    job_id                TEXT,
    format                TEXT,
    schema_name           TEXT,
    audience              TEXT,
    filters               TEXT    NOT NULL,
    row_count             INTEGER,
    risk                  TEXT    NOT NULL
);
CREATE INDEX audit_events_job ON audit_events (job_id, at_micros);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, at_micros);
CREATE INDEX audit_events_at ON audit_events (at_micros);
