//! `export-core serve`: both seeds' HTTP APIs ([`export_core::http`]) on the engine the flags
//! open (SQLite and local files by default), with a worker, the scheduler and the retention
//! purge running beside them. SIGTERM or SIGINT stops accepting requests, lets the requests
//! in flight end, and stops the background loops: a running export is released back to
//! pending (never half-published) and another worker, or the next start, runs it again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, ValueEnum};
use export_core::http::{self, BearerTokens, DownloadMode, HttpConfig};
use export_core::{ExportError, Result};

use crate::backend::BackendArgs;
use crate::worker_cmd::{SHUTDOWN, install_signal_handlers};

#[derive(Clone, Copy, ValueEnum)]
enum Downloads {
    /// Through this server (ranges, Content-Length).
    Stream,
    /// A redirect to a signed link when the storage can sign one (S3).
    Redirect,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Bearer tokens: a JSON or TOML file of token -> {user, organisation, scopes, operator,
    /// territory}.
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,
    /// Products of the sample catalogue datasets (products, suppliers, categories,
    /// catalogue) [default: the configuration's, else 10000].
    #[arg(long)]
    catalog_products: Option<u64>,
    /// How finished files are downloaded.
    #[arg(long, value_enum, default_value = "stream")]
    downloads: Downloads,
    /// How long a signed download link is valid, in seconds (with --downloads redirect).
    #[arg(long, default_value_t = 900)]
    link_expiry_seconds: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Workers running export jobs in this process (0: none; run `export-core worker` apart).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Seconds between retention purges (0: no purge in this process).
    #[arg(long, default_value_t = 3600)]
    purge_seconds: u64,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    no_scheduler: bool,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let tokens = BearerTokens::from_file(&args.tokens)?;
    if tokens.is_empty() {
        return Err(ExportError::config(
            "tokens",
            "the token file holds no token",
        ));
    }
    let engine = args.backend.open_with(|config| {
        if let Some(n) = args.catalog_products {
            config.sources.catalog_products = Some(n);
        } else if config.sources.catalog_products.is_none() {
            config.sources.catalog_products = Some(10_000);
        }
    })?;
    let purger = engine.purger()?;
    install_signal_handlers();

    let mut background = Vec::new();
    for _ in 0..args.workers {
        let worker = engine.worker();
        background.push(spawn("worker", move || {
            worker.run_forever(&SHUTDOWN);
        })?);
    }
    if !args.no_scheduler {
        let scheduler = engine.scheduler();
        background.push(spawn("scheduler", move || {
            scheduler.run_forever(&SHUTDOWN);
        })?);
    }
    if args.purge_seconds > 0 {
        let every = Duration::from_secs(args.purge_seconds);
        background.push(spawn("purge", move || {
            while !SHUTDOWN.load(Ordering::SeqCst) {
                match purger.purge() {
                    Ok(report) => tracing::info!(?report, "purge"),
                    Err(e) => tracing::error!(error = %e, "purge failed; trying again later"),
                }
                sleep_unless_shutdown(every);
            }
        })?);
    }

    let mut config = HttpConfig::default();
    config.body_limit = args.body_limit;
    config.link_expiry = Duration::from_secs(args.link_expiry_seconds.max(1));
    config.downloads = match args.downloads {
        Downloads::Stream => DownloadMode::Stream,
        Downloads::Redirect => DownloadMode::Redirect,
    };
    let app = http::router_with(engine, Arc::new(tokens), config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("export-core-http")
        .enable_all()
        .build()
        .map_err(ExportError::from)?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| {
                ExportError::config("listen", format!("cannot listen on {}: {e}", args.listen))
            })?;
        let addr = listener.local_addr().map_err(ExportError::from)?;
        println!("listening on http://{addr}");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                while !SHUTDOWN.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
            .map_err(ExportError::from)
    });
    // Streaming bodies still running end with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(5));
    SHUTDOWN.store(true, Ordering::SeqCst);
    for thread in background {
        let _ = thread.join();
    }
    served?;
    println!("stopped");
    Ok(())
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("export-core-{name}"))
        .spawn(work)
        .map_err(ExportError::from)
}

fn sleep_unless_shutdown(total: Duration) {
    let until = std::time::Instant::now() + total;
    while !SHUTDOWN.load(Ordering::SeqCst) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}
