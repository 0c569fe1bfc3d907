//! [`MemoryStore`]: signatures in this process, for embedded use and tests; runs the same transition script as
//! Redis over an in-memory keyspace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::keyspace::Resp;
use super::lua_host::LuaHost;
use super::{KeyInfo, Notified, Reply, Script, Store, StoreError};

/// Signatures in memory: nothing to install, nothing survives the process. The default store of a client.
#[derive(Clone)]
pub struct MemoryStore {
    host: Arc<Mutex<LuaHost>>,
    waiters: Arc<Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Protocol("the memory store's lock is poisoned (a script panicked)".into())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let host = LuaHost::new().unwrap_or_else(|error| panic!("the embedded Lua cannot start: {error}"));
        MemoryStore { host: Arc::new(Mutex::new(host)), waiters: Arc::default() }
    }

    fn command(&self, words: &[&str]) -> Result<Resp, StoreError> {
        let words: Vec<String> = words.iter().map(|word| word.to_string()).collect();
        let mut host = self.host.lock().map_err(poisoned)?;
        match host.with_keyspace(|keyspace| keyspace.command(&words)) {
            Resp::Error(message) => Err(StoreError::Protocol(message)),
            reply => Ok(reply),
        }
    }

    fn wake(&self, channels: Vec<String>) {
        if channels.is_empty() {
            return;
        }
        let Ok(mut waiters) = self.waiters.lock() else {
            return;
        };
        for channel in channels {
            for sender in waiters.remove(&channel).unwrap_or_default() {
                let _ = sender.send(());
            }
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

fn bulk_strings(reply: Resp) -> Vec<String> {
    match reply {
        Resp::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Resp::Bulk(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError> {
        let (reply, published) = {
            let mut host = self.host.lock().map_err(poisoned)?;
            host.eval(script, keys, args)?
        };
        self.wake(published);
        Ok(reply)
    }

    async fn read_hash(&self, key: &str) -> Result<HashMap<String, String>, StoreError> {
        let flat = bulk_strings(self.command(&["HGETALL", key])?);
        Ok(flat.chunks(2).filter(|pair| pair.len() == 2).map(|pair| (pair[0].clone(), pair[1].clone())).collect())
    }

    async fn read_list(&self, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(bulk_strings(self.command(&["LRANGE", key, "0", "-1"])?))
    }

    async fn write_hash(&self, key: &str, fields: Vec<(String, String)>) -> Result<(), StoreError> {
        if fields.is_empty() {
            return Ok(());
        }
        let mut words = vec!["HSET".to_owned(), key.to_owned()];
        for (field, value) in fields {
            words.push(field);
            words.push(value);
        }
        let mut host = self.host.lock().map_err(poisoned)?;
        match host.with_keyspace(|keyspace| keyspace.command(&words)) {
            Resp::Error(message) => Err(StoreError::Protocol(message)),
            _ => Ok(()),
        }
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
        let mut host = self.host.lock().map_err(poisoned)?;
        let keys = host.with_keyspace(|keyspace| keyspace.scan(prefix));
        Ok(keys.into_iter().map(|(key, ttl)| KeyInfo { key, ttl }).collect())
    }

    async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
        let (sender, receiver) = oneshot::channel();
        self.waiters.lock().map_err(poisoned)?.entry(channel.to_owned()).or_default().push(sender);
        Ok(Box::pin(async move {
            let _ = receiver.await;
        }))
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}
