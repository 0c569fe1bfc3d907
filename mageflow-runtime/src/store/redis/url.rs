//! Redis URLs: parsing the forms mageflow accepts, and showing them without their password.
//!
//! ```text
//! redis://[[user]:password@]host[:port][/db]                 one server (`redis://password@host` works too)
//! rediss://...                                                the same over TLS
//! redis-cluster://[user[:password]@]host:port[,host:port...]  Redis Cluster (any node; the rest is discovered)
//! rediss-cluster://...                                        the same over TLS
//! redis+sentinel://[user[:password]@]host:port[,host:port...]/service[/db]
//! rediss+sentinel://...                                       the primary of `service`, found through sentinels
//! ```

use std::fmt;

use super::super::StoreError;

/// How the servers of a URL are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server (and its database number).
    Single { host: String, port: u16, db: Option<u8> },
    /// Redis Cluster: the nodes to start discovery from.
    Cluster { nodes: Vec<(String, u16)> },
    /// A primary found through these sentinels under a service name.
    Sentinel { sentinels: Vec<(String, u16)>, service: String, db: Option<u8> },
}

/// A parsed Redis URL. Its `Display` and `Debug` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub topology: Topology,
}

const DEFAULT_PORT: u16 = 6379;
const DEFAULT_SENTINEL_PORT: u16 = 26379;

fn invalid(url: &str, why: impl fmt::Display) -> StoreError {
    StoreError::config(format!(
        "`{}` is not a Redis URL mageflow understands ({why}); use redis://[user:password@]host:port[/db], \
         rediss://... for TLS, redis-cluster://host:port[,host:port...] or \
         redis+sentinel://host:port[,host:port...]/service_name",
        redact(url)
    ))
}

/// `url` with anything that may be a secret replaced by `***`: the password, or the whole user information when
/// it has no `user:` part (some write `redis://password@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // not a URL at all: it may be anything, including a bare password
        return if url.contains('@') || url.contains(':') {
            "<an unparsable URL, hidden>".to_owned()
        } else {
            url.to_owned()
        };
    };
    match rest.rfind('@') {
        None => url.to_owned(),
        Some(at) => {
            let user_info = &rest[..at];
            let shown = match user_info.split_once(':') {
                Some((user, _)) if !user.is_empty() => format!("{user}:***"),
                _ => "***".to_owned(),
            };
            format!("{scheme}://{shown}@{}", &rest[at + 1..])
        }
    }
}

/// `text` with every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) %-escaped, for a URL's user information
/// or path.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `url` with its user information replaced by this user and password.
pub fn with_credentials(url: &str, username: Option<&str>, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    format!("{scheme}://{}:{}@{rest}", escape(username.unwrap_or("")), escape(password))
}

/// `url` with the TLS form of its scheme.
pub fn with_tls(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if !scheme.to_ascii_lowercase().starts_with("rediss") => {
            match scheme.to_ascii_lowercase().strip_prefix("redis") {
                Some(suffix) => format!("rediss{suffix}://{rest}"),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn parse_hosts(url: &str, list: &str, default_port: u16) -> Result<Vec<(String, u16)>, StoreError> {
    let mut hosts = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(invalid(url, "a host is missing"));
        }
        let (host, port) = if let Some(bracketed) = item.strip_prefix('[') {
            let (host, after) =
                bracketed.split_once(']').ok_or_else(|| invalid(url, "an IPv6 address lacks its `]`"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid(url, format!("unexpected `{after}` after an IPv6 address"))),
            }
        } else {
            match item.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (item, None),
            }
        };
        if host.is_empty() {
            return Err(invalid(url, "a host is missing"));
        }
        let port = match port {
            None => default_port,
            Some(port) => port.parse().map_err(|_| invalid(url, format!("`{port}` is not a port number")))?,
        };
        hosts.push((host.to_owned(), port));
    }
    Ok(hosts)
}

fn parse_db(url: &str, segment: Option<&str>) -> Result<Option<u8>, StoreError> {
    match segment {
        None | Some("") => Ok(None),
        Some(db) => db.parse().map(Some).map_err(|_| invalid(url, format!("`{db}` is not a database number"))),
    }
}

impl RedisUrl {
    /// Parses one of the forms in the module's documentation.
    pub fn parse(url: &str) -> Result<RedisUrl, StoreError> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid(url, "it has no scheme such as redis://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let (tls, kind) = match scheme.as_str() {
            "redis" | "valkey" => (false, "single"),
            "rediss" | "valkeys" => (true, "single"),
            "redis-cluster" | "redis+cluster" | "valkey-cluster" => (false, "cluster"),
            "rediss-cluster" | "rediss+cluster" | "valkeys-cluster" => (true, "cluster"),
            "redis+sentinel" | "redis-sentinel" | "valkey+sentinel" => (false, "sentinel"),
            "rediss+sentinel" | "rediss-sentinel" | "valkeys+sentinel" => (true, "sentinel"),
            other => return Err(invalid(url, format!("unknown scheme `{other}`"))),
        };
        let (user_info, rest) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (username, password) = match user_info {
            None => (None, None),
            Some(info) => {
                let decode = |text: &str| {
                    percent_decode(text).ok_or_else(|| invalid(url, "the user information has a bad %-escape"))
                };
                match info.split_once(':') {
                    Some((user, password)) => {
                        let user = decode(user)?;
                        ((!user.is_empty()).then_some(user), Some(decode(password)?))
                    }
                    None if info.is_empty() => (None, None),
                    // `redis://secret@host`: a bare password (the `default` user), as `requirepass` servers take it
                    None => (None, Some(decode(info)?)),
                }
            }
        };
        if rest.contains('?') || rest.contains('#') {
            return Err(invalid(url, "query parameters and fragments are not supported"));
        }
        let (hosts, path) = match rest.split_once('/') {
            Some((hosts, path)) => (hosts, Some(path)),
            None => (rest, None),
        };
        let mut segments = path.map(|path| path.split('/').collect::<Vec<_>>()).unwrap_or_default();
        while segments.last() == Some(&"") {
            segments.pop();
        }
        let topology = match kind {
            "single" => {
                let mut hosts = parse_hosts(url, hosts, DEFAULT_PORT)?;
                if hosts.len() != 1 {
                    return Err(invalid(url, "several hosts need redis-cluster:// or redis+sentinel://"));
                }
                if segments.len() > 1 {
                    return Err(invalid(url, "the path can only be a database number"));
                }
                let (host, port) = hosts.remove(0);
                Topology::Single { host, port, db: parse_db(url, segments.first().copied())? }
            }
            "cluster" => {
                if !segments.is_empty() {
                    return Err(invalid(url, "a cluster has no database number"));
                }
                Topology::Cluster { nodes: parse_hosts(url, hosts, DEFAULT_PORT)? }
            }
            _ => {
                let sentinels = parse_hosts(url, hosts, DEFAULT_SENTINEL_PORT)?;
                let service = match segments.first() {
                    Some(service) if !service.is_empty() => {
                        percent_decode(service).ok_or_else(|| invalid(url, "the service name has a bad %-escape"))?
                    }
                    _ => return Err(invalid(url, "the service name is missing after the sentinels' addresses")),
                };
                if segments.len() > 2 {
                    return Err(invalid(url, "the path is /service_name[/db]"));
                }
                Topology::Sentinel { sentinels, service, db: parse_db(url, segments.get(1).copied())? }
            }
        };
        Ok(RedisUrl { tls, username, password, topology })
    }

    /// Every server address the URL names (the sentinels' for a sentinel URL).
    pub fn addresses(&self) -> Vec<(String, u16)> {
        match &self.topology {
            Topology::Single { host, port, .. } => vec![(host.clone(), *port)],
            Topology::Cluster { nodes } => nodes.clone(),
            Topology::Sentinel { sentinels, .. } => sentinels.clone(),
        }
    }
}

fn write_hosts(f: &mut fmt::Formatter<'_>, hosts: &[(String, u16)]) -> fmt::Result {
    for (index, (host, port)) in hosts.iter().enumerate() {
        if index > 0 {
            f.write_str(",")?;
        }
        if host.contains(':') {
            write!(f, "[{host}]:{port}")?;
        } else {
            write!(f, "{host}:{port}")?;
        }
    }
    Ok(())
}

impl fmt::Display for RedisUrl {
    /// The URL with its password shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.tls { "s" } else { "" };
        match &self.topology {
            Topology::Single { .. } => write!(f, "redis{s}://")?,
            Topology::Cluster { .. } => write!(f, "redis{s}-cluster://")?,
            Topology::Sentinel { .. } => write!(f, "redis{s}+sentinel://")?,
        }
        match (&self.username, &self.password) {
            (Some(user), Some(_)) => write!(f, "{user}:***@")?,
            (None, Some(_)) => f.write_str(":***@")?,
            (Some(user), None) => write!(f, "{user}@")?,
            (None, None) => {}
        }
        write_hosts(f, &self.addresses())?;
        match &self.topology {
            Topology::Single { db: Some(db), .. } => write!(f, "/{db}"),
            Topology::Sentinel { service, db, .. } => {
                write!(f, "/{service}")?;
                match db {
                    Some(db) => write!(f, "/{db}"),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_servers() {
        let url = RedisUrl::parse("redis://app:s%40cret@127.0.0.1:6390/2").unwrap();
        assert_eq!(url.username.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert!(!url.tls);
        assert_eq!(url.topology, Topology::Single { host: "127.0.0.1".into(), port: 6390, db: Some(2) });
        assert_eq!(url.to_string(), "redis://app:***@127.0.0.1:6390/2");
        let url = RedisUrl::parse("rediss://:pw@redis.example.com").unwrap();
        assert!(url.tls);
        assert_eq!(url.username, None);
        assert_eq!(url.to_string(), "rediss://:***@redis.example.com:6379");
        let url = RedisUrl::parse("redis://[::1]:7000/").unwrap();
        assert_eq!(url.topology, Topology::Single { host: "::1".into(), port: 7000, db: None });
        assert_eq!(url.to_string(), "redis://[::1]:7000");
    }

    #[test]
    fn clusters_and_sentinels() {
        let url = RedisUrl::parse("redis-cluster://u:p@a:7000,b:7001,c").unwrap();
        assert_eq!(
            url.topology,
            Topology::Cluster { nodes: vec![("a".into(), 7000), ("b".into(), 7001), ("c".into(), 6379)] }
        );
        assert_eq!(url.to_string(), "redis-cluster://u:***@a:7000,b:7001,c:6379");
        let url = RedisUrl::parse("rediss+sentinel://s1:26380,s2/mymaster/3").unwrap();
        assert!(url.tls);
        assert_eq!(
            url.topology,
            Topology::Sentinel {
                sentinels: vec![("s1".into(), 26380), ("s2".into(), 26379)],
                service: "mymaster".into(),
                db: Some(3)
            }
        );
        assert_eq!(url.to_string(), "rediss+sentinel://s1:26380,s2:26379/mymaster/3");
    }

    #[test]
    fn built_urls() {
        let url = with_credentials("redis-cluster://old:pw@a:1,b:2", Some("app"), "p@ss:/word");
        assert_eq!(url, "redis-cluster://app:p%40ss%3A%2Fword@a:1,b:2");
        let parsed = RedisUrl::parse(&url).unwrap();
        assert_eq!((parsed.username.as_deref(), parsed.password.as_deref()), (Some("app"), Some("p@ss:/word")));
        assert_eq!(with_tls("redis+sentinel://s:1/m"), "rediss+sentinel://s:1/m");
        assert_eq!(with_tls("rediss://h:1"), "rediss://h:1");
        assert_eq!(with_tls("redis-cluster://h:1"), "rediss-cluster://h:1");
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "redis://u:hunter2@host:notaport",
            "redis://u:hunter2@a,b",
            "redis+sentinel://u:hunter2@a:1",
            "http://u:hunter2@a:1",
            "redis://u:hunter2@host/x",
            "redis://hunter2@host:1?x=1",
            "hunter2@host:1",
        ] {
            let error = RedisUrl::parse(bad).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert_eq!(redact("redis://hunter2@h:1"), "redis://***@h:1");
        assert_eq!(redact("redis://u:a@b@h:1"), "redis://u:***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
