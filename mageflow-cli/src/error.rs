//! [`CliError`]: every failure of a command, as one line for stderr, with its exit code.

use mageflow_runtime::{SignatureId, Status};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The store could not be reached or configured.
    #[error("{}", connect_message(url, error))]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        error: mageflow_runtime::Error,
    },
    /// A mageflow operation failed.
    #[error(transparent)]
    Mageflow(#[from] mageflow_runtime::Error),
    /// An argument is wrong (JSON that does not parse, a file that cannot be read, ...).
    #[error("{0}")]
    Usage(String),
    /// No signature has this id under the prefix.
    #[error("no flow {id} under the key prefix `{prefix}`: {why}")]
    UnknownId {
        /// The id asked for.
        id: SignatureId,
        /// The key prefix.
        prefix: String,
        /// What is known about the prefix.
        why: &'static str,
    },
    /// Nothing was ever registered under the prefix.
    #[error(
        "no task definitions under the key prefix `{prefix}`: no worker registered tasks there; check --prefix (or \
         MAGEFLOW_PREFIX) against the prefix of your workers"
    )]
    UnknownPrefix {
        /// The key prefix.
        prefix: String,
    },
    /// The task is not among the published definitions.
    #[error(
        "unknown task `{name}` under the key prefix `{prefix}` (known tasks: {known}); a worker publishes its tasks when it starts"
    )]
    UnknownTask {
        /// The name asked for.
        name: String,
        /// The key prefix.
        prefix: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A watched flow ended without succeeding.
    #[error("flow {id} ended {status}{detail}")]
    FlowDidNotSucceed {
        /// The flow.
        id: SignatureId,
        /// Failed or canceled.
        status: Status,
        /// `: <the failure>` when it failed.
        detail: String,
    },
}

/// The store's error, which names the URL itself when it is about the connection.
fn connect_message(url: &str, error: &mageflow_runtime::Error) -> String {
    let message = error.to_string();
    if message.contains(url) { message } else { format!("cannot use Redis at {url}: {message}") }
}

impl CliError {
    /// The process exit code: 3 when a watched flow failed or was canceled, 1 for every other error (2 is clap's,
    /// for arguments it rejects).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::FlowDidNotSucceed { .. } => 3,
            _ => 1,
        }
    }

    /// A short machine-readable name of the error, for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Connect { .. } => "connect",
            CliError::Mageflow(mageflow_runtime::Error::InvalidId(_)) => "invalid_id",
            CliError::Mageflow(mageflow_runtime::Error::InvalidFlow(_)) => "invalid_flow",
            CliError::Mageflow(mageflow_runtime::Error::InvalidInput { .. }) => "invalid_input",
            CliError::Mageflow(mageflow_runtime::Error::UnknownTask { .. }) | CliError::UnknownTask { .. } => {
                "unknown_task"
            }
            CliError::Mageflow(mageflow_runtime::Error::Store(_)) => "store",
            CliError::Mageflow(_) => "mageflow",
            CliError::Usage(_) => "usage",
            CliError::UnknownId { .. } => "unknown_id",
            CliError::UnknownPrefix { .. } => "unknown_prefix",
            CliError::FlowDidNotSucceed { .. } => "flow_did_not_succeed",
        }
    }

    /// The message on one line (line breaks of wrapped errors become spaces).
    pub fn one_line(&self) -> String {
        self.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
    }
}
