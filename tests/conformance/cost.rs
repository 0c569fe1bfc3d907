//! What a transition costs on a real Redis, counted on the connection: one script call (one round trip) per chain
//! step and per swarm item transition, one to begin each run, nothing else.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mageflow::store::{KeyInfo, Notified, Reply, Script, StoreError};
use mageflow::{Node, RedisStore, Store};
use serde_json::json;

use crate::probe::*;
use crate::support::*;

/// A store that counts the round trips it makes, by script operation or command.
#[derive(Clone)]
struct CountingStore {
    inner: RedisStore,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl CountingStore {
    fn count(&self, what: &str) {
        *self.counts.lock().unwrap().entry(what.to_owned()).or_default() += 1;
    }
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn eval(&self, script: &Script, args: Vec<String>) -> Result<Reply, StoreError> {
        self.count(&format!("eval:{}", args[0]));
        self.inner.eval(script, args).await
    }
    async fn read_hash(&self, key: &str) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.count("read_hash");
        self.inner.read_hash(key).await
    }
    async fn read_list(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.count("read_list");
        self.inner.read_list(key).await
    }
    async fn write_hash(&self, key: &str, fields: Vec<(String, String)>) -> Result<(), StoreError> {
        self.count("write_hash");
        self.inner.write_hash(key, fields).await
    }
    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
        self.inner.scan(prefix).await
    }
    async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
        self.count("subscribe");
        self.inner.notified(channel).await
    }
}

async fn counting_client(server: &RedisServer) -> (mageflow::Mageflow, CountingStore) {
    let store = CountingStore { inner: RedisStore::connect(&server.url).await.unwrap(), counts: Arc::default() };
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
    let transitions: usize = counts.iter().filter(|(k, _)| k.starts_with("eval:")).map(|(_, v)| v).sum();
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
    let transitions: usize = counts.iter().filter(|(k, _)| k.starts_with("eval:")).map(|(_, v)| v).sum();
    assert_eq!(transitions, 201, "no fill calls, no helper tasks: {counts:?}");
}
