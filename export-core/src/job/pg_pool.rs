//! The PostgreSQL connection set-up and the small blocking pool shared by the PostgreSQL stores
//! ([`PgJobStore`](super::PgJobStore), [`PgScheduleStore`](crate::schedule::PgScheduleStore)).
//!
//! [`connect`] parses the URL, applies the [`PgOptions`] (schema on the search path, pool size,
//! connection timeout, application name), opens a first connection and creates the schema if
//! missing. Each store then applies its own migrations on a pooled connection.

use std::sync::{Condvar, Mutex, MutexGuard};

use ::postgres::error::SqlState;
use ::postgres::{Client, Config, NoTls};

use super::postgres::{PgOptions, store_error};
use crate::error::{ExportError, Result};

const BACKEND: &str = "postgres";

/// Checks that `schema` is a lower-case SQL identifier, safe to splice into SQL.
fn check_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ExportError::request(
            "schema",
            format!(
                "`{schema}` is not a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)"
            ),
        ))
    }
}

/// Connects to the database at `url` with `options`: returns a pool whose first connection is
/// open (idle), with `options.schema` created if missing and first on every connection's search
/// path. Migrations are left to the caller.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on field `url`, `schema` or `pool_size`;
/// [`ExportError::Store`] when the server cannot be reached or the schema cannot be created.
pub(crate) fn connect(url: &str, options: &PgOptions) -> Result<Pool> {
    let mut config: Config = url
        .parse()
        .map_err(|e| ExportError::request("url", format!("not a PostgreSQL URL: {e}")))?;
    if let Some(schema) = &options.schema {
        check_schema(schema)?;
        let search_path = format!("-c search_path={schema}");
        let merged = match config.get_options() {
            Some(existing) if !existing.trim().is_empty() => {
                format!("{existing} {search_path}")
            }
            _ => search_path,
        };
        config.options(&merged);
    }
    if options.pool_size == 0 {
        return Err(ExportError::request("pool_size", "must be at least 1"));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("export-core");
    }
    let pool = Pool {
        config,
        schema: options.schema.clone(),
        size: options.pool_size,
        state: Mutex::new(PoolState {
            idle: Vec::new(),
            open: 0,
        }),
        available: Condvar::new(),
    };
    {
        let mut conn = pool.get()?;
        if let Some(schema) = &pool.schema {
            // Validated above: a plain identifier, safe to splice.
            let created = conn
                .client()?
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
            match created {
                Ok(()) => {}
                // Another store created it at the same moment.
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
    }
    Ok(pool)
}

/// A minimal blocking connection pool: up to `size` connections, opened on demand, closed ones
/// dropped and reopened.
pub(crate) struct Pool {
    config: Config,
    schema: Option<String>,
    size: usize,
    state: Mutex<PoolState>,
    available: Condvar,
}

struct PoolState {
    idle: Vec<Client>,
    /// Connections handed out or idle.
    open: usize,
}

/// A connection borrowed from the pool, returned on drop.
pub(crate) struct PooledClient<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl PooledClient<'_> {
    /// The connection.
    pub(crate) fn client(&mut self) -> Result<&mut Client> {
        self.client.as_mut().ok_or_else(|| ExportError::Store {
            backend: BACKEND,
            reason: "pooled connection already returned".into(),
        })
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if let Ok(mut state) = self.pool.state.lock() {
            if client.is_closed() {
                state.open = state.open.saturating_sub(1);
            } else {
                state.idle.push(client);
            }
            self.pool.available.notify_one();
        }
    }
}

impl Pool {
    /// The schema of the tables, when one was given.
    pub(crate) fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Most connections open at once.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    fn lock(&self) -> Result<MutexGuard<'_, PoolState>> {
        self.state.lock().map_err(|_| ExportError::Store {
            backend: BACKEND,
            reason: "the pool's lock is poisoned (a thread panicked while holding it)".into(),
        })
    }

    /// An idle connection, a new one when fewer than `size` are open, or the next one returned.
    pub(crate) fn get(&self) -> Result<PooledClient<'_>> {
        let mut state = self.lock()?;
        loop {
            if let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open = state.open.saturating_sub(1);
                    continue;
                }
                return Ok(PooledClient {
                    pool: self,
                    client: Some(client),
                });
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(PooledClient {
                        pool: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        if let Ok(mut state) = self.state.lock() {
                            state.open = state.open.saturating_sub(1);
                            self.available.notify_one();
                        }
                        Err(store_error(e))
                    }
                };
            }
            state = self.available.wait(state).map_err(|_| ExportError::Store {
                backend: BACKEND,
                reason: "the pool's lock is poisoned (a thread panicked while holding it)".into(),
            })?;
        }
    }
}
