//! What a transition costs on a real Redis, counted on the connection: one script call (one round trip) per chain
//! step and per swarm item transition, one to begin each run, nothing else.

use mageflow::{Node, RedisStore};
use serde_json::json;

use crate::probe::*;
use crate::support::*;

async fn counting_client(server: &RedisServer) -> (mageflow::Mageflow, CountingStore<RedisStore>) {
    let store = CountingStore::new(RedisStore::connect(&server.url).await.unwrap());
    let client = register(mageflow::Mageflow::builder().store(store.clone())).build().await.unwrap();
    store.take();
    (client, store)
}

#[tokio::test]
async fn a_chain_step_costs_one_round_trip_to_transition_and_one_to_begin() {
    let server = RedisServer::start();
    let (client, store) = counting_client(&server).await;
    let steps: Vec<Node> = (0..20).map(|_| client.sign(add_one).into()).collect();
    let chain = client.chain(steps).create().await.unwrap();
    store.take();
    chain.start(json!({"tag": "cost-chain", "n": 0})).await.unwrap();
    let done = client.wait(chain.id(), Some(WAIT)).await.unwrap();
    assert_eq!(done.result, Some(json!({"tag": "cost-chain", "n": 20})));
    let counts = store.take();
    assert_eq!(counts.get("eval:batch"), Some(&1));
    assert_eq!(counts.get("eval:begin"), Some(&20), "one round trip to begin each step: {counts:?}");
    assert_eq!(counts.get("eval:succeed"), Some(&20), "one round trip per step transition: {counts:?}");
    let transitions: usize =
        counts.iter().filter(|(k, _)| k.starts_with("eval:") && *k != "eval:read").map(|(_, v)| v).sum();
    assert_eq!(transitions, 41, "nothing else is written: {counts:?}");
}

#[tokio::test]
async fn a_swarm_item_costs_one_round_trip_to_transition_and_one_to_begin() {
    let server = RedisServer::start();
    let (client, store) = counting_client(&server).await;
    let items: Vec<Node> = (0..100).map(|n| client.sign(add_one).arg("n", n).into()).collect();
    let swarm = client.swarm(items).max_concurrency(10).create().await.unwrap();
    store.take();
    swarm.start(json!({"tag": "cost-swarm"})).await.unwrap();
    let done = client.wait(swarm.id(), Some(WAIT)).await.unwrap();
    assert_eq!(done.swarm.unwrap().succeeded, 100);
    let counts = store.take();
    assert_eq!(counts.get("eval:batch"), Some(&1));
    assert_eq!(counts.get("eval:begin"), Some(&100), "{counts:?}");
    assert_eq!(counts.get("eval:succeed"), Some(&100), "one round trip per item, fills included: {counts:?}");
    let transitions: usize =
        counts.iter().filter(|(k, _)| k.starts_with("eval:") && *k != "eval:read").map(|(_, v)| v).sum();
    assert_eq!(transitions, 201, "no fill calls, no helper tasks: {counts:?}");
}
