//! [`RedisStore`]: signatures in a real Redis, through `fred`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fred::bytes::{Bytes, BytesMut};
use fred::clients::{Client, SubscriberClient};
use fred::prelude::{
    ClientLike, EventInterface, FunctionInterface, KeysInterface, LuaInterface, PerformanceConfig, PubsubInterface,
    ReconnectPolicy, Value,
};
use fred::types::Key;
use futures::StreamExt;
use tokio::sync::oneshot;

use super::{KeyInfo, Notified, Reply, Script, Store, StoreError};

mod connect;
mod tls;
mod url;

pub use tls::{Pem, RedisTls};
pub use url::redact as redact_url;
use url::{RedisUrl, Topology};

/// How a [`RedisStore`] connects. Its `Debug` output shows the URL without its password.
#[derive(Clone)]
pub struct RedisStoreConfig {
    /// Where Redis is; the scheme chooses TLS and the topology:
    /// - `redis://[[user]:password@]host[:port][/db]`: one server (`rediss://` for TLS);
    /// - `redis-cluster://[[user]:password@]host:port[,host:port...]`: Redis Cluster, discovered from any of these
    ///   nodes (`rediss-cluster://` for TLS);
    /// - `redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]`: the primary that these
    ///   sentinels name for the service, followed across failovers (`rediss+sentinel://` for TLS to both).
    ///
    /// Special characters of the user name and password are %-escaped.
    pub url: String,
    /// How long one command may take (including waiting for a reconnect) before it fails.
    pub command_timeout: Duration,
    /// The first and the longest wait between reconnection attempts; attempts go on until Redis answers.
    pub reconnect_delay: (Duration, Duration),
    /// How `rediss://` connections verify the server and identify themselves (system roots by default).
    pub tls: RedisTls,
    /// How a `redis+sentinel://` store logs in to the sentinels (by default it does not: the URL's user and
    /// password are the primary's).
    pub sentinel_auth: SentinelAuth,
}

/// The environment variable giving the sentinels' password (see [`SentinelAuth`]).
pub const ENV_SENTINEL_PASSWORD: &str = "MAGEFLOW_REDIS_SENTINEL_PASSWORD";
/// The environment variable giving the sentinels' user name, with `MAGEFLOW_REDIS_SENTINEL_PASSWORD`.
pub const ENV_SENTINEL_USERNAME: &str = "MAGEFLOW_REDIS_SENTINEL_USERNAME";

/// How a `redis+sentinel://` store logs in to the sentinels themselves. Its `Debug` output hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum SentinelAuth {
    /// The sentinels need no login (the default; their `requirepass` is unset).
    #[default]
    None,
    /// The sentinels take the same user and password as the primary (those of the URL).
    SameAsServer,
    /// The sentinels take this user (`None` for `default`) and password.
    Password {
        /// The user name, if not `default`.
        username: Option<String>,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for SentinelAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SentinelAuth::None => f.write_str("None"),
            SentinelAuth::SameAsServer => f.write_str("SameAsServer"),
            SentinelAuth::Password { username, .. } => {
                f.debug_struct("Password").field("username", username).field("password", &"***").finish()
            }
        }
    }
}

impl SentinelAuth {
    /// The setting of the environment: `MAGEFLOW_REDIS_SENTINEL_PASSWORD` (with `MAGEFLOW_REDIS_SENTINEL_USERNAME`),
    /// or none.
    pub fn from_env() -> SentinelAuth {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        match var(ENV_SENTINEL_PASSWORD) {
            Some(password) => SentinelAuth::Password { username: var(ENV_SENTINEL_USERNAME), password },
            None => SentinelAuth::None,
        }
    }
}

impl RedisStoreConfig {
    /// The defaults for this URL: commands time out after 10 s; reconnects back off from 100 ms to 5 s; TLS (for
    /// `rediss://`) trusts the system's root certificates.
    pub fn new(url: impl Into<String>) -> Self {
        RedisStoreConfig {
            url: url.into(),
            command_timeout: Duration::from_secs(10),
            reconnect_delay: (Duration::from_millis(100), Duration::from_secs(5)),
            tls: RedisTls::default(),
            sentinel_auth: SentinelAuth::None,
        }
    }

    /// Redis Cluster, discovered from any of these nodes (`host:port`): the same as
    /// `redis-cluster://host:port,host:port...`.
    pub fn cluster<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>) -> Self {
        let nodes: Vec<String> = nodes.into_iter().map(|node| node.as_ref().trim().to_owned()).collect();
        RedisStoreConfig::new(format!("redis-cluster://{}", nodes.join(",")))
    }

    /// The primary that these sentinels (`host:port`) name for `service`: the same as
    /// `redis+sentinel://host:port,host:port.../service`.
    pub fn sentinel<S: AsRef<str>>(sentinels: impl IntoIterator<Item = S>, service: &str) -> Self {
        let sentinels: Vec<String> = sentinels.into_iter().map(|node| node.as_ref().trim().to_owned()).collect();
        RedisStoreConfig::new(format!("redis+sentinel://{}/{}", sentinels.join(","), url::escape(service)))
    }

    /// Logs in with this user (`None` for `default`) and password instead of those of the URL.
    pub fn credentials(mut self, username: Option<&str>, password: &str) -> Self {
        self.url = url::with_credentials(&self.url, username, password);
        self
    }

    /// Uses TLS (`rediss://`, `rediss-cluster://`, `rediss+sentinel://`) whatever the URL's scheme said.
    pub fn require_tls(mut self) -> Self {
        self.url = url::with_tls(&self.url);
        self
    }

    /// The defaults for this URL with the settings of the environment: TLS (see [`RedisTls::from_env`]) and the
    /// sentinels' login (see [`SentinelAuth::from_env`]).
    pub fn with_env_settings(url: impl Into<String>) -> Result<Self, StoreError> {
        Ok(RedisStoreConfig {
            tls: RedisTls::from_env()?,
            sentinel_auth: SentinelAuth::from_env(),
            ..RedisStoreConfig::new(url)
        })
    }

    /// The configuration of the environment: `REDIS_URL` and the settings of [`with_env_settings`]; `None` when
    /// `REDIS_URL` is unset or empty.
    ///
    /// [`with_env_settings`]: Self::with_env_settings
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Self::with_env_settings(url.trim()).map(Some),
            _ => Ok(None),
        }
    }

    /// Sets the TLS settings.
    pub fn tls(mut self, tls: RedisTls) -> Self {
        self.tls = tls;
        self
    }

    /// Sets how the store logs in to the sentinels of a `redis+sentinel://` URL.
    pub fn sentinel_auth(mut self, auth: SentinelAuth) -> Self {
        self.sentinel_auth = auth;
        self
    }

    /// The URL with its password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        match RedisUrl::parse(&self.url) {
            Ok(url) => url.to_string(),
            Err(_) => url::redact(&self.url),
        }
    }
}

impl std::fmt::Debug for RedisStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreConfig")
            .field("url", &self.redacted_url())
            .field("command_timeout", &self.command_timeout)
            .field("reconnect_delay", &self.reconnect_delay)
            .field("tls", &self.tls)
            .field("sentinel_auth", &self.sentinel_auth)
            .finish()
    }
}

type Waiters = Arc<Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>>;

/// Signatures in Redis: one server, Redis Cluster or a primary behind Sentinel, over TCP or TLS. Every transition is
/// one call of mageflow's script: `FCALL` of its Function library where the server has Redis Functions (Redis 7 and
/// later, Valkey; the library is loaded on a node that lacks it, after a restart or a failover), else `EVALSHA`
/// (sent as `EVAL` to a node that lacks the script); the connection reconnects with exponential backoff, and a command that is sent again after a
/// reconnect cannot apply twice, because every script operation is idempotent.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    subscriber: SubscriberClient,
    waiters: Waiters,
    /// Held while subscribing or unsubscribing, so that an unsubscription after a notification can never undo the
    /// subscription of a newer waiter of the same channel.
    subscriptions: Arc<tokio::sync::Mutex<()>>,
    clustered: bool,
    user: Option<String>,
    /// Whether the server runs Redis Functions: [`FUNCTIONS_UNKNOWN`] until the first call tells.
    functions: Arc<AtomicU8>,
}

const FUNCTIONS_UNKNOWN: u8 = 0;
const FUNCTIONS_YES: u8 = 1;
const FUNCTIONS_NO: u8 = 2;

/// Whether an error says that the server has no Redis Functions (before Redis 7), or may not use them.
fn lacks_functions(error: &fred::error::Error) -> bool {
    let details = error.details().to_ascii_lowercase();
    details.contains("unknown command")
        || (details.contains("noperm") && (details.contains("'fcall'") || details.contains("'function")))
}

fn to_reply(value: Value) -> Result<Reply, StoreError> {
    Ok(match value {
        Value::Null => Reply::Nil,
        Value::Integer(number) => Reply::Int(number),
        Value::Boolean(flag) => Reply::Int(flag as i64),
        Value::Double(number) => Reply::Int(number as i64),
        // a copy of the text (`to_string` would go through `Display`)
        Value::String(text) => Reply::Text(String::from(&*text)),
        Value::Bytes(bytes) => Reply::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Value::Array(items) => Reply::Array(items.into_iter().map(to_reply).collect::<Result<_, _>>()?),
        other => {
            return Err(StoreError::protocol(format!("a script returned {:?}", other.kind())));
        }
    })
}

/// Whether the server is a node of a Redis Cluster (`cluster_enabled:1`).
async fn is_cluster_node(client: &Client) -> bool {
    let info: Result<String, _> = client.info(Some(fred::types::InfoKind::Cluster)).await;
    info.is_ok_and(|info| info.lines().any(|line| line.trim() == "cluster_enabled:1"))
}

/// `redis://host:port[/0]` as `redis-cluster://host:port` (`rediss://` as `rediss-cluster://`).
fn as_cluster_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let rest = rest.split_once('/').map_or(rest, |(authority, _)| authority);
    format!("{scheme}-cluster://{rest}")
}

impl RedisStore {
    /// Connects to Redis at `url` with the default settings (TLS trusting the system's roots).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(RedisStoreConfig::new(url)).await
    }

    /// Connects with explicit settings. Fails when Redis does not answer at first, refuses the credentials or the
    /// TLS handshake; later outages are bridged by reconnecting.
    pub async fn connect_with(config: RedisStoreConfig) -> Result<Self, StoreError> {
        let url = RedisUrl::parse(&config.url)?;
        let redis_config = connect::fred_config(&config, &url)?;
        let performance = PerformanceConfig {
            default_command_timeout: config.command_timeout,
            broadcast_channel_capacity: 4096,
            ..Default::default()
        };
        let (min_delay, max_delay) = config.reconnect_delay;
        let policy = ReconnectPolicy::new_exponential(0, min_delay.as_millis() as u32, max_delay.as_millis() as u32, 2);
        let mut builder = fred::types::Builder::from_config(redis_config);
        builder
            .set_performance_config(performance)
            .set_connection_config(connect::connection_config())
            .set_policy(policy);
        let failed = |error| connect::connect_error(&url, error);
        let client = builder.build().map_err(failed)?;
        let subscriber = builder.build_subscriber_client().map_err(failed)?;
        let mut started = client.init().await.map(|_| ());
        if started.is_ok() {
            started = subscriber.init().await.map(|_| ());
        }
        if let Err(error) = started {
            let _ = client.quit().await;
            let _ = subscriber.quit().await;
            if error.details().contains("SELECT is not allowed in cluster mode") {
                return Err(StoreError::config(format!(
                    "{url} is a node of a Redis Cluster, which has only database 0: drop the database number"
                )));
            }
            let mut failure = connect::connect_error(&url, error.clone());
            if url.tls && matches!(failure, StoreError::Unavailable { .. }) {
                // the client's error may hide why: look at the first address ourselves
                if connect::answers_plaintext(&url).await {
                    failure = connect::plaintext_error(&url, &error);
                } else if let Some(reason) = connect::tls_handshake_failure(&url, &config).await
                    && let Some(tls) = connect::tls_error(&url, &reason, true)
                {
                    failure = tls;
                }
            }
            return Err(failure);
        }
        if matches!(url.topology, Topology::Single { .. }) && is_cluster_node(&client).await {
            // a node of a Redis Cluster given as a single server: talk to the cluster (keys live on every node)
            let _ = client.quit().await;
            let _ = subscriber.quit().await;
            let cluster_url = as_cluster_url(&config.url);
            tracing::info!(url = %url, "the Redis is a node of a Redis Cluster: connecting to the cluster");
            return Box::pin(RedisStore::connect_with(RedisStoreConfig { url: cluster_url, ..config })).await;
        }
        tracing::debug!(url = %url, "connected to Redis");
        subscriber.manage_subscriptions();
        let waiters: Waiters = Arc::default();
        let mut messages = subscriber.message_rx();
        let subscriber_for_task = subscriber.clone();
        let waiters_for_task = waiters.clone();
        let subscriptions: Arc<tokio::sync::Mutex<()>> = Arc::default();
        let subscriptions_for_task = subscriptions.clone();
        tokio::spawn(async move {
            loop {
                let woken: Vec<(String, Vec<oneshot::Sender<()>>)> = match messages.recv().await {
                    Ok(message) => {
                        let channel = message.channel.to_string();
                        let senders = waiters_for_task.lock().ok().and_then(|mut w| w.remove(&channel));
                        senders.map(|senders| vec![(channel, senders)]).unwrap_or_default()
                    }
                    // messages were lost: wake every waiter so that each reads its state again
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        waiters_for_task.lock().map(|mut w| w.drain().collect()).unwrap_or_default()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if woken.is_empty() {
                    continue;
                }
                let channels: Vec<String> = woken
                    .into_iter()
                    .map(|(channel, senders)| {
                        senders.into_iter().for_each(|sender| {
                            let _ = sender.send(());
                        });
                        channel
                    })
                    .collect();
                let _guard = subscriptions_for_task.lock().await;
                // a waiter that came since keeps the subscription it relies on
                let idle: Vec<String> = match waiters_for_task.lock() {
                    Ok(waiters) => channels.into_iter().filter(|channel| !waiters.contains_key(channel)).collect(),
                    Err(_) => Vec::new(),
                };
                if !idle.is_empty() {
                    let _ = subscriber_for_task.unsubscribe(idle).await;
                }
            }
        });
        let clustered = matches!(url.topology, url::Topology::Cluster { .. });
        Ok(RedisStore {
            client,
            subscriber,
            waiters,
            subscriptions,
            clustered,
            user: url.username.clone(),
            functions: Arc::new(AtomicU8::new(FUNCTIONS_UNKNOWN)),
        })
    }

    fn error(&self, error: fred::error::Error) -> StoreError {
        connect::command_error(error, self.user.as_deref())
    }

    /// Subscribes to `channel` and returns once Redis has done so. `fred` answers `SUBSCRIBE` as soon as it is
    /// written, so a `PING` follows on the same connection (the node `fred` sends pub/sub commands to, on a
    /// cluster): its reply comes after the subscription's.
    ///
    /// Right after a reconnect, `fred` resubscribes on its own, and the reply to a command of its resubscription (an
    /// error, when it had no channel to resubscribe) can reach this call instead: such a protocol error is tried
    /// once more.
    async fn subscribe(&self, channel: &str) -> Result<(), fred::error::Error> {
        match self.subscribe_once(channel).await {
            Err(error) if *error.kind() == fred::error::ErrorKind::Unknown || error.details().contains("subscribe") => {
                tracing::debug!(%error, "subscribing again after a reply meant for the resubscription");
                self.subscribe_once(channel).await
            }
            other => other,
        }
    }

    async fn subscribe_once(&self, channel: &str) -> Result<(), fred::error::Error> {
        self.subscriber.subscribe(channel).await?;
        let slot = fred::util::redis_keyslot(self.subscriber.id().as_bytes());
        let ping = fred::types::CustomCommand::new_static("PING", fred::types::ClusterHash::Custom(slot), false);
        let _: Value = self.subscriber.custom(ping, Vec::<String>::new()).await?;
        Ok(())
    }

    fn script_error(&self, script: &Script, error: fred::error::Error) -> StoreError {
        connect::script_error(error, self.user.as_deref(), script.source())
    }

    /// Loads `script` into the server, or into every primary of a cluster, so that its first call anywhere finds it:
    /// as a Function library where the server has them (Redis 7 and later, Valkey; the Redis user needs
    /// `+function|load`), else into the script cache (`+script|load`). Optional: a node that lacks the script gets it
    /// on first use.
    pub async fn preload(&self, script: &Script) -> Result<(), StoreError> {
        if let Some(library) = script.as_library()
            && self.functions.load(Ordering::Relaxed) != FUNCTIONS_NO
        {
            let loaded: Result<Value, _> = if self.clustered {
                self.client.function_load_cluster(true, library.code).await
            } else {
                self.client.function_load(true, library.code).await
            };
            match loaded {
                Ok(_) => {
                    self.functions.store(FUNCTIONS_YES, Ordering::Relaxed);
                    return Ok(());
                }
                Err(error) if lacks_functions(&error) => self.functions.store(FUNCTIONS_NO, Ordering::Relaxed),
                Err(error) => return Err(self.script_error(script, error)),
            }
        }
        if self.clustered {
            let _: Value = self.client.script_load_cluster(script.source()).await.map_err(|error| self.error(error))?;
        } else {
            let _: String = self.client.script_load(script.source()).await.map_err(|error| self.error(error))?;
        }
        Ok(())
    }

    /// Whether this store calls mageflow's transition script as a Redis Function (`FCALL`): `Some(true)` on Redis 7
    /// and later and Valkey, `Some(false)` where the server has no Functions (it then runs `EVALSHA`), `None` before
    /// the first call told.
    pub fn uses_functions(&self) -> Option<bool> {
        match self.functions.load(Ordering::Relaxed) {
            FUNCTIONS_YES => Some(true),
            FUNCTIONS_NO => Some(false),
            _ => None,
        }
    }

    /// Calls a library's entry point with `FCALL`; `None` when the server has no Functions (the caller falls back
    /// to `EVALSHA`). A node that lacks the library (it never had it, or restarted, or was promoted) gets it with
    /// `FUNCTION LOAD`, sent to the node the keys route to, and the call is sent again.
    async fn fcall(
        &self,
        script: &Script,
        library: &super::Library,
        keys: &[Key],
        args: &[Value],
    ) -> Option<Result<Value, StoreError>> {
        for _ in 0..2 {
            match self.client.fcall::<Value, _, _, _>(library.name.as_str(), keys.to_vec(), args.to_vec()).await {
                Ok(value) => {
                    self.functions.store(FUNCTIONS_YES, Ordering::Relaxed);
                    return Some(Ok(value));
                }
                Err(error) if error.details().contains("Function not found") => {
                    // route the load like the call: by the slot of the first key
                    let slot = keys.first().map(Key::cluster_hash).unwrap_or_default();
                    let load = fred::types::CustomCommand::new_static(
                        "FUNCTION",
                        fred::types::ClusterHash::Custom(slot),
                        false,
                    );
                    let loaded: Result<Value, _> =
                        self.client.custom(load, vec!["LOAD", "REPLACE", library.code]).await;
                    match loaded {
                        Ok(_) => {}
                        Err(error) if lacks_functions(&error) => {
                            self.functions.store(FUNCTIONS_NO, Ordering::Relaxed);
                            return None;
                        }
                        Err(error) => return Some(Err(self.script_error(script, error))),
                    }
                }
                Err(error) if lacks_functions(&error) => {
                    self.functions.store(FUNCTIONS_NO, Ordering::Relaxed);
                    return None;
                }
                // line numbers in the error are the library's
                Err(error) => return Some(Err(connect::script_error(error, self.user.as_deref(), library.code))),
            }
        }
        Some(Err(StoreError::script(format!("the Function library {} did not load", library.name))))
    }

    /// The underlying `fred` client, for commands mageflow does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError> {
        // all in one buffer, which each key and value is a slice of: a call sent again (by fred, or below) clones
        // only handles, without an allocation per argument
        let keys: Vec<Key> = one_buffer(&keys).map(Key::from).collect();
        let args: Vec<Value> = one_buffer(&args).map(Value::Bytes).collect();
        if let Some(library) = script.as_library()
            && self.functions.load(Ordering::Relaxed) != FUNCTIONS_NO
            && let Some(result) = self.fcall(script, library, &keys, &args).await
        {
            return to_reply(result?);
        }
        let result: Result<Value, _> = self.client.evalsha(script.sha1(), keys.clone(), args.clone()).await;
        let value = match result {
            // this node lacks the script (flushed, restarted, promoted, or never used): EVAL sends it along, to the
            // node the keys route to, which keeps it for the next EVALSHA
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                self.client.eval(script.source(), keys, args).await.map_err(|error| self.script_error(script, error))?
            }
            other => other.map_err(|error| self.script_error(script, error))?,
        };
        to_reply(value)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
        let pattern = format!("{}*", prefix.replace('*', "\\*").replace('?', "\\?").replace('[', "\\["));
        let found = if self.clustered {
            // every primary holds a part of the keys
            self.client.scan_cluster_buffered(pattern, Some(1000), None).boxed()
        } else {
            self.client.scan_buffered(pattern, Some(1000), None).boxed()
        };
        let keys: Vec<String> = found
            .map(|key| key.map(|key| key.as_str_lossy().into_owned()))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|error| self.error(error))?;
        let ttls = futures::future::join_all(keys.iter().map(|key| self.client.pttl::<i64, _>(key))).await;
        let mut infos = Vec::with_capacity(keys.len());
        for (key, ttl) in keys.into_iter().zip(ttls) {
            match ttl.map_err(|error| self.error(error))? {
                -2 => {} // expired between the scan and the TTL read
                -1 => infos.push(KeyInfo { key, ttl: None }),
                millis => infos.push(KeyInfo { key, ttl: Some(Duration::from_millis(millis.max(0) as u64)) }),
            }
        }
        Ok(infos)
    }

    /// Two: Redis runs one call while the process reads the other's replies (with one, each side waited for the
    /// other, and a swarm of 10,000 ran 1.17 times slower; three made smaller batches and ran slower than two).
    fn calls_at_once(&self) -> usize {
        2
    }

    async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
        let (sender, receiver) = oneshot::channel();
        // a second waiter of a channel returns only once the first one's subscription is in place
        let _guard = self.subscriptions.lock().await;
        let first = {
            let mut waiters = self.waiters.lock().map_err(|_| StoreError::protocol("waiter map poisoned"))?;
            let entry = waiters.entry(channel.to_owned()).or_default();
            entry.push(sender);
            entry.len() == 1
        };
        if first && let Err(error) = self.subscribe(channel).await {
            // nobody is subscribed for these waiters: release them all (they read the state again)
            if let Ok(mut waiters) = self.waiters.lock() {
                waiters.remove(channel);
            }
            return Err(self.error(error));
        }
        Ok(Box::pin(async move {
            let _ = receiver.await;
        }))
    }
}

/// The texts copied into one shared buffer, as slices of it: cloning a slice is a count, not an allocation (a
/// `Bytes` made from a `String` allocates when it is first cloned, and every call is cloned once for its resend).
fn one_buffer(texts: &[String]) -> impl Iterator<Item = Bytes> + '_ {
    let mut buffer = BytesMut::with_capacity(texts.iter().map(String::len).sum());
    for text in texts {
        buffer.extend_from_slice(text.as_bytes());
    }
    let all = buffer.freeze();
    let mut start = 0;
    texts.iter().map(move |text| {
        let end = start + text.len();
        let part = all.slice(start..end);
        start = end;
        part
    })
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}
