//! What the web view's tests share: a real `redis-server` per test on a free port, a client on it with gated tasks,
//! the view served on a free port, and headless Chromium driven through chromedriver (WebDriver).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use mageflow::{Mageflow, TaskError, task};
use mageflow_web::{Server, WebOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, oneshot};

/// How long a test waits for any one thing before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A process, killed when dropped.
pub struct ChildProcess(Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program`, and waits (at most `WAIT`) until a line of its stdout contains `ready`; its output is then
/// drained so that it never blocks on a full pipe.
async fn start_process(mut command: Command, what: &str, ready: &'static str) -> ChildProcess {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let child = ChildProcess(child);
    let (sender, receiver) = oneshot::channel();
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(ready)
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(());
            }
        }
    });
    match tokio::time::timeout(WAIT, receiver).await {
        Ok(Ok(())) => child,
        Ok(Err(_)) => panic!("{what} exited before it said `{ready}`"),
        Err(_) => panic!("{what} did not say `{ready}` within {WAIT:?}"),
    }
}

/// A `redis-server` this test started on a free port (nothing saved to disk), stopped when dropped.
pub struct RedisServer {
    pub url: String,
    _process: ChildProcess,
}

impl RedisServer {
    /// Panics, never skips, when Redis is not installed.
    pub async fn start() -> RedisServer {
        if which("redis-server").is_none() {
            panic!("redis-server is missing: install Redis (`apt-get install redis-server`, as .ci/run does)");
        }
        let port = free_port().to_string();
        let mut command = Command::new("redis-server");
        command.args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        let process = start_process(command, "redis-server", "Ready to accept connections").await;
        RedisServer { url: format!("redis://127.0.0.1:{port}"), _process: process }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

// ---- gated tasks ---------------------------------------------------------------------------------------------

static GATES: LazyLock<Mutex<HashMap<String, Gate>>> = LazyLock::new(Default::default);
static NEXT_GATE: AtomicU64 = AtomicU64::new(0);

/// A gate the `resize` task waits at: each permit lets one run through. It counts the runs that reached it.
#[derive(Clone)]
pub struct Gate {
    pub name: String,
    permits: Arc<Semaphore>,
    arrivals: Arc<Semaphore>,
}

impl Gate {
    pub fn new() -> Gate {
        let name = format!("gate-{}-{}", std::process::id(), NEXT_GATE.fetch_add(1, Ordering::Relaxed));
        let gate =
            Gate { name: name.clone(), permits: Arc::new(Semaphore::new(0)), arrivals: Arc::new(Semaphore::new(0)) };
        GATES.lock().unwrap().insert(name, gate.clone());
        gate
    }

    /// Lets `runs` more runs through.
    pub fn open(&self, runs: usize) {
        self.permits.add_permits(runs);
    }

    /// Waits until `runs` more runs reached the gate (their handlers run, so their signatures are active).
    pub async fn reached(&self, runs: u32) {
        let arrived = tokio::time::timeout(WAIT, self.arrivals.acquire_many(runs)).await;
        arrived.unwrap_or_else(|_| panic!("{runs} runs did not reach the gate within {WAIT:?}")).unwrap().forget();
    }

    async fn pass(name: &str) -> Result<(), TaskError> {
        let gate = GATES.lock().unwrap().get(name).cloned().ok_or_else(|| TaskError::new("no such gate"))?;
        gate.arrivals.add_permits(1);
        gate.permits.acquire().await.map_err(|_| TaskError::new("gate closed"))?.forget();
        Ok(())
    }
}

/// The input of `resize`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Job {
    /// The gate to wait at (`""`: none).
    #[serde(default)]
    pub gate: String,
    /// The image.
    pub n: u64,
    /// Whether it fails (once: no retries).
    #[serde(default)]
    pub fail: bool,
}

/// Waits at its gate, then answers `n * 10`, or fails when asked to.
#[task]
pub async fn resize(job: Job) -> Result<u64, TaskError> {
    if !job.gate.is_empty() {
        Gate::pass(&job.gate).await?;
    }
    if job.fail {
        return Err(TaskError::non_retryable(format!("image {} is corrupt: unexpected end of JPEG data", job.n)));
    }
    Ok(job.n * 10)
}

/// Answers its input.
#[task]
pub async fn prepare(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
    Ok(input)
}

/// Answers its input.
#[task]
pub async fn publish(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
    Ok(input)
}

/// Answers its input (a success callback).
#[task]
pub async fn notify(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
    Ok(input)
}

/// Answers its input (an error callback).
#[task]
pub async fn alert(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
    Ok(input)
}

/// A client on `redis` with the test tasks, running them in this process, no recovery sweep.
pub async fn client(redis: &RedisServer) -> Mageflow {
    Mageflow::builder()
        .redis_url(redis.url.clone())
        .task(resize)
        .task(prepare)
        .task(publish)
        .task(notify)
        .task(alert)
        .recovery(None, Duration::from_secs(60))
        .build()
        .await
        .expect("the client connects to the test's Redis")
}

// ---- the view ------------------------------------------------------------------------------------------------

/// The web view on a free port of 127.0.0.1, stopped when dropped.
pub struct View {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl View {
    pub async fn start(client: Mageflow, options: WebOptions) -> View {
        let options = options.bind("127.0.0.1:0".parse().unwrap());
        let server = Server::bind(client, options).await.expect("the web view binds a free port");
        let address = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        View { address, stop: Some(stop) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ---- the browser ---------------------------------------------------------------------------------------------

/// Headless Chromium behind its own chromedriver, with a fresh profile; everything is removed when dropped.
pub struct Browser {
    pub client: Client,
    driver: ChildProcess,
    profile: PathBuf,
}

impl Drop for Browser {
    /// Ends the WebDriver session (Chromium quits), then kills chromedriver's process group, where Chromium runs,
    /// so that a test that failed half-way leaves no browser behind; then removes the profile.
    fn drop(&mut self) {
        let client = self.client.clone();
        let close =
            async move { matches!(tokio::time::timeout(Duration::from_secs(10), client.close()).await, Ok(Ok(()))) };
        let closed = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| runtime.block_on(close))
            }
            _ => false,
        };
        if !closed {
            let group = self.driver.0.id();
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).stderr(Stdio::null()).status();
        }
        // (when the session closed, Chromium has quit and chromedriver reaped it; `driver` is killed on drop)
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Chromium and chromedriver: `CHROME` and `CHROMEDRIVER` when set, else Debian's. Panics, never skips, when
/// either is missing.
fn browser_programs() -> (PathBuf, PathBuf) {
    let chrome = std::env::var("CHROME").unwrap_or_else(|_| "chromium".to_owned());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    match (which(&chrome), which(&driver)) {
        (Some(chrome), Some(driver)) => (chrome, driver),
        (chrome_found, driver_found) => {
            let missing: Vec<&str> =
                [(chrome_found.is_none(), chrome.as_str()), (driver_found.is_none(), driver.as_str())]
                    .into_iter()
                    .filter_map(|(missing, name)| missing.then_some(name))
                    .collect();
            panic!(
                "the browser tests need headless Chromium and chromedriver, and `{}` {} missing: install Debian's \
                 packages (`apt-get install chromium chromium-driver`, as .ci/run does), or set CHROME and \
                 CHROMEDRIVER to their paths",
                missing.join("` and `"),
                if missing.len() > 1 { "are" } else { "is" }
            )
        }
    }
}

impl Browser {
    pub async fn start() -> Browser {
        let (chrome, driver) = browser_programs();
        let port = free_port();
        let mut command = Command::new(&driver);
        // its own process group, which Chromium joins: `Drop` kills them together
        command.arg(format!("--port={port}")).process_group(0);
        let driver_process = start_process(command, "chromedriver", "started successfully").await;
        static NEXT_PROFILE: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "mageflow-web-chromium-{}-{}",
            std::process::id(),
            NEXT_PROFILE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("a temporary Chromium profile");
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                    "--disable-crash-reporter",
                    "--disable-breakpad",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    "--window-size=1280,860",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|error| panic!("chromedriver could not start Chromium ({}): {error}", chrome.display()));
        Browser { client, driver: driver_process, profile }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|error| panic!("Chromium could not open {url}: {error}"));
    }

    /// Waits until an element matches `css`; fails with what was waited for and the page's visible text.
    pub async fn wait_for(&self, css: &str, what: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(WAIT).every(Duration::from_millis(50)).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => {
                let text = match self.client.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("waited {WAIT:?} for {what} (`{css}`): {error}\nthe page shows:\n{text}")
            }
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|error| panic!("no `{css}` on the page: {error}"))
    }

    /// Does `act` on the element `css` finds; when the page replaced that element in between (a live update
    /// re-renders the flow), finds it again, for at most `WAIT`.
    async fn on_element<T>(&self, css: &str, what: &str, act: Act) -> T
    where
        T: From<Acted>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let element = self.find(css).await;
            let result = match act {
                Act::Text => element.text().await.map(Acted::Text),
                Act::Attr(name) => element.attr(name).await.map(Acted::Attr),
                Act::Click => element.click().await.map(|()| Acted::Done),
                Act::Enabled => element.is_enabled().await.map(Acted::Enabled),
            };
            match result {
                Ok(acted) => return acted.into(),
                Err(error) if is_stale(&error) && tokio::time::Instant::now() < deadline => continue,
                Err(error) => panic!("{what} of `{css}`: {error}"),
            }
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, "the text", Act::Text).await
    }

    pub async fn attr(&self, css: &str, attribute: &'static str) -> Option<String> {
        self.on_element(css, "an attribute", Act::Attr(attribute)).await
    }

    pub async fn click(&self, css: &str) {
        let Acted::Done = self.on_element(css, "clicking", Act::Click).await else { unreachable!() };
    }

    pub async fn is_enabled(&self, css: &str) -> bool {
        self.on_element(css, "whether enabled", Act::Enabled).await
    }

    /// The `data-id` of every element `css` finds, read at one moment.
    pub async fn ids(&self, css: &str) -> Vec<String> {
        let script = "return [...document.querySelectorAll(arguments[0])].map((el) => el.getAttribute('data-id'))";
        let found = self.client.execute(script, vec![css.into()]).await.unwrap_or_else(|e| panic!("`{css}`: {e}"));
        serde_json::from_value(found).unwrap_or_else(|e| panic!("the ids of `{css}`: {e}"))
    }

    /// How many elements `css` finds.
    pub async fn count(&self, css: &str) -> usize {
        let script = "return document.querySelectorAll(arguments[0]).length";
        let found = self.client.execute(script, vec![css.into()]).await.unwrap_or_else(|e| panic!("`{css}`: {e}"));
        found.as_u64().unwrap_or_else(|| panic!("a count of `{css}`, not {found}")) as usize
    }

    /// The `data-status` of the node with this id, as the page shows it.
    pub async fn node_status(&self, id: &str) -> String {
        self.attr(&format!(".node[data-id=\"{id}\"]"), "data-status").await.unwrap_or_default()
    }
}

#[derive(Clone, Copy)]
enum Act {
    Text,
    Attr(&'static str),
    Click,
    Enabled,
}

enum Acted {
    Text(String),
    Attr(Option<String>),
    Done,
    Enabled(bool),
}

impl From<Acted> for String {
    fn from(acted: Acted) -> String {
        match acted {
            Acted::Text(text) => text,
            _ => unreachable!("asked for a text"),
        }
    }
}

impl From<Acted> for Option<String> {
    fn from(acted: Acted) -> Option<String> {
        match acted {
            Acted::Attr(value) => value,
            _ => unreachable!("asked for an attribute"),
        }
    }
}

impl From<Acted> for bool {
    fn from(acted: Acted) -> bool {
        match acted {
            Acted::Enabled(enabled) => enabled,
            _ => unreachable!("asked whether enabled"),
        }
    }
}

fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    matches!(error, fantoccini::error::CmdError::Standard(e) if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}
