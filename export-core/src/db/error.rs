//! The one mapping from driver errors to [`ExportError`], per driver.
//!
//! A unique-key violation on an insert becomes [`ExportError::AlreadyExists`] naming what was
//! inserted (the caller knows the kind and the id, the driver does not); every other driver error
//! becomes [`ExportError::Store`] with the driver's message in `reason` and the driver's error
//! itself kept as `source()`.

use crate::error::ExportError;

/// Maps a SQLite error to [`ExportError::Store`], keeping it as the source.
pub(crate) fn sqlite(e: rusqlite::Error) -> ExportError {
    ExportError::store_with_source("sqlite", e.to_string(), e)
}

/// As [`sqlite`], but a unique or primary-key violation becomes
/// [`ExportError::AlreadyExists`] of `kind` `id`.
pub(crate) fn sqlite_insert(e: rusqlite::Error, kind: &'static str, id: &str) -> ExportError {
    if sqlite_is_unique_violation(&e) {
        ExportError::AlreadyExists {
            kind,
            id: id.to_owned(),
        }
    } else {
        sqlite(e)
    }
}

/// Whether `e` is SQLite's unique or primary-key constraint failure.
pub(crate) fn sqlite_is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
                && matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                )
    )
}

/// Maps a PostgreSQL error to [`ExportError::Store`] with the server's message and SQLSTATE (or
/// the client's message and its cause), keeping it as the source.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(e: tokio_postgres::Error) -> ExportError {
    let reason = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(&e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    };
    ExportError::store_with_source("postgres", reason, e)
}

/// As [`postgres`], but a unique violation (SQLSTATE 23505) becomes
/// [`ExportError::AlreadyExists`] of `kind` `id`.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_insert(
    e: tokio_postgres::Error,
    kind: &'static str,
    id: &str,
) -> ExportError {
    if postgres_is_unique_violation(&e) {
        ExportError::AlreadyExists {
            kind,
            id: id.to_owned(),
        }
    } else {
        postgres(e)
    }
}

/// Whether `e` is PostgreSQL's unique violation (SQLSTATE 23505).
#[cfg(feature = "postgres")]
pub(crate) fn postgres_is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_keeps_the_driver_error_as_source() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let e = conn.execute_batch("SELEC 1").unwrap_err();
        let err = sqlite(e);
        assert_eq!(err.code(), "STORE");
        let source = std::error::Error::source(&err).expect("a source");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
    }

    #[test]
    fn sqlite_unique_violation_is_already_exists() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY); INSERT INTO t VALUES ('a')")
            .unwrap();
        let e = conn.execute("INSERT INTO t VALUES ('a')", []).unwrap_err();
        let err = sqlite_insert(e, "job", "a");
        assert!(
            matches!(&err, ExportError::AlreadyExists { kind: "job", id } if id == "a"),
            "{err:?}"
        );
        let e = conn
            .execute("INSERT INTO nope VALUES ('a')", [])
            .unwrap_err();
        assert_eq!(sqlite_insert(e, "job", "a").code(), "STORE");
    }
}
