//! [`RedisStore`]: signatures in a real Redis, through `fred`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::{Client, SubscriberClient};
use fred::prelude::{
    ClientLike, Config, EventInterface, HashesInterface, KeysInterface, ListInterface, LuaInterface, PerformanceConfig,
    PubsubInterface, ReconnectPolicy, Value,
};
use futures::StreamExt;
use tokio::sync::oneshot;

use super::{KeyInfo, Notified, Reply, Script, Store, StoreError};

/// How a [`RedisStore`] connects.
#[derive(Clone, Debug)]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// How long one command may take (including waiting for a reconnect) before it fails.
    pub command_timeout: Duration,
    /// The first and the longest wait between reconnection attempts; attempts go on until Redis answers.
    pub reconnect_delay: (Duration, Duration),
}

impl RedisStoreConfig {
    /// The defaults for this URL: commands time out after 10 s; reconnects back off from 100 ms to 5 s.
    pub fn new(url: impl Into<String>) -> Self {
        RedisStoreConfig {
            url: url.into(),
            command_timeout: Duration::from_secs(10),
            reconnect_delay: (Duration::from_millis(100), Duration::from_secs(5)),
        }
    }
}

type Waiters = Arc<Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>>;

/// Signatures in Redis. Every transition is one `EVALSHA` of mageflow's script (loaded on first use and again after
/// a `SCRIPT FLUSH` or a restart); the connection reconnects with exponential backoff, and a command that is sent
/// again after a reconnect cannot apply twice, because every script operation is idempotent.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    subscriber: SubscriberClient,
    waiters: Waiters,
}

fn unavailable(error: fred::error::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn command_error(error: fred::error::Error) -> StoreError {
    use fred::error::ErrorKind;
    match error.kind() {
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure => unavailable(error),
        _ if error.details().contains("ERR Error running script") || error.details().starts_with("ERR user_script") => {
            StoreError::Script(error.details().to_owned())
        }
        _ => StoreError::Protocol(error.to_string()),
    }
}

fn to_reply(value: Value) -> Result<Reply, StoreError> {
    Ok(match value {
        Value::Null => Reply::Nil,
        Value::Integer(number) => Reply::Int(number),
        Value::Boolean(flag) => Reply::Int(flag as i64),
        Value::Double(number) => Reply::Int(number as i64),
        Value::String(text) => Reply::Text(text.to_string()),
        Value::Bytes(bytes) => Reply::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Value::Array(items) => Reply::Array(items.into_iter().map(to_reply).collect::<Result<_, _>>()?),
        other => {
            return Err(StoreError::Protocol(format!("a script returned {:?}", other.kind())));
        }
    })
}

impl RedisStore {
    /// Connects to Redis at `url` with the default settings.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(RedisStoreConfig::new(url)).await
    }

    /// Connects with explicit settings. Fails when Redis does not answer at first; later outages are bridged by
    /// reconnecting.
    pub async fn connect_with(config: RedisStoreConfig) -> Result<Self, StoreError> {
        let redis_config = Config::from_url(&config.url)
            .map_err(|error| StoreError::Config(format!("`{}` is not a Redis URL: {error}", config.url)))?;
        let performance = PerformanceConfig {
            default_command_timeout: config.command_timeout,
            broadcast_channel_capacity: 4096,
            ..Default::default()
        };
        let (min_delay, max_delay) = config.reconnect_delay;
        let policy = ReconnectPolicy::new_exponential(0, min_delay.as_millis() as u32, max_delay.as_millis() as u32, 2);
        let mut builder = fred::types::Builder::from_config(redis_config);
        builder.set_performance_config(performance).set_policy(policy);
        let client = builder.build().map_err(unavailable)?;
        let subscriber = builder.build_subscriber_client().map_err(unavailable)?;
        client
            .init()
            .await
            .map_err(|error| StoreError::Unavailable(format!("cannot connect to Redis at {}: {error}", config.url)))?;
        subscriber.init().await.map_err(unavailable)?;
        subscriber.manage_subscriptions();
        let waiters: Waiters = Arc::default();
        let mut messages = subscriber.message_rx();
        let subscriber_for_task = subscriber.clone();
        let waiters_for_task = waiters.clone();
        tokio::spawn(async move {
            loop {
                let channel = match messages.recv().await {
                    Ok(message) => message.channel.to_string(),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // messages were lost: wake every waiter so that each reads its state again
                        let all: Vec<_> = waiters_for_task.lock().map(|mut w| w.drain().collect()).unwrap_or_default();
                        for (_, senders) in all {
                            senders.into_iter().for_each(|sender| {
                                let _ = sender.send(());
                            });
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let senders = waiters_for_task.lock().ok().and_then(|mut w| w.remove(&channel));
                if let Some(senders) = senders {
                    senders.into_iter().for_each(|sender| {
                        let _ = sender.send(());
                    });
                    let _ = subscriber_for_task.unsubscribe(channel).await;
                }
            }
        });
        Ok(RedisStore { client, subscriber, waiters })
    }

    /// The underlying `fred` client, for commands mageflow does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError> {
        let result: Result<Value, _> = self.client.evalsha(script.sha1(), keys.clone(), args.clone()).await;
        let value = match result {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                let _: String = self.client.script_load(script.source()).await.map_err(command_error)?;
                self.client.evalsha(script.sha1(), keys, args).await.map_err(command_error)?
            }
            other => other.map_err(command_error)?,
        };
        to_reply(value)
    }

    async fn read_hash(&self, key: &str) -> Result<HashMap<String, String>, StoreError> {
        self.client.hgetall(key).await.map_err(command_error)
    }

    async fn read_list(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.client.lrange(key, 0, -1).await.map_err(command_error)
    }

    async fn write_hash(&self, key: &str, fields: Vec<(String, String)>) -> Result<(), StoreError> {
        if fields.is_empty() {
            return Ok(());
        }
        let _: i64 = self.client.hset(key, fields).await.map_err(command_error)?;
        Ok(())
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
        let pattern = format!("{}*", prefix.replace('*', "\\*").replace('?', "\\?").replace('[', "\\["));
        let keys: Vec<String> = self
            .client
            .scan_buffered(pattern, Some(1000), None)
            .map(|key| key.map(|key| key.as_str_lossy().into_owned()))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(command_error)?;
        let ttls = futures::future::join_all(keys.iter().map(|key| self.client.pttl::<i64, _>(key))).await;
        let mut infos = Vec::with_capacity(keys.len());
        for (key, ttl) in keys.into_iter().zip(ttls) {
            match ttl.map_err(command_error)? {
                -2 => {} // expired between the scan and the TTL read
                -1 => infos.push(KeyInfo { key, ttl: None }),
                millis => infos.push(KeyInfo { key, ttl: Some(Duration::from_millis(millis.max(0) as u64)) }),
            }
        }
        Ok(infos)
    }

    async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
        let (sender, receiver) = oneshot::channel();
        let first = {
            let mut waiters = self.waiters.lock().map_err(|_| StoreError::Protocol("waiter map poisoned".into()))?;
            let entry = waiters.entry(channel.to_owned()).or_default();
            entry.push(sender);
            entry.len() == 1
        };
        if first {
            self.subscriber.subscribe(channel).await.map_err(command_error)?;
        }
        Ok(Box::pin(async move {
            let _ = receiver.await;
        }))
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}
