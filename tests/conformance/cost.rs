//! What a transition costs on a real Redis, counted on the connection. On the local backend, the outcome of a run
//! also begins the run it dispatches next in this process, so a chain step or a swarm item costs one transition:
//! its outcome; only runs dispatched by something else (the first step, the first fill of a swarm) begin on their
//! own. Transitions are counted exactly (`op:`); under load several share one script call (`eval:multi`), so script
//! calls (round trips) are at most the transitions.

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

/// The transitions counted (`op:` entries, but reads) and the script calls that carried them (`eval:` entries).
fn transitions_and_calls(counts: &std::collections::BTreeMap<String, usize>) -> (usize, usize) {
    let sum = |prefix: &str| -> usize {
        counts.iter().filter(|(k, _)| k.starts_with(prefix) && !k.ends_with(":read")).map(|(_, v)| v).sum()
    };
    (sum("op:"), sum("eval:"))
}

#[tokio::test]
async fn a_chain_step_costs_one_round_trip() {
    let server = RedisServer::start();
    let (client, store) = counting_client(&server).await;
    let steps: Vec<Node> = (0..20).map(|_| client.sign(add_one).into()).collect();
    let chain = client.create(client.chain(steps)).await.unwrap();
    store.take();
    chain.start(json!({"tag": "cost-chain", "n": 0})).await.unwrap();
    let done = client.wait(chain.id(), Some(WAIT)).await.unwrap();
    assert_eq!(done.result, Some(json!({"tag": "cost-chain", "n": 20})));
    let counts = store.take();
    assert_eq!(counts.get("op:batch"), Some(&1));
    assert_eq!(counts.get("op:begin"), Some(&1), "only the first step begins on its own: {counts:?}");
    assert_eq!(counts.get("op:succeed"), Some(&20), "one transition per step, which begins the next: {counts:?}");
    let (transitions, calls) = transitions_and_calls(&counts);
    assert_eq!(transitions, 22, "nothing else is written: {counts:?}");
    assert_eq!(calls, 22, "one step runs at a time, so each transition is its own round trip: {counts:?}");
}

#[tokio::test]
async fn a_swarm_item_costs_one_transition_and_at_most_one_round_trip() {
    let server = RedisServer::start();
    let (client, store) = counting_client(&server).await;
    let items: Vec<Node> = (0..100).map(|n| client.sign(add_one).arg("n", n).into()).collect();
    let swarm = client.create(client.swarm(items).max_concurrency(10)).await.unwrap();
    store.take();
    swarm.start(json!({"tag": "cost-swarm"})).await.unwrap();
    let done = client.wait(swarm.id(), Some(WAIT)).await.unwrap();
    assert_eq!(done.swarm.unwrap().succeeded, 100);
    let counts = store.take();
    assert_eq!(counts.get("op:batch"), Some(&1));
    assert_eq!(counts.get("op:begin"), Some(&10), "only the first fill's items begin on their own: {counts:?}");
    assert_eq!(counts.get("op:succeed"), Some(&100), "one transition per item, fills included: {counts:?}");
    let (transitions, calls) = transitions_and_calls(&counts);
    assert_eq!(transitions, 111, "no fill calls, no helper tasks: {counts:?}");
    assert!(calls <= transitions, "batching never adds calls: {counts:?}");
}

/// Redis's count of the commands it has run (INFO commandstats: the scripts' own commands too, and the INFO).
fn commands_run(server: &RedisServer) -> u64 {
    let port = server.url.rsplit(':').next().expect("the URL names a port");
    let stats = cluster::redis_cli(&["-p", port, "INFO", "commandstats"]);
    stats
        .lines()
        .filter_map(|line| line.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_waiter_reads_a_swarm_without_its_items() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url).await.unwrap();
    // no recovery sweep: nothing but the waiter talks to Redis while it is counted
    let builder = mageflow::Mageflow::builder().store(store).recovery(None, std::time::Duration::from_secs(60));
    let client = register(builder).build().await.unwrap();
    let mut counted = Vec::new();
    for size in [1, 2_001] {
        let items: Vec<Node> = (0..size).map(|_| client.sign(add_one).into()).collect();
        let swarm = client.create(client.swarm(items)).await.unwrap();
        let before = commands_run(&server);
        // stored, not started: the waiter subscribes, reads the swarm once, and gives up
        let waited = client.wait(swarm.id(), Some(std::time::Duration::from_millis(100))).await;
        assert!(matches!(waited, Err(mageflow::Error::WaitTimeout(..))), "{waited:?}");
        counted.push(commands_run(&server) - before);
    }
    assert_eq!(counted[0], counted[1], "a waiter's read of 2,001 items costs what one of a single item does");
}
