//! Runs the fake Hatchet engine standalone.
//!
//! Usage: `fake-hatchet [PORT]` (default 7077). Prints the address and a token, then serves
//! until Ctrl-C. Point a client at it with:
//! `HATCHET_CLIENT_TOKEN=<token> HATCHET_CLIENT_TLS_STRATEGY=none`.

use mageflow_hatchet::fake::{FakeConfig, FakeHatchet};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u16>().map_err(|_| format!("port {arg:?} is not a number between 0 and 65535"))?,
        None => 7077,
    };
    let fake = FakeHatchet::start(FakeConfig { port, ..FakeConfig::default() }).await?;
    println!("fake Hatchet engine listening on {}", fake.addr());
    println!("export HATCHET_CLIENT_TOKEN={}", fake.token());
    println!("export HATCHET_CLIENT_TLS_STRATEGY=none");
    println!("# mageflow keeps its state in Redis, shared by every worker and client:");
    println!("# export REDIS_URL=redis://127.0.0.1:6379");
    tokio::signal::ctrl_c().await?;
    fake.shutdown().await;
    Ok(())
}
