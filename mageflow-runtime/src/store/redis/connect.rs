//! From a [`RedisStoreConfig`] to `fred`'s configuration, and from `fred`'s errors to [`StoreError`]s that say
//! what went wrong and never show a password.

use fred::error::{Error as FredError, ErrorKind};
use fred::types::config::{
    ClusterDiscoveryPolicy, Config, ConnectionConfig, ReconnectError, Server, ServerConfig, TlsConfig, TlsHostMapping,
};

use super::super::StoreError;
use super::url::{RedisUrl, Topology};
use super::{RedisStoreConfig, SentinelAuth};

/// The `fred` configuration of a parsed URL and its settings.
pub(crate) fn fred_config(config: &RedisStoreConfig, url: &RedisUrl) -> Result<Config, StoreError> {
    let server_name = if url.tls { config.tls.checked_server_name()? } else { None };
    let server = |(host, port): &(String, u16)| {
        let mut server = Server::new(host.as_str(), *port);
        if let Some(name) = &server_name {
            server.tls_server_name = Some(name.as_str().into());
        }
        server
    };
    let (server, database) = match &url.topology {
        Topology::Single { host, port, db } => {
            (ServerConfig::Centralized { server: server(&(host.clone(), *port)) }, *db)
        }
        Topology::Cluster { nodes } => (
            ServerConfig::Clustered {
                hosts: nodes.iter().map(server).collect(),
                policy: ClusterDiscoveryPolicy::default(),
            },
            None,
        ),
        Topology::Sentinel { sentinels, service, db } => {
            let (username, password) = match &config.sentinel_auth {
                SentinelAuth::None => (None, None),
                SentinelAuth::SameAsServer => (url.username.clone(), url.password.clone()),
                SentinelAuth::Password { username, password } => (username.clone(), Some(password.clone())),
            };
            let hosts = sentinels.iter().map(server).collect();
            (ServerConfig::Sentinel { hosts, service_name: service.clone(), username, password }, *db)
        }
    };
    let tls = if url.tls {
        Some(TlsConfig { connector: config.tls.connector()?, hostnames: TlsHostMapping::None })
    } else {
        if config.tls.is_customized() {
            tracing::warn!(
                url = %url,
                "TLS settings are ignored: the Redis URL is not rediss:// (nor rediss-cluster://, rediss+sentinel://)"
            );
        }
        None
    };
    Ok(Config {
        fail_fast: true,
        username: url.username.clone(),
        password: url.password.clone(),
        server,
        database,
        tls,
        ..Config::default()
    })
}

/// How connections behave: a replica that was a primary (after a failover) or a primary still loading is left for
/// the current primary, by reconnecting.
pub(crate) fn connection_config() -> ConnectionConfig {
    ConnectionConfig {
        reconnect_errors: vec![
            ReconnectError::ReadOnly,
            ReconnectError::MasterDown,
            ReconnectError::Loading,
            ReconnectError::ClusterDown,
        ],
        ..ConnectionConfig::default()
    }
}

/// What `fred` says, without its `Debug` decoration (an I/O error reads `Os { .., message: "Connection refused" }`).
fn details(error: &FredError) -> String {
    let details = error.details().trim();
    if details.is_empty() {
        return format!("{:?}", error.kind());
    }
    if details.starts_with("Os {")
        && let Some((_, rest)) = details.split_once("message: \"")
        && let Some((message, _)) = rest.rsplit_once('"')
    {
        return message.to_owned();
    }
    details.to_owned()
}

/// A refused login or a missing permission, whenever it happens.
fn access_error(error: &FredError, user: Option<&str>) -> Option<StoreError> {
    let text = details(error);
    let user = user.unwrap_or("default");
    if text.contains("WRONGPASS") || text.contains("invalid password") || text.contains("invalid username-password") {
        Some(StoreError::authentication(format!(
            "the user `{user}` or its password is wrong ({text}); check the user and password in the Redis URL"
        )))
    } else if text.starts_with("NOAUTH") || text.contains("Authentication required") {
        Some(StoreError::authentication(format!(
            "Redis requires a password ({text}); put it in the URL: redis://user:password@host:port"
        )))
    } else if text.contains("NOPERM")
        || text.contains("can't run this command")
        || text.contains("can't access")
        || text.contains("can't publish")
        || text.contains("No permissions to access")
    {
        Some(StoreError::permission_denied(format!("user `{user}`: {text}")))
    } else {
        None
    }
}

/// The error of a first connection to `url`.
pub(crate) fn connect_error(url: &RedisUrl, error: FredError) -> StoreError {
    if let Some(access) = access_error(&error, url.username.as_deref()) {
        return access.caused_by(error);
    }
    let text = details(&error);
    if url.tls
        && let Some(tls) = tls_error(url, &text, error.kind() == &ErrorKind::Tls)
    {
        return tls.caused_by(error);
    }
    StoreError::unavailable(format!("cannot connect to Redis at {url}: {text}")).caused_by(error)
}

/// The TLS error that `text` (a failed connection's reason) describes, if it is one.
pub(crate) fn tls_error(url: &RedisUrl, text: &str, tls_kind: bool) -> Option<StoreError> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("notvalidforname") {
        return Some(StoreError::tls(format!(
            "the certificate of Redis at {url} is not trusted ({text}); set MAGEFLOW_REDIS_TLS_CA_FILE (or \
             RedisTls::ca_file) to the CA that signed it, and check that it names the host of the URL"
        )));
    }
    if lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
        || lower.contains("handshake")
        || lower.contains("tls")
        || tls_kind
    {
        return Some(StoreError::tls(format!(
            "no TLS handshake with Redis at {url} ({text}); is that port plaintext? Use the server's tls-port, or \
             redis:// for a server without TLS"
        )));
    }
    if lower.contains("connection reset") || lower.contains("broken pipe") || lower.contains("unexpected eof") {
        return Some(StoreError::tls(format!(
            "Redis at {url} closed the connection during the TLS handshake ({text}); it may require a client \
             certificate (MAGEFLOW_REDIS_TLS_CERT_FILE and MAGEFLOW_REDIS_TLS_KEY_FILE) or not speak TLS on that \
             port"
        )));
    }
    None
}

/// After a failed TLS connection whose error hides the reason (a sentinel or cluster client only says that no node
/// answered): the reason a TLS handshake with the first address fails, if it does.
pub(crate) async fn tls_handshake_failure(url: &RedisUrl, config: &RedisStoreConfig) -> Option<String> {
    use fred::rustls::pki_types::ServerName;
    use fred::types::config::TlsConnector;
    let connector = config.tls.connector().ok()?;
    #[allow(irrefutable_let_patterns)]
    let TlsConnector::Rustls(connector) = connector else {
        return None;
    };
    let (host, port) = url.addresses().into_iter().next()?;
    let name = config.tls.checked_server_name().ok().flatten().unwrap_or_else(|| host.clone());
    let server_name = ServerName::try_from(name).ok()?;
    let limit = std::time::Duration::from_secs(5);
    let stream = tokio::time::timeout(limit, tokio::net::TcpStream::connect((host.as_str(), port))).await.ok()?.ok()?;
    match tokio::time::timeout(limit, connector.connect(server_name, stream)).await {
        Ok(Err(error)) => Some(error.to_string()),
        _ => None,
    }
}

/// After a failed TLS connection: whether the first address answers a plaintext `PING` as Redis does (`+PONG`, or
/// an error such as `-NOAUTH`), which means the URL asks for TLS of a port without it.
pub(crate) async fn answers_plaintext(url: &RedisUrl) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((host, port)) = url.addresses().into_iter().next() else {
        return false;
    };
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 1];
        stream.read_exact(&mut reply).await.ok()?;
        Some(reply[0] == b'+' || reply[0] == b'-')
    };
    matches!(tokio::time::timeout(std::time::Duration::from_secs(2), probe).await, Ok(Some(true)))
}

/// The error of a TLS connection to a port that answers in plaintext.
pub(crate) fn plaintext_error(url: &RedisUrl, error: &FredError) -> StoreError {
    StoreError::tls(format!(
        "no TLS handshake with Redis at {url} ({}): that port answers in plaintext; use the server's tls-port, or \
         redis:// for a server without TLS (a rediss:// URL never falls back to plaintext)",
        details(error)
    ))
    .caused_by(error.clone())
}

/// The error of a script call: a refused permission also names the script's line that Redis refused.
pub(crate) fn script_error(error: FredError, user: Option<&str>, source: &str) -> StoreError {
    match command_error(error, user) {
        StoreError::PermissionDenied { detail, cause } => {
            let line = detail
                .split("@user_script:")
                .nth(1)
                .or_else(|| detail.split("@user_function:").nth(1))
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|number| number.parse::<usize>().ok())
                .and_then(|number| source.lines().nth(number.checked_sub(1)?))
                .map(str::trim);
            let detail = match line {
                Some(line) => format!("{detail} The refused line: `{line}`"),
                None => detail,
            };
            StoreError::PermissionDenied { detail, cause }
        }
        other => other,
    }
}

/// The error of a command.
pub(crate) fn command_error(error: FredError, user: Option<&str>) -> StoreError {
    let classified = match access_error(&error, user) {
        Some(access) => access,
        None => match error.kind() {
            ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure => {
                StoreError::unavailable(details(&error))
            }
            ErrorKind::Tls => StoreError::tls(details(&error)),
            _ if error.details().contains("ERR Error running script")
                || error.details().starts_with("ERR user_script") =>
            {
                StoreError::script(error.details().to_owned())
            }
            _ => StoreError::protocol(details(&error)),
        },
    };
    classified.caused_by(error)
}
