//! [`Error`]: everything that can go wrong when using mageflow, each with what to do about it.

use crate::model::{Failure, Kind, SignatureId, Status};

/// The errors of the mageflow API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signature was made for a task name that no registered task or stored task definition has.
    #[error("unknown task `{name}`: register it with `Mageflow::builder().task(..)` (known tasks: {})", list(known))]
    UnknownTask {
        /// The name asked for.
        name: String,
        /// The names that are known, sorted.
        known: Vec<String>,
    },
    /// An input does not fit the task's JSON schema.
    #[error("the input for task `{task}` does not fit its schema: {}", problems.join("; "))]
    InvalidInput {
        /// The task whose schema rejected the input.
        task: String,
        /// What is wrong, one problem each.
        problems: Vec<String>,
    },
    /// A value could not be turned into JSON.
    #[error("could not serialize {what} to JSON: {source}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// A stored result did not deserialize into the type the caller asked for.
    #[error("the result of {id} does not deserialize into the expected output type: {source}")]
    Deserialize {
        /// The signature whose result it is.
        id: SignatureId,
        /// The deserializer's error.
        source: serde_json::Error,
    },
    /// A flow was described wrongly (a chain of one step, a bound argument that is not an object, ...).
    #[error("invalid flow: {0}")]
    InvalidFlow(String),
    /// A text is not a signature id.
    #[error("`{0}` is not a signature id (1 to 64 letters, digits, `-` or `_`)")]
    InvalidId(String),
    /// No signature with this id exists in the store (never created, or expired after its TTL).
    #[error("no signature {0} in the store: it was never created here, or it expired after its TTL")]
    NotFound(SignatureId),
    /// A batch that spans groups of signatures (so it is applied one atomic part per group) was refused in a later
    /// part, after its earlier parts were applied: a concurrent change made it invalid after it was checked.
    #[error(
        "the batch was applied only in part: its first {applied} of {total} operations were applied, then the store \
         refused the rest ({refusal}); it spans groups of signatures (flows made at different times), so it is applied \
         one group at a time, and a concurrent change refused a later group after all were checked. Inspect the \
         flows it touched, and re-send the operations that were not applied"
    )]
    BatchPartlyApplied {
        /// How many operations (in the batch's order, grouped) were applied.
        applied: usize,
        /// How many operations the batch had.
        total: usize,
        /// What the store refused.
        refusal: String,
    },
    /// A stored signature has fields that cannot be read.
    #[error("the stored state of {id} is corrupt ({detail}); inspect the key in the store or cancel the flow")]
    CorruptState {
        /// The signature.
        id: SignatureId,
        /// What is wrong with it.
        detail: String,
    },
    /// The signature is not of the kind the operation needs (adding items to a chain, ...).
    #[error("{id} is a {}, but this operation needs a {}", actual.as_str(), expected.as_str())]
    WrongKind {
        /// The signature.
        id: SignatureId,
        /// The kind it has.
        actual: Kind,
        /// The kind the operation needs.
        expected: Kind,
    },
    /// A flow that was already started was started again.
    #[error("{0} was already started; a flow runs once (make a new signature to run it again)")]
    AlreadyStarted(SignatureId),
    /// Items were added to a swarm that is closed.
    #[error("swarm {0} is closed: no items can be added; create a new swarm")]
    SwarmClosed(SignatureId),
    /// Items were added to a swarm that has ended (done, failed or canceled).
    #[error("swarm {id} is {status}: no items can be added")]
    SwarmFinished {
        /// The swarm.
        id: SignatureId,
        /// Its status.
        status: Status,
    },
    /// Adding items would exceed the swarm's `max_items`.
    #[error("swarm {id} takes at most {max_items} items; it has {current} and {adding} more were added")]
    TooManyItems {
        /// The swarm.
        id: SignatureId,
        /// Its `max_items`.
        max_items: u64,
        /// Its item count.
        current: u64,
        /// How many were added.
        adding: u64,
    },
    /// A run finished with a failure.
    #[error("{0}")]
    Failed(Box<Failure>),
    /// A run was canceled before it finished.
    #[error("{0} was canceled")]
    Canceled(SignatureId),
    /// Waiting for a result took longer than asked.
    #[error("{0} did not finish within {1:?}")]
    WaitTimeout(SignatureId, std::time::Duration),
    /// The store failed (Redis unreachable, a script error, ...).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The backend failed to dispatch or interrupt work.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The client configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Names for a message: `a, b, c`, or `none`.
fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

/// `Result<T, mageflow::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
