//! The engine every command runs on: `--config FILE`, then `EXPORT_CORE__*` variables, then the
//! flags shared by `export`, `jobs`, `worker`, `purge`, `schedules`, `platforms` and `scheduler`.
//! All wiring is [`Engine`]'s; this file only turns flags into [`EngineConfig`] overrides.

use std::path::PathBuf;

use clap::Args;
use export_core::Result;
use export_core::engine::{Engine, EngineConfig};

#[derive(Args, Clone)]
pub struct BackendArgs {
    /// Engine configuration file (TOML or JSON). EXPORT_CORE__SECTION__KEY variables override
    /// it, and the flags below override both.
    #[arg(long, global = true, env = "EXPORT_CORE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SQLite job store (also holds the audit log unless --audit-log is given) [default:
    /// ./export-core.db].
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// PostgreSQL job store instead of SQLite (postgres://user@host:port/db).
    #[arg(long, global = true)]
    pub pg_url: Option<String>,
    /// PostgreSQL schema holding the tables (default: the connection's search path).
    #[arg(long, global = true)]
    pub pg_schema: Option<String>,
    /// Where finished files are: file://DIR (relative: file://./exports), memory:// or
    /// s3://bucket/prefix [default: file://./exports].
    #[arg(long, global = true)]
    pub storage: Option<String>,
    /// Write the audit log to this JSON Lines file instead of the job database.
    #[arg(long, global = true, value_name = "PATH.jsonl")]
    pub audit_log: Option<PathBuf>,
    /// Set by commands that only read: a missing SQLite database is then an error (exit 2),
    /// not a new empty one.
    #[arg(skip)]
    pub must_exist: bool,
}

impl BackendArgs {
    /// The configuration: defaults, the file, the environment, then the flags.
    pub fn config(&self) -> Result<EngineConfig> {
        let config = match &self.config {
            Some(path) => EngineConfig::from_file(path)?,
            None => EngineConfig::default(),
        };
        let mut config = config.with_env()?;
        if let Some(db) = &self.db {
            config.job_store.url = format!("sqlite://{}", db.display());
        }
        if let Some(url) = &self.pg_url {
            config.job_store.url = url.clone();
        }
        if let Some(schema) = &self.pg_schema {
            config.job_store.schema = Some(schema.clone());
        }
        if let Some(storage) = &self.storage {
            config.storage.url = storage.clone();
        }
        if let Some(path) = &self.audit_log {
            config.audit.jsonl = Some(path.clone());
        }
        config.job_store.must_exist |= self.must_exist;
        Ok(config)
    }

    /// The engine on [`BackendArgs::config`], after `adjust` applied a command's own flags.
    pub fn open_with(&self, adjust: impl FnOnce(&mut EngineConfig)) -> Result<Engine> {
        let mut config = self.config()?;
        adjust(&mut config);
        Engine::open(config)
    }

    /// The engine on [`BackendArgs::config`].
    pub fn open(&self) -> Result<Engine> {
        self.open_with(|_| {})
    }
}
