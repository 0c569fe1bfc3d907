//! The client's builders: chains and swarms of differently typed tasks need no conversions, and handles are typed by
//! kind (a swarm's handle adds items and closes).
#![deny(warnings)]

mod tasks;

use mageflow::{Handle, Mageflow, Outcome, SwarmKind, TaskKind};
use serde_json::Value;
use tasks::*;

#[allow(dead_code)]
async fn builders(client: Mageflow) -> mageflow::Result<()> {
    // a tuple of different tasks, an array of one, a Vec of nodes
    let _ = client.chain((client.sign(charge), client.sign(audit), client.sign(record)));
    let _ = client.swarm([client.sign(audit), client.sign(audit)]);
    let _ = client.swarm((client.sign(audit), client.chain((client.sign(audit), client.sign(record)))));
    let task: Handle<Order, Receipt, TaskKind> = client.create(client.sign(charge)).await?;
    let _ = task.status().await?;
    let swarm: Handle<Value, Vec<Outcome>, SwarmKind> = client.create(client.swarm([client.sign(audit)]).open()).await?;
    swarm.add((client.sign(audit), client.sign(audit))).await?;
    swarm.close().await?;
    let by_id = client.swarm_handle(swarm.id().clone());
    by_id.add([client.sign(audit)]).await?;
    Ok(())
}

fn main() {}
