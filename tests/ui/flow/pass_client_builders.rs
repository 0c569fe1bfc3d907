//! The client's builders: chains and swarms of differently typed tasks need no conversions, every flow is a `Flow`
//! that the client runs, and handles are typed by kind (a swarm's handle adds items and closes).
#![deny(warnings)]

mod tasks;

use mageflow::{Chain, Flow, Handle, Mageflow, Outcome, Swarm, SwarmKind, TaskKind, flow};
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

    // one value type: the client's flows, `flow!` flows and JSON flows run the same way, and compose
    let signed: Flow<Order, Receipt, TaskKind> = client.sign(charge).on_error(client.sign(alert));
    let _: Receipt = client.run(signed, Order { id: 1, cents: 5 }).await?;
    let chain: Chain<Value, Value> = client.chain((client.sign(charge), client.sign(audit))).name("checkout");
    let _: Value = client.run(chain, Value::Null).await?;
    let swarm: Swarm<Value> = client.swarm([client.sign(audit)]).max_concurrency(2).stop_after_failures(1);
    let handle: Handle<Value, Vec<Outcome>, SwarmKind> = client.run_no_wait(swarm, Value::Null).await?;
    handle.close().await?;
    let typed: Flow<Order, u64> = flow!(charge >> { client.sign(audit) });
    let _: u64 = client.run(typed, Order { id: 1, cents: 5 }).await?;
    let many = Flow::swarm((0..3).map(|_| client.sign(audit))).max_concurrency(2);
    let _: Vec<u64> = client.run(many, Receipt { order: 1, cents: 5 }).await?;
    let from_json = Flow::from_json(&serde_json::json!({"chain": ["charge", "audit"]}))?;
    let _ = client.create(from_json).await?;
    Ok(())
}

fn main() {}
