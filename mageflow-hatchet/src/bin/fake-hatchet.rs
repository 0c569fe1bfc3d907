//! Runs the fake Hatchet engine standalone.
//!
//! Usage: `fake-hatchet [PORT] [REST_PORT]` (defaults 7077 and 8888). Prints the addresses and a
//! token (its `server_url` is the REST port), then serves
//! until Ctrl-C. Point a client at it with:
//! `HATCHET_CLIENT_TOKEN=<token> HATCHET_CLIENT_TLS_STRATEGY=none`.

use mageflow_hatchet::fake::{FakeConfig, FakeHatchet};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port_arg = |n: usize, default: u16| -> Result<u16, String> {
        match std::env::args().nth(n) {
            Some(arg) => arg.parse::<u16>().map_err(|_| format!("port {arg:?} is not a number between 0 and 65535")),
            None => Ok(default),
        }
    };
    let (port, rest_port) = (port_arg(1, 7077)?, port_arg(2, 8888)?);
    let fake = FakeHatchet::start(FakeConfig { port, rest_port, ..FakeConfig::default() }).await?;
    println!("fake Hatchet engine listening on {} (gRPC) and {} (REST)", fake.addr(), fake.server_url());
    println!("export HATCHET_CLIENT_TOKEN={}", fake.token());
    println!("export HATCHET_CLIENT_TLS_STRATEGY=none");
    println!("# mageflow keeps its state in Redis, shared by every worker and client:");
    println!("# export REDIS_URL=redis://127.0.0.1:6379");
    tokio::signal::ctrl_c().await?;
    fake.shutdown().await;
    Ok(())
}
