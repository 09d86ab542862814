//! `export-core jobs ...`: the export API (create, list, show, status, cancel, download,
//! delete) from the command line, acting as a principal, against the SQLite default store or
//! PostgreSQL.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use export_core::engine::Engine;
use export_core::job::ListQuery;
use export_core::output::AtomicFile;
use export_core::request::ExportRequest;
use export_core::schema::trip;
use export_core::service::{Principal, Scope, parse_job_id};
use export_core::{ExportError, Result};
use sha2::{Digest, Sha256};

use crate::backend::BackendArgs;
use crate::request_args::RequestArgs;

const ALL_SCOPES: &str = "export.create,export.list,export.read,export.status,export.cancel,export.download,export.delete";

#[derive(Args)]
pub struct JobsArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Act as this user (required).
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,
    #[command(flatten)]
    who: PrincipalArgs,
    /// Scopes of the principal (comma-separated; READ_EXPORTS and WRITE_EXPORTS accepted).
    #[arg(long, global = true, default_value = ALL_SCOPES)]
    scopes: String,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Validate a request and create a pending job; prints its id.
    Create(Box<CreateArgs>),
    /// List your jobs, newest first.
    List(ListArgs),
    /// Print a job as JSON.
    Show(IdArg),
    /// Print a job's status, progress and error as JSON.
    Status(IdArg),
    /// Cancel a job.
    Cancel(IdArg),
    /// Save a succeeded job's file (written atomically).
    Download(DownloadArgs),
    /// Delete a job and its file.
    Delete(IdArg),
    /// Print a signed download URL (object storage only).
    Url(UrlArgs),
}

#[derive(Args)]
struct UrlArgs {
    /// The job id.
    id: String,
    /// Seconds the link stays valid (default 3600; never beyond the file's retention).
    #[arg(long)]
    expires_in: Option<u64>,
}

#[derive(Args)]
struct CreateArgs {
    /// The request as JSON, inline (`{...}`), from a file or `-` for standard input (instead
    /// of the flags). Unknown keys are refused.
    #[arg(long, value_name = "JSON|FILE|-")]
    request_json: Option<String>,
    #[command(flatten)]
    request: RequestArgs,
}

#[derive(Args)]
struct ListArgs {
    /// Only jobs in this status.
    #[arg(long)]
    status: Option<String>,
    /// Jobs per page.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after this cursor (printed under the previous page).
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Args)]
struct IdArg {
    /// The job id.
    id: String,
}

#[derive(Args)]
struct DownloadArgs {
    /// The job id.
    id: String,
    /// Where to save the file.
    #[arg(long)]
    out: PathBuf,
}

/// The organisation of the acting principal and the administrator scope, shared by `jobs`,
/// `schedules` and `platforms`.
#[derive(Args, Clone, Default)]
pub struct PrincipalArgs {
    /// The user's organisation (with the user, the owner of what they create).
    #[arg(long, global = true)]
    pub org: Option<String>,
    /// The organisation is this carpool operator (id as in `filters.operators`): its users
    /// export only its trips. The organisation defaults to `operator-ID`.
    #[arg(long, global = true, value_name = "ID", conflicts_with = "territory")]
    pub operator: Option<i64>,
    /// The organisation is this territory (id as in `filters.territories`): its users export
    /// only its trips. The organisation defaults to `territory-ID`.
    #[arg(long, global = true, value_name = "ID")]
    pub territory: Option<String>,
    /// Add the administrator scope `export.admin` (any data, other owners).
    #[arg(long, global = true)]
    pub admin: bool,
}

impl PrincipalArgs {
    /// The principal `user` with these organisation flags and `scopes`.
    pub fn principal(&self, user: &str, scopes: &str) -> Result<Principal> {
        let org = self
            .org
            .clone()
            .or_else(|| self.operator.map(|id| format!("operator-{id}")))
            .or_else(|| self.territory.as_ref().map(|id| format!("territory-{id}")));
        let mut principal = Principal::new(user, org.as_deref()).with_scopes(scopes)?;
        if let Some(id) = self.operator {
            principal = principal.operator(id);
        }
        if let Some(id) = &self.territory {
            principal = principal.territory(id.clone());
        }
        if self.admin {
            principal = principal.with_scope(Scope::Admin);
        }
        Ok(principal)
    }
}

pub fn run(mut args: JobsArgs) -> Result<()> {
    // Only `create` may start a new database; the others look for existing jobs.
    args.backend.must_exist = !matches!(args.command, JobsCommand::Create(_));
    let user = args
        .as_user
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ExportError::request("as", "--as USER is required"))?;
    let principal = args.who.principal(&user, &args.scopes)?;
    let engine = open_engine(&args)?;
    let service = engine.service();
    match args.command {
        JobsCommand::Create(create) => {
            let request = match &create.request_json {
                Some(source) => read_request(source)?,
                None => create.request.to_request(
                    create
                        .request
                        .is_trip()
                        .then_some(trip::default_period as _),
                )?,
            };
            let job = service.create(&principal, request)?;
            println!("{}", job.id);
        }
        JobsCommand::List(list) => {
            let mut query = ListQuery::default().limit(list.limit);
            if let Some(status) = &list.status {
                query = query.status(status.parse()?);
            }
            if let Some(cursor) = list.cursor {
                query = query.after(cursor);
            }
            let page = service.list(&principal, &query)?;
            println!(
                "{:<36}  {:<9}  {:<6}  {:<9}  {:<20}  ROWS",
                "ID", "STATUS", "FORMAT", "AUDIENCE", "CREATED"
            );
            for job in &page.jobs {
                println!(
                    "{:<36}  {:<9}  {:<6}  {:<9}  {:<20}  {}",
                    job.id,
                    job.status.to_string(),
                    job.request.format.to_string(),
                    job.request
                        .audience
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    job.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    job.progress.rows_done
                );
            }
            if let Some(cursor) = page.next_cursor {
                println!("next cursor: {cursor}");
            }
        }
        JobsCommand::Show(id) => {
            let job = service.get(&principal, parse_job_id(&id.id)?)?;
            print_json(&job)?;
        }
        JobsCommand::Status(id) => {
            let view = service.status(&principal, parse_job_id(&id.id)?)?;
            print_json(&view)?;
        }
        JobsCommand::Cancel(id) => {
            let job = service.cancel(&principal, parse_job_id(&id.id)?)?;
            println!("{} {}", job.id, job.status);
        }
        JobsCommand::Download(download) => {
            let file = service.download(&principal, parse_job_id(&download.id)?)?;
            let written = save(file.reader, &file.sha256, &download.out)?;
            println!(
                "{}: {} bytes ({} rows, offered as {})",
                download.out.display(),
                written,
                file.rows,
                file.file_name
            );
        }
        JobsCommand::Url(url) => {
            let expires = url.expires_in.map(std::time::Duration::from_secs);
            match service.download_url(&principal, parse_job_id(&url.id)?, expires)? {
                Some(link) => println!("{link}"),
                None => {
                    return Err(ExportError::request(
                        "storage",
                        "this storage has no download URLs (use `jobs download`)",
                    ));
                }
            }
        }
        JobsCommand::Delete(id) => {
            let id = parse_job_id(&id.id)?;
            service.delete(&principal, id)?;
            println!("{id} deleted");
        }
    }
    Ok(())
}

fn open_engine(args: &JobsArgs) -> Result<Engine> {
    args.backend.open()
}

pub(crate) fn read_request(source: &str) -> Result<ExportRequest> {
    read_json(source, "an export request")
}

/// Reads JSON given inline (text starting with `{`), from a file, or `-` (standard input),
/// naming the source in errors. Unknown keys are refused (the message names the key and the
/// valid ones).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(source: &str, what: &str) -> Result<T> {
    let mut text = String::new();
    if source.trim_start().starts_with('{') {
        text = source.to_string();
    } else if source == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(ExportError::from)?;
    } else {
        text = std::fs::read_to_string(source).map_err(|e| ExportError::io(source, e))?;
    }
    serde_json::from_str(&text).map_err(|e| ExportError::InvalidInput {
        source_name: if source == "-" {
            "stdin".into()
        } else if source.trim_start().starts_with('{') {
            "inline JSON".into()
        } else {
            source.into()
        },
        line: Some(e.line() as u64),
        reason: format!("not {what}: {e}"),
    })
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ExportError::Encode {
        format: "json",
        reason: e.to_string(),
    })?;
    println!("{text}");
    Ok(())
}

/// Streams `reader` into a temporary file beside `out`, checks the SHA-256, then renames it
/// (an [`AtomicFile`]: only a missing path or a regular file is replaced).
fn save(mut reader: impl Read, sha256: &str, out: &Path) -> Result<u64> {
    let mut tmp = AtomicFile::create(out)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| ExportError::io(out, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| ExportError::io(out, e))?;
        total += n as u64;
    }
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(ExportError::Storage(format!(
            "downloaded file has SHA-256 {actual}, expected {sha256}"
        )));
    }
    tmp.commit()?;
    Ok(total)
}
