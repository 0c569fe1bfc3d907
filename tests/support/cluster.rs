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

/// A new empty directory under the system's temp dir, for one test's files.
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mageflow-{what}-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// One `redis-server` process (a server or a sentinel) started by the test, killed when dropped.
pub struct RedisProcess {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl RedisProcess {
    /// Starts `redis-server` in `dir` with these arguments (after the optional config file) and waits until its
    /// log says it accepts connections (`Ready to accept connections` or, for a sentinel, `Sentinel ID`). Panics,
    /// never skips, when it cannot.
    pub fn start(port: u16, dir: &Path, args: &[&str]) -> RedisProcess {
        let mut child = Command::new("redis-server")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start redis-server ({error}): install Redis (redis-server)"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") || line.contains("Sentinel ID") => break,
                Some(Ok(line)) => seen.push(line),
                _ => panic!("redis-server {args:?} exited before accepting connections:\n{}", seen.join("\n")),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        RedisProcess { port, dir: dir.to_owned(), child }
    }

    /// Kills the process (a server that dies).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real Redis Cluster of three primaries (no replicas) on free ports, each node in its own directory; every node
/// is killed when dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisProcess>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three `redis-server --cluster-enabled yes` nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let dir = temp_dir("cluster");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("a node dir");
            let port_text = port.to_string();
            nodes.push(RedisProcess::start(
                port,
                &node_dir,
                &[
                    "--port",
                    &port_text,
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
                ],
            ));
        }
        let addresses: Vec<String> = nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        redis_cli(&args);
        for node in &nodes {
            let port = node.port.to_string();
            wait_until("cluster_state:ok on every node", Duration::from_secs(30), || {
                redis_cli(&["-p", &port, "cluster", "info"]).contains("cluster_state:ok")
            });
        }
        RedisCluster { nodes, dir }
    }

    /// `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        format!("redis-cluster://{}", nodes.join(","))
    }

    /// The port of the node that serves `key`'s slot.
    pub fn node_of(&self, key: &str) -> u16 {
        let slot = redis_cli(&["-p", &self.nodes[0].port.to_string(), "cluster", "keyslot", key]);
        let slot: u16 = slot.trim().parse().expect("a slot number");
        let nodes = redis_cli(&["-p", &self.nodes[0].port.to_string(), "cluster", "nodes"]);
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
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
