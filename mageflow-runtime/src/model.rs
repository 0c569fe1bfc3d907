//! The data model: signature ids, kinds, statuses, failures and outcomes, and the state read back from a store.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The id of a signature (a task, chain or swarm node of a flow).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SignatureId(String);

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `value` in `N` base-62 digits (its lowest ones), in u64 arithmetic (a u128 division is a call into the compiler's
/// runtime).
fn base62<const N: usize>(mut value: u64) -> [u8; N] {
    let mut text = [b'0'; N];
    for digit in text.iter_mut().rev() {
        *digit = DIGITS[(value % 62) as usize];
        value /= 62;
    }
    text
}

/// A new group name: 7 base-62 digits of the time in ms, then 3 random ones, so that groups are time-ordered.
fn new_group() -> [u8; 10] {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let time: [u8; 7] = base62(now as u64);
    let random: [u8; 3] = base62(rand::random());
    let mut group = [0u8; 10];
    group[..7].copy_from_slice(&time);
    group[7..].copy_from_slice(&random);
    group
}

/// How long a process gives new ids the same group: flows built in that span are stored together, and the next
/// span's go (likely) to another shard.
const GROUP_SPAN: std::time::Duration = std::time::Duration::from_millis(100);

/// The group new ids of this process take, and when it began.
static CURRENT_GROUP: std::sync::Mutex<Option<(std::time::Instant, [u8; 10])>> = std::sync::Mutex::new(None);

tokio::task_local! {
    /// Inside a task run: the group of the running signature, which the ids its handler makes take.
    static RUN_GROUP: String;
}

/// The group of this process's new ids: the current one, or a new one once the current one is [`GROUP_SPAN`] old.
fn process_group() -> [u8; 10] {
    let mut current = CURRENT_GROUP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = std::time::Instant::now();
    match *current {
        Some((since, group)) if now.duration_since(since) < GROUP_SPAN => group,
        _ => current.insert((now, new_group())).1,
    }
}

/// Base-62 digits as text (they are ASCII).
fn push_digits(text: &mut String, digits: &[u8]) {
    text.extend(digits.iter().map(|&b| b as char));
}

/// Runs `future` (a task's handler) so that the ids it makes take `group`, the group of the running signature: a
/// flow the handler builds is then stored next to it.
pub(crate) async fn in_group<F: std::future::Future>(group: String, future: F) -> F::Output {
    RUN_GROUP.scope(group, future).await
}

impl SignatureId {
    /// The id's text, without a copy.
    pub(crate) fn into_string(self) -> String {
        self.0
    }

    /// A new id: its group's name (10 characters, time-ordered), then 12 random base-62 digits. A process gives the
    /// ids it makes within 100 ms one group, and a task run's handler the group of the running signature; a group's
    /// signatures are stored together, on one slot of a Redis Cluster, so a flow built in one go is one slot.
    pub fn generate() -> Self {
        let mut id = String::with_capacity(22);
        if RUN_GROUP.try_with(|group| id.push_str(group)).is_err() {
            push_digits(&mut id, &process_group());
        }
        // 6 digits of each of two random u64s from the thread's generator (a CSPRNG the system seeds): a UUID v4 per id
        // (a system call) and u128 divisions cost about 4,500 instructions per id, this about 1,100
        let [high, low]: [u64; 2] = rand::random();
        push_digits(&mut id, &base62::<6>(high));
        push_digits(&mut id, &base62::<6>(low));
        SignatureId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts an id read from a store, an API or a task's metadata. Ids are 1 to 64 ASCII letters, digits,
    /// `-` or `_`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| SignatureId(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::SignatureId;

    #[test]
    fn generated_ids_are_short_valid_and_ordered() {
        let ids: Vec<SignatureId> = (0..1000).map(|_| SignatureId::generate()).collect();
        assert!(ids.iter().all(|id| id.as_str().len() == 22 && SignatureId::parse(id.as_str()).is_some()));
        let mut sorted = ids.clone();
        sorted.sort();
        let first_ms = |id: &SignatureId| id.as_str()[..7].to_owned();
        assert!(sorted.first().map(first_ms) <= ids.last().map(first_ms), "time-ordered prefixes");
        let group = |id: &SignatureId| id.as_str()[..10].to_owned();
        std::thread::sleep(super::GROUP_SPAN);
        assert_ne!(group(&SignatureId::generate()), group(&ids[0]), "every 100 ms starts a new group");
        // inside a task run, ids take the run's group, whatever other threads store meanwhile
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let in_run: Vec<SignatureId> = runtime.block_on(super::in_group("0123456789".to_owned(), async {
            (0..100).map(|_| SignatureId::generate()).collect()
        }));
        assert!(in_run.iter().all(|id| group(id) == "0123456789"), "{in_run:?}");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 1000);
    }
}

impl fmt::Display for SignatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SignatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureId({})", self.0)
    }
}

impl FromStr for SignatureId {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignatureId::parse(s).ok_or_else(|| crate::Error::InvalidId(s.to_owned()))
    }
}

/// What a signature is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One run of a registered task.
    Task,
    /// Steps run one after another, each result feeding the next step.
    Chain,
    /// Items run in parallel, with a concurrency limit.
    Swarm,
}

impl Kind {
    /// The name stored in the `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Chain => "chain",
            Kind::Swarm => "swarm",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "task" => Some(Kind::Task),
            "chain" => Some(Kind::Chain),
            "swarm" => Some(Kind::Swarm),
            _ => None,
        }
    }
}

/// Where a signature is in its life. Only `Pending` and `Active` signatures may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, not started yet.
    Pending,
    /// Running (a task), or started (a chain or swarm).
    Active,
    /// Finished successfully.
    Done,
    /// Finished with a failure.
    Failed,
    /// Stopped by `suspend`: nothing new starts until `resume`.
    Suspended,
    /// Stopped by `interrupt`: running work was aborted; `resume` runs it again.
    Interrupted,
    /// Ended for good by `cancel`, or skipped (an error callback after a success, a step after a failure).
    Canceled,
}

impl Status {
    /// The name stored in the `status` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Suspended => "suspended",
            Status::Interrupted => "interrupted",
            Status::Canceled => "canceled",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Status::Pending,
            "active" => Status::Active,
            "done" => Status::Done,
            "failed" => Status::Failed,
            "suspended" => Status::Suspended,
            "interrupted" => Status::Interrupted,
            "canceled" => Status::Canceled,
            _ => return None,
        })
    }

    /// Whether the signature has ended (done, failed or canceled) and will never run again.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Canceled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The handler returned an error.
    Error,
    /// An attempt ran longer than the task's timeout.
    Timeout,
    /// The handler panicked.
    Panic,
    /// The input did not deserialize into the task's input type.
    InvalidInput,
    /// The output did not serialize to JSON.
    InvalidOutput,
    /// No handler is registered under the task's name on the worker that got the run.
    UnknownTask,
    /// The signature was canceled.
    Canceled,
    /// A swarm reached its `stop_after_failures` threshold.
    SwarmFailed,
    /// The run's worker stopped renewing its lease (it died or was cut off) and the task has no attempts left.
    Lost,
    /// The stored record of a part of the flow (a step, an item, a callback) is missing or damaged, so the flow
    /// cannot go on; the failure's `signature_id` names that part.
    Damaged,
}

impl ErrorKind {
    /// The snake_case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Error => "error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Panic => "panic",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::InvalidOutput => "invalid_output",
            ErrorKind::UnknownTask => "unknown_task",
            ErrorKind::Canceled => "canceled",
            ErrorKind::SwarmFailed => "swarm_failed",
            ErrorKind::Lost => "lost",
            ErrorKind::Damaged => "damaged",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A structured error: what kind of failure, its message and the attempt it happened on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorReport {
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// The error's message.
    pub message: String,
    /// The attempt that failed last (1-based).
    pub attempt: u32,
}

/// The report of a failed signature, as error callbacks receive it.
///
/// An error callback takes `Failure<I>` (with `I` the failed task's input type, or `serde_json::Value`) as its whole
/// input, or in its `#[mageflow(return_value)]` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failure<I = serde_json::Value> {
    /// The name of the task (or chain / swarm) that failed.
    pub task: String,
    /// The id of the signature that failed.
    pub signature_id: SignatureId,
    /// The input of the failed run.
    pub input: I,
    /// What went wrong.
    pub error: ErrorReport,
}

impl<I> fmt::Display for Failure<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task `{}` failed on attempt {}: {} (kind: {}, signature {})",
            self.task, self.error.attempt, self.error.message, self.error.kind, self.signature_id
        )
    }
}

/// The result of one swarm item: its output, or its failure report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T = serde_json::Value> {
    /// The item succeeded with this output.
    Ok(T),
    /// The item failed.
    Failed(Failure),
}

impl<T> Outcome<T> {
    /// The output, if the item succeeded.
    pub fn ok(self) -> Option<T> {
        match self {
            Outcome::Ok(value) => Some(value),
            Outcome::Failed(_) => None,
        }
    }

    /// Whether the item succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
}
