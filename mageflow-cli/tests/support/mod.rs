//! What the CLI's tests share: a real `redis-server` per test, a worker client with the test tasks (in the test
//! process, apart from the CLI's process), gates that hold a task until the test opens them, and running the built
//! `mageflow` binary with a timeout.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use mageflow::{Mageflow, TaskError, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// How long a test waits for any one thing before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// A `redis-server` this test started on a free port, stopped when dropped.
pub struct RedisServer {
    pub url: String,
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` (nothing saved to disk) and waits until it accepts connections. Panics, never skips,
    /// when it cannot.
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start redis-server ({error}): install Redis (e.g. `apt-get install redis-server`)")
            });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(_)) => {}
                _ => panic!("redis-server on port {port} exited before accepting connections"),
            }
        }
        // keep draining its output so that it never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        RedisServer { url: format!("redis://127.0.0.1:{port}"), child }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (right now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// A key prefix of this test's own.
pub fn prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("cli{}{}{test}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Num {
    pub n: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hold {
    /// The gate the task waits at.
    pub gate: String,
    pub n: i64,
}

/// Doubles `n`.
#[task(retries = 2, timeout = "30s")]
pub async fn double(input: Num) -> Result<Num, TaskError> {
    Ok(Num { n: input.n * 2 })
}

/// Always fails.
#[task]
pub async fn broken(input: Num) -> Result<Num, TaskError> {
    Err(TaskError::non_retryable(format!("cannot take {}", input.n)))
}

/// Waits at its gate, then answers `n`.
#[task]
pub async fn hold(input: Hold) -> Result<Num, TaskError> {
    let gate = gate(&input.gate);
    gate.started.add_permits(1);
    let _closed = gate.open.acquire().await;
    Ok(Num { n: input.n })
}

/// Holds `hold` tasks until the test opens it.
pub struct Gate {
    started: Semaphore,
    open: Semaphore,
}

impl Gate {
    /// Waits until a `hold` task reached the gate.
    pub async fn started(&self) {
        tokio::time::timeout(WAIT, self.started.acquire()).await.expect("a task reached the gate").unwrap().forget();
    }

    /// Lets every task through, now and later.
    pub fn open(&self) {
        self.open.close();
    }
}

/// The gate of this name.
pub fn gate(name: &str) -> Arc<Gate> {
    static GATES: LazyLock<Mutex<HashMap<String, Arc<Gate>>>> = LazyLock::new(Mutex::default);
    let mut gates = GATES.lock().unwrap();
    gates
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(Gate { started: Semaphore::new(0), open: Semaphore::new(0) }))
        .clone()
}

/// A worker: a client with the test tasks, sweeping the outbox every 50 ms for runs of any age (so that what the
/// CLI leaves there begins at once), with short leases (so that an interrupted run is aborted soon).
pub async fn worker(url: &str, prefix: &str) -> Mageflow {
    Mageflow::builder()
        .redis_url(url)
        .key_prefix(prefix)
        .task(double)
        .task(broken)
        .task(hold)
        .recovery(Some(Duration::from_millis(50)), Duration::ZERO)
        .run_lease(Duration::from_millis(600))
        .build()
        .await
        .expect("the worker starts")
}

/// What a run of the binary left.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The `mageflow` command on this Redis and prefix, without logs.
pub fn command(url: &str, prefix: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mageflow"));
    command
        .args(["--redis-url", url, "--prefix", prefix])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("REDIS_URL")
        .env_remove("MAGEFLOW_PREFIX")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `mageflow --redis-url URL --prefix PREFIX ARGS...` to its end (failing the test after [`WAIT`]).
pub async fn mageflow(url: &str, prefix: &str, args: &[&str]) -> Ran {
    let output = tokio::time::timeout(WAIT, command(url, prefix, args).output())
        .await
        .unwrap_or_else(|_| panic!("`mageflow {}` did not end within {WAIT:?}", args.join(" ")))
        .expect("the binary runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
