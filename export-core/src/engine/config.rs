//! [`EngineConfig`]: everything an [`Engine`](super::Engine) is built from, read from a TOML or
//! JSON file, environment variables, or code.
//!
//! Layers, each overriding the one before: the defaults (an embedded engine: SQLite in
//! `./export-core.db`, files in `./exports`), a file ([`EngineConfig::from_file`]), environment
//! variables ([`EngineConfig::with_env`]), then whatever the host sets in code. Every layer is
//! strict: an unknown key, in a file or in a variable's name, is an error naming it, so a typo
//! never silently falls back to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration;
use crate::dataset::{DatabaseConfig, DatasetConfig};
use crate::error::{ExportError, Result};

/// The prefix of the environment variables read by [`EngineConfig::with_env`]; sections and keys
/// are separated by double underscores: `EXPORT_CORE__JOB_STORE__URL`.
pub const ENV_PREFIX: &str = "EXPORT_CORE__";

/// The configuration of an [`Engine`](super::Engine).
///
/// # Examples
///
/// From TOML, with every other setting at its default:
///
/// ```
/// use export_core::engine::EngineConfig;
/// let config = EngineConfig::from_toml_str(r#"
///     time_zone = "Europe/Paris"
///     [job_store]
///     url = "sqlite://jobs.db"
///     [retention]
///     personal = "7d"
///     [limits]
///     creates_per_user = 10
///     window = "1m"
/// "#)?;
/// assert_eq!(config.job_store.url, "sqlite://jobs.db");
/// assert_eq!(config.storage.url, "file://./exports");
/// assert_eq!(config.limits.window.as_secs(), 60);
/// # Ok::<(), export_core::ExportError>(())
/// ```
///
/// A typo is an error that names the key:
///
/// ```
/// use export_core::engine::EngineConfig;
/// let err = EngineConfig::from_toml_str("[job_store]\nurll = \"x\"").unwrap_err();
/// assert_eq!(err.code(), "CONFIG");
/// assert!(err.to_string().contains("unknown field `urll`"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// The IANA time zone of periods and schedules given without one (default `Europe/Paris`).
    pub time_zone: String,
    /// Where jobs, schedules and platforms are kept.
    pub job_store: JobStoreConfig,
    /// Where finished files are kept.
    pub storage: StorageConfig,
    /// Where audit events go.
    pub audit: AuditConfig,
    /// How long files are kept.
    pub retention: RetentionConfig,
    /// Who may export what.
    pub access: AccessConfig,
    /// How opendata files pseudonymise what they publish.
    pub privacy: PrivacyConfig,
    /// Rate limits and attempts.
    pub limits: LimitsConfig,
    /// Workers handed out by [`Engine::worker`](super::Engine::worker).
    pub worker: WorkerSettings,
    /// The scheduler handed out by [`Engine::scheduler`](super::Engine::scheduler).
    pub scheduler: SchedulerSettings,
    /// The data workers export when the host plugs no source provider of its own.
    pub sources: SourcesConfig,
    /// The I/O runtime the engine starts when the host gives none.
    pub runtime: RuntimeConfig,
    /// Databases the datasets' queries run against, by name (`[databases.NAME]`).
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// Named datasets (`[datasets.NAME]`): a query, a Parquet or an Arrow file each;
    /// `[datasets.trip]` replaces the sample trips as the trip schema's data.
    pub datasets: BTreeMap<String, DatasetConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            time_zone: "Europe/Paris".to_string(),
            job_store: JobStoreConfig::default(),
            storage: StorageConfig::default(),
            audit: AuditConfig::default(),
            retention: RetentionConfig::default(),
            access: AccessConfig::default(),
            privacy: PrivacyConfig::default(),
            limits: LimitsConfig::default(),
            worker: WorkerSettings::default(),
            scheduler: SchedulerSettings::default(),
            sources: SourcesConfig::default(),
            runtime: RuntimeConfig::default(),
            databases: BTreeMap::new(),
            datasets: BTreeMap::new(),
        }
    }
}

/// The job store: SQLite (embedded default) or PostgreSQL (many workers on many hosts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobStoreConfig {
    /// `sqlite://PATH` (relative to the current directory; `sqlite:///abs/path` for an absolute
    /// one), a plain path (SQLite), or `postgres://user:password@host:port/db` (feature
    /// `postgres`). Default `sqlite://./export-core.db`.
    pub url: String,
    /// The PostgreSQL schema holding the tables (default: the connection's search path).
    pub schema: Option<String>,
    /// Most PostgreSQL connections in the pool (default 4).
    pub pool_size: usize,
    /// Longest wait for a free pooled connection before a `STORE` error (default 10 s).
    #[serde(with = "duration")]
    pub wait_timeout: Duration,
    /// Connections older than this are replaced (default 30 min).
    #[serde(with = "duration::option")]
    pub max_lifetime: Option<Duration>,
    /// TLS to PostgreSQL: `disable`, `prefer`, `require`, `verify-ca` or `verify-full` (default
    /// `prefer`; what each checks: `db::PgOptions::ssl_mode`, feature `postgres`).
    pub tls: String,
    /// A PEM file of CA certificates to trust for `verify-full` (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Refuse to create a missing SQLite file (for commands that only read; default false).
    pub must_exist: bool,
}

impl Default for JobStoreConfig {
    fn default() -> Self {
        JobStoreConfig {
            url: "sqlite://./export-core.db".to_string(),
            schema: None,
            pool_size: 4,
            wait_timeout: Duration::from_secs(10),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            tls: "prefer".to_string(),
            ca_file: None,
            must_exist: false,
        }
    }
}

/// Which database a [`JobStoreConfig::url`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl JobStoreConfig {
    /// Where the URL points.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] on `job_store.url` for an empty URL or an unknown scheme.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use export_core::engine::{JobStoreConfig, StoreLocation};
    /// let mut config = JobStoreConfig::default();
    /// assert_eq!(config.location()?, StoreLocation::Sqlite(PathBuf::from("./export-core.db")));
    /// config.url = "sqlite:///var/lib/exports.db".into();
    /// assert_eq!(config.location()?, StoreLocation::Sqlite(PathBuf::from("/var/lib/exports.db")));
    /// config.url = "mysql://db".into();
    /// assert_eq!(config.location().unwrap_err().code(), "CONFIG");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn location(&self) -> Result<StoreLocation> {
        let url = self.url.trim();
        let bad = |reason: String| ExportError::config("job_store.url", reason);
        if url.is_empty() {
            return Err(bad("is empty".into()));
        }
        match url.split_once("://") {
            None => Ok(StoreLocation::Sqlite(PathBuf::from(url))),
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "sqlite" if rest.is_empty() => Err(bad(format!("`{url}` names no file"))),
                "sqlite" => Ok(StoreLocation::Sqlite(PathBuf::from(rest))),
                "postgres" | "postgresql" => Ok(StoreLocation::Postgres(url.to_string())),
                other => Err(bad(format!(
                    "`{other}://` is not a job store; use sqlite://PATH or postgres://..."
                ))),
            },
        }
    }
}

/// Where finished files are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `file://DIR` (`file://./exports` is relative to the current directory), `memory://`, or
    /// `s3://bucket/prefix` (feature `s3`). Default `file://./exports`.
    pub url: String,
    /// Object-store options (`region`, `endpoint`, `access_key_id`, ...), see
    /// [`crate::storage::open_storage`].
    pub options: BTreeMap<String, String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: "file://./exports".to_string(),
            options: BTreeMap::new(),
        }
    }
}

/// Where audit events go, and how they are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// A JSON Lines file instead of the job store's database (default: beside the jobs).
    pub jsonl: Option<PathBuf>,
    /// The secret keying the pseudonyms of purged jobs' actors (at least 16 bytes). Without
    /// it each purge draws a random one, so pseudonyms of two purges cannot be linked.
    pub secret: Option<String>,
    /// Audit events older than this are deleted by the purge (default: kept).
    #[serde(with = "duration::option")]
    pub keep_for: Option<Duration>,
}

/// How opendata files pseudonymise what they publish (`[privacy]`).
///
/// # Examples
///
/// ```
/// use export_core::engine::EngineConfig;
/// let config = EngineConfig::from_toml_str("[privacy]\ntrip_id_key = \"a stable 32-byte opendata secret\"")?;
/// assert_eq!(config.privacy.trip_id_key.as_deref(), Some("a stable 32-byte opendata secret"));
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// The secret keying opendata trip ids (HMAC-SHA256 of the operator's trip id), at least
    /// 16 bytes. Keep it secret and stable: a trip then has the same id in every monthly file
    /// and whatever the source. Without it each export draws a random key, so the ids of two
    /// files cannot be linked.
    pub trip_id_key: Option<String>,
}

/// How long files are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Files of personal-data exports (default 7 days).
    #[serde(with = "duration")]
    pub personal: Duration,
    /// Files of opendata exports (default: kept).
    #[serde(with = "duration::option")]
    pub opendata: Option<Duration>,
    /// An upload without a write for this long is swept by the purge (default 1 day).
    #[serde(with = "duration")]
    pub abandoned_uploads: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            personal: Duration::from_secs(7 * 86_400),
            opendata: None,
            abandoned_uploads: Duration::from_secs(86_400),
        }
    }
}

/// The access policy by name; a host plugs its own with
/// [`EngineBuilder::access_policy`](super::EngineBuilder::access_policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessPolicyName {
    /// The registry's rules: each schema's own
    /// [`SchemaRules::authorize`](crate::schema::rules::SchemaRules::authorize) (for the trip
    /// schema, the registry's access table).
    #[default]
    Registry,
    /// Scopes only, no data rule ([`crate::access::AllowAll`]).
    AllowAll,
}

/// Who may export what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// `registry` (default) or `allow_all`.
    pub policy: AccessPolicyName,
}

/// Rate limits and attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// At most this many job creations per user per [`window`](Self::window) (default 100;
    /// `null` for no limit).
    pub creates_per_user: Option<u32>,
    /// The rate limit's window (default 5 min).
    #[serde(with = "duration")]
    pub window: Duration,
    /// Attempts each job gets before it fails for good (default 3).
    pub max_attempts: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            creates_per_user: Some(100),
            window: Duration::from_secs(300),
            max_attempts: crate::job::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Settings of the workers an engine hands out (see [`crate::worker::WorkerConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// The worker id (default `<hostname>-<pid>-<random>`, a new one per worker).
    pub id: Option<String>,
    /// How long a claim or heartbeat holds a job (default 60 s).
    #[serde(with = "duration")]
    pub lease: Duration,
    /// Sleep when the queue is empty (default 1 s).
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// First retry delay of a transiently failed job (default 30 s), doubled per attempt.
    #[serde(with = "duration")]
    pub retry_delay: Duration,
    /// Longest retry delay (default 1 h).
    #[serde(with = "duration")]
    pub max_retry_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let d = crate::worker::WorkerConfig::default();
        WorkerSettings {
            id: None,
            lease: d.lease.to_std().unwrap_or(Duration::from_secs(60)),
            poll_interval: d.poll_interval,
            retry_delay: d.retry_delay.to_std().unwrap_or(Duration::from_secs(30)),
            max_retry_delay: d
                .max_retry_delay
                .to_std()
                .unwrap_or(Duration::from_secs(3600)),
        }
    }
}

/// Settings of the scheduler an engine hands out (see [`crate::schedule::SchedulerConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// A name in messages (default `scheduler-<pid>`).
    pub id: Option<String>,
    /// Most due schedules fired per tick (default 100).
    pub batch: usize,
    /// Longest sleep between ticks (default 10 s).
    #[serde(with = "duration")]
    pub poll_interval: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            id: None,
            batch: 100,
            poll_interval: Duration::from_secs(10),
        }
    }
}

/// The built-in sample trips that workers export when the host plugs no source provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// Sample trips generated per job (default 100 000).
    pub sample_rows: u64,
    /// The generator's seed (default 42).
    pub sample_seed: u64,
    /// When set, the sample catalogue datasets (`products` with this many products,
    /// `suppliers`, `categories`, `catalogue`: [`crate::dataset::Datasets::sample_catalog`])
    /// are registered (default: none; `export-core serve` sets 10 000).
    pub catalog_products: Option<u64>,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            sample_rows: 100_000,
            sample_seed: 42,
            catalog_products: None,
        }
    }
}

/// The I/O runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Threads of the runtime the engine starts for its I/O (default 2).
    pub io_threads: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { io_threads: 2 }
    }
}

impl EngineConfig {
    /// Parses TOML over the defaults.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] naming the key for bad TOML, an unknown key or a bad value.
    pub fn from_toml_str(text: &str) -> Result<EngineConfig> {
        let value: toml::Value =
            toml::from_str(text).map_err(|e| ExportError::config("config", e.message()))?;
        let value = serde_json::to_value(value)
            .map_err(|e| ExportError::config("config", e.to_string()))?;
        EngineConfig::from_value(value)
    }

    /// Parses JSON over the defaults.
    ///
    /// # Errors
    ///
    /// As [`EngineConfig::from_toml_str`].
    pub fn from_json_str(text: &str) -> Result<EngineConfig> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ExportError::config("config", e.to_string()))?;
        EngineConfig::from_value(value)
    }

    /// Reads a `.toml` or `.json` file over the defaults (another extension is read as TOML).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] if the file cannot be read, else as [`EngineConfig::from_toml_str`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<EngineConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ExportError::io(path, e))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            EngineConfig::from_json_str(&text)
        } else {
            EngineConfig::from_toml_str(&text)
        };
        parsed.map_err(|e| match e {
            ExportError::Config { field, reason } => {
                ExportError::config(field, format!("{reason} (in {})", path.display()))
            }
            e => e,
        })
    }

    /// Overrides settings from the process's environment variables named
    /// `EXPORT_CORE__SECTION__KEY` (see [`EngineConfig::with_vars`]).
    ///
    /// # Errors
    ///
    /// As [`EngineConfig::with_vars`].
    pub fn with_env(self) -> Result<EngineConfig> {
        self.with_vars(std::env::vars())
    }

    /// Overrides settings from `vars` whose name starts with [`ENV_PREFIX`]:
    /// `EXPORT_CORE__JOB_STORE__URL=postgres://...` sets `job_store.url`,
    /// `EXPORT_CORE__TIME_ZONE=UTC` sets `time_zone`, `EXPORT_CORE__STORAGE__OPTIONS__REGION`
    /// sets one object-store option. Values are read as the setting's type (`10`, `true`,
    /// `"5m"`); `null` clears an optional setting.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] naming the variable for an unknown setting or a bad value.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::engine::EngineConfig;
    /// let config = EngineConfig::default().with_vars([
    ///     ("EXPORT_CORE__JOB_STORE__POOL_SIZE", "16"),
    ///     ("EXPORT_CORE__RETENTION__PERSONAL", "3d"),
    ///     ("HOME", "/root"),
    /// ])?;
    /// assert_eq!(config.job_store.pool_size, 16);
    /// assert_eq!(config.retention.personal.as_secs(), 3 * 86_400);
    ///
    /// let err = EngineConfig::default()
    ///     .with_vars([("EXPORT_CORE__JOB_STORE__POOL_SIZ", "16")])
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("EXPORT_CORE__JOB_STORE__POOL_SIZ"), "{err}");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn with_vars<I, K, V>(self, vars: I) -> Result<EngineConfig>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut tree = serde_json::to_value(&self)
            .map_err(|e| ExportError::config("config", e.to_string()))?;
        let mut set_any = false;
        for (name, text) in vars {
            let name = name.as_ref();
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let text = text.as_ref();
            let typed = set_path(&mut tree, &path, text, false)
                .map_err(|reason| ExportError::config(name, reason))?;
            // Validate each variable alone so that the error names it; a value read as a
            // number or boolean for an optional text setting (`secret = 12345`) is text.
            let mut checked = EngineConfig::from_value(tree.clone());
            if checked.is_err() && typed {
                set_path(&mut tree, &path, text, true)
                    .map_err(|reason| ExportError::config(name, reason))?;
                checked = EngineConfig::from_value(tree.clone());
            }
            checked.map_err(|e| match e {
                ExportError::Config { reason, .. } => ExportError::config(name, reason),
                e => e,
            })?;
            set_any = true;
        }
        if !set_any {
            return Ok(self);
        }
        EngineConfig::from_value(tree)
    }

    /// Deserialises `value` over the defaults, naming the path of a bad key.
    fn from_value(value: Value) -> Result<EngineConfig> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "config".to_string()
            } else {
                path
            };
            ExportError::config(field, e.into_inner().to_string())
        })
    }
}

/// Sets `path` in `tree` to `text`, read as the type of the value already there: text for a
/// text setting (or when `as_text`), JSON (a number, a boolean, `null`) otherwise, falling back
/// to text. Returns whether the value was read as JSON.
fn set_path(
    tree: &mut Value,
    path: &[String],
    text: &str,
    as_text: bool,
) -> std::result::Result<bool, String> {
    let (last, parents) = path.split_last().ok_or("names no setting")?;
    let mut node = tree;
    for (depth, key) in parents.iter().enumerate() {
        node = match node {
            Value::Object(map) => match map.get_mut(key) {
                Some(child) => child,
                None => {
                    return Err(format!(
                        "`{}` is not a configuration section",
                        path[..=depth].join(".")
                    ));
                }
            },
            _ => return Err(format!("`{}` is not a section", path[..depth].join("."))),
        };
    }
    let Value::Object(map) = node else {
        return Err(format!("`{}` is not a section", parents.join(".")));
    };
    let json = match map.get(last) {
        Some(Value::String(_)) => None,
        _ if as_text => None,
        _ => serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array() && !v.is_string()),
    };
    let typed = json.is_some();
    map.insert(
        last.clone(),
        json.unwrap_or_else(|| Value::String(text.to_string())),
    );
    Ok(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_json_and_toml() {
        let config = EngineConfig::default();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(EngineConfig::from_json_str(&json).unwrap(), config);
        let toml = toml::to_string(&config).unwrap();
        assert_eq!(EngineConfig::from_toml_str(&toml).unwrap(), config);
    }

    #[test]
    fn bad_values_name_their_path() {
        let err = EngineConfig::from_toml_str("[retention]\npersonal = \"7 weeks\"").unwrap_err();
        assert!(err.to_string().contains("`retention.personal`"), "{err}");
        let err =
            EngineConfig::from_json_str(r#"{"limits":{"max_attempts":"three"}}"#).unwrap_err();
        assert!(err.to_string().contains("`limits.max_attempts`"), "{err}");
        let err = EngineConfig::from_json_str(r#"{"tyme_zone":"UTC"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `tyme_zone`"),
            "{err}"
        );
    }

    #[test]
    fn env_vars_override_and_typos_are_named() {
        let config = EngineConfig::default()
            .with_vars([
                ("EXPORT_CORE__TIME_ZONE", "UTC"),
                ("EXPORT_CORE__JOB_STORE__SCHEMA", "exports"),
                ("EXPORT_CORE__STORAGE__OPTIONS__REGION", "eu-west-3"),
                ("EXPORT_CORE__LIMITS__CREATES_PER_USER", "null"),
                ("EXPORT_CORE__AUDIT__SECRET", "12345"),
            ])
            .unwrap();
        assert_eq!(config.time_zone, "UTC");
        assert_eq!(config.job_store.schema.as_deref(), Some("exports"));
        assert_eq!(config.storage.options["region"], "eu-west-3");
        assert_eq!(config.limits.creates_per_user, None);
        // A numeric-looking secret stays text.
        assert_eq!(config.audit.secret.as_deref(), Some("12345"));
        for bad in ["EXPORT_CORE__JOBSTORE__URL", "EXPORT_CORE__WORKER__LEASE"] {
            let value = if bad.ends_with("LEASE") { "soon" } else { "x" };
            let err = EngineConfig::default()
                .with_vars([(bad, value)])
                .unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
