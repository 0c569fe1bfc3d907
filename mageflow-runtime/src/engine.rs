//! The engine: turns requests and task outcomes into calls of the transition script, and the dispatches those
//! calls return into runs for the backend.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::{Backend, Interrupt, Run};
use crate::config::TtlConfig;
use crate::error::{Error, Result};
use crate::flow::{Node, Record, encode_records, records};
use crate::input;
use crate::model::{ErrorKind, ErrorReport, Failure, SignatureId};
use crate::registry::Registry;
use crate::store::{Reply, Script, Store, StoreError};

/// How long a run holds its signature without renewing its lease, unless configured.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// A task the transition script says is due, before its input is built.
#[derive(Debug)]
struct Due {
    id: SignatureId,
    token: u64,
    task: String,
    message: String,
    route: bool,
    return_field: Option<String>,
    args: Vec<String>,
}

/// What one call of the transition script decided.
#[derive(Debug)]
pub(crate) struct Transition {
    pub code: String,
    due: Vec<Due>,
    pub interrupts: Vec<Interrupt>,
    pub extra: Vec<String>,
}

impl Transition {
    /// How many tasks the transition made due.
    pub fn dispatch_count(&self) -> usize {
        self.due.len()
    }
}

fn protocol(detail: impl Into<String>) -> Error {
    Error::Store(StoreError::Protocol(detail.into()))
}

fn texts(reply: Option<&Reply>) -> Vec<String> {
    reply
        .and_then(Reply::as_array)
        .map(|items| items.iter().filter_map(|item| item.as_text().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn parse_transition(reply: Reply) -> Result<Transition> {
    let parts = reply.as_array().ok_or_else(|| protocol(format!("the transition script returned {reply:?}")))?;
    let code = parts.first().and_then(Reply::as_text).ok_or_else(|| protocol("a transition without a code"))?;
    let mut due = Vec::new();
    for entry in parts.get(1).and_then(Reply::as_array).unwrap_or_default() {
        let words = texts(Some(entry));
        if words.len() < 6 {
            return Err(protocol(format!("a dispatch entry with {} fields", words.len())));
        }
        let id = SignatureId::parse(&words[0]).ok_or_else(|| protocol(format!("bad id `{}`", words[0])))?;
        due.push(Due {
            id,
            token: words[1].parse().map_err(|_| protocol(format!("bad token `{}`", words[1])))?,
            task: words[2].clone(),
            message: words[3].clone(),
            route: words[4] == "1",
            return_field: (!words[5].is_empty()).then(|| words[5].clone()),
            args: words[6..].to_vec(),
        });
    }
    let mut interrupts = Vec::new();
    for entry in parts.get(2).and_then(Reply::as_array).unwrap_or_default() {
        let words = texts(Some(entry));
        let Some(signature_id) = words.first().and_then(|id| SignatureId::parse(id)) else {
            return Err(protocol(format!("bad interrupt entry {entry:?}")));
        };
        let run_ref = words.get(1).filter(|r| !r.is_empty()).cloned();
        interrupts.push(Interrupt { signature_id, run_ref });
    }
    Ok(Transition { code: code.to_owned(), due, interrupts, extra: texts(parts.get(3)) })
}

/// Builds a due task's input; on failure, the reason.
fn build_input(due: &Due) -> std::result::Result<Value, String> {
    let message: Value =
        serde_json::from_str(&due.message).map_err(|error| format!("the stored message is not JSON ({error})"))?;
    let mut layers = Vec::with_capacity(due.args.len());
    for args in &due.args {
        layers.push(input::merged_layers(args)?);
    }
    input::build(message, due.route, due.return_field.as_deref(), &layers)
}

/// One part of an atomic batch (see the transition script's "batches").
pub(crate) enum Sub {
    /// Store a tree.
    Create(Node),
    /// Store a tree and start its root with a message.
    Run(Node, Value),
    /// Start a stored signature with a message.
    Start(SignatureId, Value),
    /// Add items to a swarm, closing it if asked.
    Add { swarm: SignatureId, close: bool, items: Vec<Node> },
    /// Add a layer of bound arguments to a signature.
    Update(SignatureId, serde_json::Map<String, Value>),
    /// Close a swarm.
    Close(SignatureId),
    /// Append ids to a task run's creation journal.
    Journal(String, Vec<SignatureId>),
}

/// The engine of one client: its store, key prefix, TTLs, known tasks and backend.
pub(crate) struct Engine {
    pub store: Arc<dyn Store>,
    pub prefix: String,
    ttl: [String; 6],
    pub registry: Arc<Registry>,
    pub backend: Arc<dyn Backend>,
    /// How long transitions after a task run are retried while the store is unreachable.
    pub store_retry: Duration,
    /// Whether runs of tasks with retries journal what they create (see `scope`).
    pub idempotent_creation: bool,
    /// How long a run that began holds its signature without renewing its lease.
    pub lease: Duration,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        prefix: String,
        ttl: &TtlConfig,
        registry: Arc<Registry>,
        backend: Arc<dyn Backend>,
    ) -> Self {
        Engine {
            store,
            prefix,
            ttl: ttl.script_args(),
            registry,
            backend,
            store_retry: Duration::from_secs(60),
            idempotent_creation: true,
            lease: DEFAULT_LEASE,
        }
    }

    pub fn signature_key(&self, id: &SignatureId) -> String {
        format!("{}:sig:{id}", self.prefix)
    }

    pub fn definition_key(&self, task: &str) -> String {
        format!("{}:task:{task}", self.prefix)
    }

    pub fn finished_channel(&self, id: &SignatureId) -> String {
        format!("{}:finished:{id}", self.prefix)
    }

    /// Calls the transition script once.
    pub async fn call(&self, op: &str, op_args: Vec<String>) -> Result<Transition> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut args = Vec::with_capacity(10 + op_args.len());
        args.push(op.to_owned());
        args.push(self.prefix.clone());
        args.extend(self.ttl.iter().cloned());
        args.push(now.as_millis().to_string());
        args.push(self.lease.as_millis().to_string());
        args.extend(op_args);
        let reply = self.store.eval(Script::engine(), Vec::new(), args).await?;
        parse_transition(reply)
    }

    /// Calls the transition script, retrying while the store is unreachable (every operation is idempotent, so a
    /// call that did apply before the connection broke is harmless to send again).
    pub async fn call_retrying(&self, op: &str, op_args: Vec<String>) -> Result<Transition> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.call(op, op_args.clone()).await {
                Err(Error::Store(StoreError::Unavailable(detail))) if started.elapsed() < self.store_retry => {
                    tracing::warn!(op, %detail, "the store is unreachable; retrying the transition in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// The records of a tree, with the return field of every task from the registry.
    pub fn records(&self, root: &Node, place: Option<(&SignatureId, u64)>) -> Vec<Record> {
        let registry = &self.registry;
        records(root, place, &|task| registry.definition(task).and_then(|d| d.return_field.clone()))
    }

    /// Hands a transition's due tasks to the backend and its interrupts to the backend; a due task whose input
    /// cannot be built fails (its error callbacks run), which may make further tasks due.
    pub async fn apply(&self, transition: Transition) -> Result<()> {
        let mut pending = vec![transition];
        while let Some(transition) = pending.pop() {
            let mut runs = Vec::with_capacity(transition.due.len());
            let mut broken = Vec::new();
            for due in transition.due {
                match build_input(&due) {
                    Ok(input) => runs.push(Run { signature_id: due.id, token: due.token, task: due.task, input }),
                    Err(problem) => broken.push((due, problem)),
                }
            }
            if !runs.is_empty() {
                self.backend.dispatch(runs).await?;
            }
            if !transition.interrupts.is_empty() {
                self.backend.interrupt(&transition.interrupts).await?;
            }
            for (due, problem) in broken {
                tracing::error!(task = %due.task, signature = %due.id, %problem, "cannot build the input of a run");
                let failure = Failure {
                    task: due.task.clone(),
                    signature_id: due.id.clone(),
                    input: serde_json::from_str(&due.message).unwrap_or(Value::Null),
                    error: ErrorReport { kind: ErrorKind::InvalidInput, message: problem, attempt: 0 },
                };
                pending.push(self.fail(&failure, due.token, None).await?);
            }
        }
        Ok(())
    }

    /// Records the final failure of the run of dispatch `token`, dropping the run's creation journal, if any. A
    /// run that a newer dispatch replaced records nothing (code `stale`).
    pub async fn fail(&self, failure: &Failure, token: u64, journal: Option<&str>) -> Result<Transition> {
        let payload = serde_json::to_string(failure)
            .map_err(|source| Error::Serialize { what: "a failure report".into(), source })?;
        let journal = journal.unwrap_or_default().to_owned();
        self.call_retrying("fail", vec![failure.signature_id.to_string(), token.to_string(), payload, journal]).await
    }

    /// Records the success of the run of dispatch `token`, dropping the run's creation journal, if any. A run that
    /// a newer dispatch replaced records nothing (code `stale`).
    pub async fn succeed(
        &self,
        id: &SignatureId,
        token: u64,
        output: &Value,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let journal = journal.unwrap_or_default().to_owned();
        self.call_retrying("succeed", vec![id.to_string(), token.to_string(), output.to_string(), journal]).await
    }

    /// Renews the lease of the run of dispatch `token` for `length`; `false` when the run no longer holds its
    /// signature (a newer dispatch replaced it, or the signature finished or was interrupted).
    pub async fn renew(&self, id: &SignatureId, token: u64, length: Duration) -> Result<bool> {
        let args = vec![id.to_string(), token.to_string(), length.as_millis().to_string()];
        Ok(self.call("renew", args).await?.code == "ok")
    }

    /// Applies sub-operations in one atomic call: all of them, or (code `refused`, with the failing
    /// sub-operation's 1-based index and its problem in `extra`) none.
    pub async fn batch(&self, subs: &[Sub]) -> Result<Transition> {
        let mut args = vec![subs.len().to_string()];
        for sub in subs {
            match sub {
                Sub::Create(root) => {
                    args.push("create".into());
                    encode_records(&self.records(root, None), &mut args);
                }
                Sub::Run(root, message) => {
                    args.push("run".into());
                    encode_records(&self.records(root, None), &mut args);
                    args.push(root.id.to_string());
                    args.push(message.to_string());
                }
                Sub::Start(id, message) => {
                    args.extend(["run".into(), "0".into(), id.to_string(), message.to_string()]);
                }
                Sub::Add { swarm, close, items } => {
                    args.extend(["add".into(), swarm.to_string(), if *close { "1" } else { "0" }.into()]);
                    args.push(items.len().to_string());
                    args.extend(items.iter().map(|item| item.id.to_string()));
                    let records: Vec<Record> = items.iter().flat_map(|item| self.records(item, None)).collect();
                    encode_records(&records, &mut args);
                }
                Sub::Update(id, layer) => {
                    args.extend(["update".into(), id.to_string(), Value::Object(layer.clone()).to_string()]);
                }
                Sub::Close(swarm) => args.extend(["close".into(), swarm.to_string()]),
                Sub::Journal(key, ids) => {
                    args.extend(["journal".into(), key.clone(), ids.len().to_string()]);
                    args.extend(ids.iter().map(ToString::to_string));
                }
            }
        }
        self.call("batch", args).await
    }

    /// Splices a flow into a running task's place: the flow becomes the task's child and starts with `message`;
    /// the task finishes with the flow's outcome. Drops the run's creation journal, if any.
    pub async fn continue_with(
        &self,
        task: &SignatureId,
        token: u64,
        flow: &Node,
        message: &Value,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let mut args = vec![task.to_string(), token.to_string()];
        encode_records(&self.records(flow, Some((task, 0))), &mut args);
        args.push(flow.id.to_string());
        args.push(message.to_string());
        args.push(journal.unwrap_or_default().to_owned());
        self.call_retrying("continue", args).await
    }

    /// The key of a task run's creation journal.
    pub fn journal_key(&self, id: &SignatureId) -> String {
        format!("{}:journal:{id}", self.prefix)
    }

    /// Runs a lifecycle operation (`suspend`, `interrupt`, `resume`, `cancel`) on a signature and what it contains.
    pub async fn lifecycle(&self, op: &str, id: &SignatureId) -> Result<Transition> {
        let transition = self.call(op, vec![id.to_string()]).await?;
        if transition.code == "missing" {
            return Err(Error::NotFound(id.clone()));
        }
        Ok(transition)
    }

    /// Dispatches again tasks that were dispatched more than `grace` ago and never began, and runs whose lease
    /// expired. Returns how many runs it dispatched.
    pub async fn recover(&self, grace: Duration, limit: usize) -> Result<usize> {
        let transition = self.call("recover", vec![grace.as_millis().to_string(), limit.to_string()]).await?;
        let count = transition.dispatch_count();
        let lost: usize = transition.extra.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        if lost > 0 {
            tracing::warn!(lost, "runs lost their lease (their worker died or was cut off); dispatching them again");
        }
        self.apply(transition).await?;
        Ok(count)
    }

    /// Asks whether a delivery may run, recording the backend's reference of the run. A retry of a run that keeps a
    /// creation journal gets the journal's ids back in `extra`.
    pub async fn begin(
        &self,
        run: &Run,
        attempt: u32,
        run_ref: Option<&str>,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let args = vec![
            run.signature_id.to_string(),
            run.token.to_string(),
            attempt.to_string(),
            run_ref.unwrap_or_default().to_owned(),
            journal.unwrap_or_default().to_owned(),
        ];
        self.call_retrying("begin", args).await
    }
}
