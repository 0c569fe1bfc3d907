//! Redis servers with a configuration of the test's own (TLS, ACL users, a replica, a sentinel), and a real
//! three-primary Redis Cluster; every process is killed and its directory removed when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts a cluster node in its own directory under `dir`, on a free port whose cluster bus port (10,000 higher)
/// is free too. A port is only free when asked: another process (a client connection's local port, often, for the
/// bus port) may take it before the node binds it, so a node that cannot bind tries again on other ports.
fn start_node(dir: &Path, node_args: &impl Fn(u16) -> Vec<String>) -> RedisProcess {
    let mut problems = Vec::new();
    for _ in 0..5 {
        let port = loop {
            let port = free_port();
            let bus = port.checked_add(10_000);
            if bus.is_some_and(|bus| TcpListener::bind(("127.0.0.1", bus)).is_ok()) {
                break port;
            }
        };
        let node_dir = dir.join(port.to_string());
        std::fs::create_dir_all(&node_dir).expect("a node dir");
        let mut args = node_args(port);
        args.extend(
            [
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match RedisProcess::try_start(port, &node_dir, &args) {
            Ok(node) => return node,
            Err(problem) => problems.push(problem),
        }
    }
    panic!("no cluster node started in 5 tries:\n{}", problems.join("\n"))
}

/// Waits until the `redis-server` `child` (its stdout piped) says it accepts connections (`Ready to accept
/// connections` or, for a sentinel, `Sentinel ID`), then keeps draining its output so that it never blocks on a full
/// pipe. When it exits first, what it printed, under `what`.
pub fn wait_until_ready(child: &mut Child, what: &str) -> Result<(), String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Ready to accept connections") || line.contains("Sentinel ID") => break,
            Some(Ok(line)) => seen.push(line),
            _ => {
                let _ = child.wait();
                return Err(format!("{what} exited before accepting connections:\n{}", seen.join("\n")));
            }
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok(())
}

/// A new empty directory under the system's temp dir, for one test's files; removed when dropped.
pub fn temp_dir(what: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "mageflow-{what}-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    TempDir(dir)
}

/// A directory removed (with its contents) when dropped.
pub struct TempDir(pub PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` process (a server or a sentinel) started by the test, killed when dropped.
pub struct RedisProcess {
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Child,
}

impl RedisProcess {
    /// Starts `redis-server` in `dir` with these arguments (after the optional config file) and waits until its
    /// log says it accepts connections (`Ready to accept connections` or, for a sentinel, `Sentinel ID`). Panics,
    /// never skips, when it cannot.
    pub fn start(port: u16, dir: &Path, args: &[&str]) -> RedisProcess {
        RedisProcess::try_start(port, dir, args).unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// [`start`](Self::start), or what went wrong when the server exited before accepting connections.
    pub fn try_start(port: u16, dir: &Path, args: &[&str]) -> Result<RedisProcess, String> {
        let mut child = Command::new("redis-server")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start redis-server ({error}): install Redis (redis-server)"));
        wait_until_ready(&mut child, &format!("redis-server {args:?}"))?;
        Ok(RedisProcess { port, dir: dir.to_owned(), args: args.iter().map(|arg| arg.to_string()).collect(), child })
    }

    /// Kills the process (a server that dies).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the process and starts it again with the same arguments in the same directory (a restart: its
    /// memory, script cache included, is gone; a cluster node keeps its `nodes.conf`).
    pub fn restart(&mut self) {
        self.kill();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let fresh = RedisProcess::start(self.port, &self.dir, &args);
        *self = fresh;
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `redis-cli` with these arguments, returning its standard output; panics when it fails.
pub fn redis_cli(args: &[&str]) -> String {
    let output = Command::new("redis-cli").args(args).output().expect("redis-cli runs");
    assert!(output.status.success(), "redis-cli {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits (polling every 50 ms, at most `limit`) until `check` holds; panics with `what` otherwise.
pub fn wait_until(what: &str, limit: Duration, check: impl FnMut() -> bool) {
    assert!(holds_within(limit, check), "{what} did not happen within {limit:?}");
}

/// Whether `check` holds within `limit` (polling every 50 ms).
pub fn holds_within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !check() {
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A real Redis Cluster of three primaries (no replicas) on free ports, each node in its own directory; every node
/// is killed when dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisProcess>,
    /// What `redis-cli` needs before its own arguments to talk to the nodes (`--tls --cacert ..` over TLS).
    pub cli_prefix: Vec<String>,
    /// Whether the nodes serve TLS only.
    pub tls: bool,
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts three `redis-server --cluster-enabled yes` nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        RedisCluster::start_with(|port| vec!["--port".into(), port.to_string()], Vec::new(), false, 0)
    }

    /// Three primaries, each with `replicas` replicas (`redis-cli --cluster create --cluster-replicas N`); the
    /// replicas follow the primaries in [`nodes`](Self::nodes).
    pub fn start_with_replicas(replicas: usize) -> RedisCluster {
        RedisCluster::start_with(|port| vec!["--port".into(), port.to_string()], Vec::new(), false, replicas)
    }

    /// The same, serving TLS only (clients and the cluster bus) with these PEM files; clients need no certificate.
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> RedisCluster {
        let text = |path: &Path| path.to_str().expect("a UTF-8 path").to_owned();
        let (cert, key, ca) = (text(cert), text(key), text(ca));
        let node_args = |port: u16| {
            [
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--tls-cluster",
                "yes",
                "--tls-replication",
                "yes",
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-auth-clients",
                "no",
            ]
            .map(String::from)
            .to_vec()
        };
        RedisCluster::start_with(node_args, vec!["--tls".into(), "--cacert".into(), ca.clone()], true, 0)
    }

    fn start_with(
        node_args: impl Fn(u16) -> Vec<String>,
        cli_prefix: Vec<String>,
        tls: bool,
        replicas: usize,
    ) -> RedisCluster {
        let dir = temp_dir("cluster");
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            nodes.push(start_node(&dir, &node_args));
        }
        let cluster = RedisCluster { nodes, cli_prefix, tls, _dir: dir };
        let addresses: Vec<String> = cluster.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        let replicas_text = replicas.to_string();
        args.extend(["--cluster-replicas", &replicas_text, "--cluster-yes"]);
        cluster.cli(0, &args);
        cluster.wait_until_settled();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok` and has a live bus link to every other node (a PUBLISH is
    /// relayed only over live links).
    pub fn wait_until_settled(&self) {
        let count = self.nodes.len();
        for index in 0..count {
            wait_until("cluster_state:ok and every bus link up", Duration::from_secs(30), || {
                let nodes = self.cli(index, &["cluster", "nodes"]);
                self.cli(index, &["cluster", "info"]).contains("cluster_state:ok")
                    && nodes.lines().filter(|line| line.trim_end().contains(" connected")).count() == count
            });
        }
    }

    /// Runs `redis-cli` against node `index` (or, for `--cluster` commands, wherever its arguments say).
    pub fn cli(&self, index: usize, args: &[&str]) -> String {
        let port = self.nodes[index].port.to_string();
        let mut all: Vec<&str> = self.cli_prefix.iter().map(String::as_str).collect();
        if args.first() != Some(&"--cluster") {
            all.extend(["-p", &port]);
        }
        all.extend(args);
        redis_cli(&all)
    }

    /// `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` (`rediss-cluster://` over TLS).
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        format!("redis{}-cluster://{}", if self.tls { "s" } else { "" }, nodes.join(","))
    }

    /// The port of the primary that serves `key`'s slot.
    pub fn node_of(&self, key: &str) -> u16 {
        let slot: u16 = self.cli(0, &["cluster", "keyslot", key]).trim().parse().expect("a slot number");
        let nodes = self.cli(0, &["cluster", "nodes"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let port: u16 = fields[1].split(['@', ':']).nth(1).and_then(|p| p.parse().ok()).expect("a node port");
            for range in &fields[8..] {
                let (low, high) = match range.split_once('-') {
                    Some((low, high)) => (low.parse::<u16>(), high.parse::<u16>()),
                    None => (range.parse::<u16>(), range.parse::<u16>()),
                };
                if let (Ok(low), Ok(high)) = (low, high)
                    && (low..=high).contains(&slot)
                {
                    return port;
                }
            }
        }
        panic!("no node serves slot {slot}")
    }

    /// The port of a replica of the primary on `primary` (waiting until the cluster knows one).
    pub fn replica_of(&self, primary: u16) -> u16 {
        let mut found = None;
        wait_until("the primary has a replica", Duration::from_secs(30), || {
            found = self.known_replica_of(primary);
            found.is_some()
        });
        found.expect("a replica")
    }

    fn known_replica_of(&self, primary: u16) -> Option<u16> {
        let nodes = self.cli(0, &["cluster", "nodes"]);
        let lines: Vec<Vec<&str>> = nodes.lines().map(|line| line.split_whitespace().collect()).collect();
        let address = format!("127.0.0.1:{primary}@");
        let primary_id = lines.iter().find(|fields| fields.len() > 1 && fields[1].starts_with(&address))?[0];
        let replica =
            lines.iter().find(|fields| fields.len() > 3 && fields[2].contains("slave") && fields[3] == primary_id)?;
        replica[1].split(['@', ':']).nth(1)?.parse().ok()
    }

    /// Promotes the replica on `replica` with `CLUSTER FAILOVER` (its primary hands over once the replica caught
    /// up) and waits until every node sees it as a primary. Redis abandons a manual failover whose election does
    /// not end within 5 s (on a busy machine it may not), so one that has not made the replica a primary in its own
    /// eyes within 15 s is asked for again, up to three times.
    pub fn fail_over_to(&self, replica: u16) {
        let index = self.index_of(replica);
        wait_until("the replica is in sync", Duration::from_secs(30), || {
            self.cli(index, &["info", "replication"]).contains("master_link_status:up")
        });
        let is_primary_for = |viewer: usize| {
            self.cli(viewer, &["cluster", "nodes"]).lines().any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 2
                    && fields[1].starts_with(&format!("127.0.0.1:{replica}@"))
                    && fields[2].contains("master")
            })
        };
        let mut asked = 0;
        // (asked again only while it is still a replica: a primary refuses CLUSTER FAILOVER)
        while !is_primary_for(index) {
            assert!(asked < 3, "the replica on port {replica} did not take over after {asked} manual failovers");
            assert_eq!(self.cli(index, &["cluster", "failover"]).trim(), "OK");
            asked += 1;
            holds_within(Duration::from_secs(15), || is_primary_for(index));
        }
        for viewer in 0..self.nodes.len() {
            let what = format!("node {} seeing the replica on port {replica} as a primary", self.nodes[viewer].port);
            wait_until(&what, Duration::from_secs(30), || is_primary_for(viewer));
        }
        self.wait_until_settled();
    }

    /// The index in [`nodes`](Self::nodes) of the node on `port`.
    pub fn index_of(&self, port: u16) -> usize {
        self.nodes.iter().position(|node| node.port == port).expect("a node of this cluster")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // the nodes go before their directory
        self.nodes.clear();
    }
}
