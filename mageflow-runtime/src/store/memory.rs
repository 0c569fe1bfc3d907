//! [`MemoryStore`]: signatures in this process, for embedded use and tests; runs the same transition script as
//! Redis over an in-memory keyspace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::lua_host::LuaHost;
use super::{KeyInfo, Notified, Reply, Script, Store, StoreError};

/// Signatures in memory: nothing to install, nothing survives the process. The default store of a client.
#[derive(Clone)]
pub struct MemoryStore {
    host: Arc<Mutex<LuaHost>>,
    waiters: Arc<Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::protocol("the memory store's lock is poisoned (a script panicked)")
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let host = LuaHost::new().unwrap_or_else(|error| panic!("the embedded Lua cannot start: {error}"));
        MemoryStore { host: Arc::new(Mutex::new(host)), waiters: Arc::default() }
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
