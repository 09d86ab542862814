//! A Rust service that mounts export-core's HTTP API beside its own routes.
//!
//! ```text
//! cargo run -p export-core --features http --example http_service
//! curl -H 'Authorization: Bearer demo' 'http://127.0.0.1:3000/exports/api/v1/exports/stream/csv/products?fields=id,sku'
//! ```

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use export_core::engine::{Engine, EngineConfig};
use export_core::http::{self, BearerTokens};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded defaults in a scratch directory, with the sample catalogue.
    let dir = tempfile::tempdir()?;
    let mut config = EngineConfig::default();
    config.job_store.url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    config.storage.url = format!("file://{}", dir.path().join("files").display());
    config.sources.catalog_products = Some(10_000);
    let engine = Engine::open(config)?;
    let tokens = BearerTokens::from_json(
        r#"{"demo": {"user": "demo", "organisation": "shop-1", "scopes": "READ_EXPORTS,WRITE_EXPORTS"}}"#,
    )?;

    // Exports run in the background; dropping the handle stops the worker.
    let _worker = engine.start_worker()?;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest("/exports", http::router(engine, Arc::new(tokens)));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(())
}
