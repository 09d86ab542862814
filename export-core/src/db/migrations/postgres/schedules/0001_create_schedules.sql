-- Schedules, their runs and export platforms (PostgreSQL).
-- Each row holds the JSON of its struct in `body`; the other columns are copies of the fields
-- the queries filter and sort on. Instants are microseconds since the epoch (UTC). Names sort
-- byte-wise (COLLATE "C"), as in the other stores, whatever the database's collation.

CREATE TABLE export_platforms (
    name TEXT COLLATE "C" PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE export_schedules (
    id              TEXT COLLATE "C" PRIMARY KEY,
    owner_user_id   TEXT    NOT NULL,
    platform        TEXT,
    enabled         BOOLEAN NOT NULL,
    next_run_micros BIGINT,
    body            TEXT    NOT NULL
);

-- due() and next_due(): enabled schedules by next run
CREATE INDEX export_schedules_due ON export_schedules (enabled, next_run_micros);
-- list(platform) and the check before deleting a platform
CREATE INDEX export_schedules_platform ON export_schedules (platform);
-- list(owner)
CREATE INDEX export_schedules_owner ON export_schedules (owner_user_id);

-- One row per (schedule, fire time): the primary key makes a fire time run once.
CREATE TABLE export_schedule_runs (
    schedule_id      TEXT COLLATE "C" NOT NULL,
    fire_time_micros BIGINT NOT NULL,
    status           TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    PRIMARY KEY (schedule_id, fire_time_micros)
);

-- runs(open only), oldest first
CREATE INDEX export_schedule_runs_status ON export_schedule_runs (status, fire_time_micros);
-- runs() of every schedule, newest first
CREATE INDEX export_schedule_runs_fire_time ON export_schedule_runs (fire_time_micros);
