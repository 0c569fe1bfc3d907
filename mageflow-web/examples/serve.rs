//! Serves the web view of the flows in the Redis at `REDIS_URL` (`redis://127.0.0.1:6379` by default).
//!
//! ```text
//! cargo run -p mageflow-web --example serve
//! ```
//!
//! Then open <http://127.0.0.1:8642/>. Environment variables: `MAGEFLOW_PREFIX` (the key prefix, `mageflow` by
//! default), `MAGEFLOW_WEB_BIND` (`127.0.0.1:8642`), `MAGEFLOW_WEB_TOKEN` (the token lifecycle actions need;
//! required to bind another address), `MAGEFLOW_WEB_READ_ONLY=1` (no lifecycle actions).
//!
//! This process runs no task handlers. A flow that is resumed here has its runs recorded in the store's outbox for
//! the workers, whose recovery sweep dispatches them (every 30 s by default, for runs older than 60 s).

use std::net::SocketAddr;
use std::time::Duration;

use mageflow::Mageflow;
use mageflow::backend::HandOffBackend;
use mageflow_web::{Server, WebOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = std::env::var("MAGEFLOW_PREFIX").unwrap_or_else(|_| "mageflow".to_owned());
    let client = Mageflow::builder()
        .redis_url(url)
        .key_prefix(prefix)
        // it runs nothing: runs a lifecycle action restarts wait in the outbox for the workers' recovery sweep
        .backend(HandOffBackend)
        .recovery(None, Duration::ZERO)
        .build()
        .await?;

    let mut options = WebOptions::new();
    if let Ok(bind) = std::env::var("MAGEFLOW_WEB_BIND") {
        let bind: SocketAddr = bind.parse().map_err(|e| format!("MAGEFLOW_WEB_BIND=`{bind}`: {e}"))?;
        options = options.bind(bind);
    }
    if let Ok(token) = std::env::var("MAGEFLOW_WEB_TOKEN") {
        options = options.token(token);
    }
    options = options.read_only(std::env::var("MAGEFLOW_WEB_READ_ONLY").is_ok_and(|v| v == "1" || v == "true"));

    let server = Server::bind(client, options).await?;
    println!("mageflow web view on {} (Ctrl-C stops it)", server.url());
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
