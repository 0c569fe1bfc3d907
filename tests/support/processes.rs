//! Tests whose workers are other OS processes: the test binary starts itself again in a role named by an
//! environment variable, reads the `<TAG> `-prefixed lines its children print, and kills them with SIGKILL.
//! Children record what they run in Redis, since the test cannot see their memory.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mageflow::store::Script;
use mageflow::{RedisStore, Store, TaskError};
use tokio::sync::mpsc;

/// A line a child printed (behind the tag), or the end of its output, with the child's index.
#[derive(Debug)]
pub enum Said {
    Line(usize, String),
    Closed(usize),
}

/// A child process, killed when dropped.
pub struct ChildProcess {
    pub child: Child,
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints `<tag> <line>` on stdout, where the parent reads it.
pub fn say(tag: &str, line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{tag} {line}");
    let _ = out.flush();
}

/// Starts this test binary again with `role_var=role` and `env`, its stdin piped (a child stops when it closes)
/// and its `<tag> ` lines sent to `said` with `index`.
pub fn spawn_child(
    index: usize,
    (role_var, role): (&str, &str),
    tag: &'static str,
    env: &[(&str, String)],
    said: mpsc::UnboundedSender<Said>,
) -> ChildProcess {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env(role_var, role).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the child process starts");
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let prefix = format!("{tag} ");
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(line) = line.strip_prefix(&prefix) {
                let _ = said.send(Said::Line(index, line.to_owned()));
            }
        }
        let _ = said.send(Said::Closed(index));
    });
    ChildProcess { child }
}

/// The next thing a child said, failing the test after `timeout`.
pub async fn next(said: &mut mpsc::UnboundedReceiver<Said>, timeout: Duration) -> Said {
    tokio::time::timeout(timeout, said.recv())
        .await
        .expect("the children kept printing")
        .expect("the children's output is read")
}

/// Blocks until stdin closes: a child's way to live as long as its parent wants.
pub async fn until_stdin_closes() {
    use std::io::Read;
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await.ok();
}

/// What a child records with: its Redis, key prefix and name.
pub struct Recorder {
    pub store: RedisStore,
    pub prefix: String,
    pub name: String,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

impl Recorder {
    /// Sets this process's recorder (once, before its tasks run).
    pub fn install(recorder: Recorder) {
        let _ = RECORDER.set(recorder);
    }

    /// This process's recorder.
    pub fn get() -> &'static Recorder {
        RECORDER.get().expect("the child sets its recorder before its tasks run")
    }

    /// Runs a Lua script on the recorder's Redis.
    pub async fn record(&self, script: &'static str, args: Vec<String>) -> Result<(), TaskError> {
        let key = args.first().cloned().into_iter().collect();
        self.store.eval(&Script::new(script), key, args).await.map_err(|error| TaskError::new(error.to_string()))?;
        Ok(())
    }
}
