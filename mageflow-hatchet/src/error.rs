//! The error type of this crate.

use tonic::Code;

/// Everything that can go wrong while talking to Hatchet.
#[derive(Debug, thiserror::Error)]
pub enum HatchetError {
    /// No token was given.
    #[error(
        "HATCHET_CLIENT_TOKEN is not set: create an API token in the Hatchet dashboard \
         (Settings > API Tokens) and export it as HATCHET_CLIENT_TOKEN"
    )]
    MissingToken,

    /// The token is not a readable Hatchet JWT.
    #[error(
        "the Hatchet token is malformed: {reason}; pass the API token exactly as the Hatchet \
         dashboard shows it (three base64url parts separated by dots)"
    )]
    InvalidToken {
        /// What is wrong with the token.
        reason: String,
    },

    /// A configuration value is unusable.
    #[error("invalid Hatchet configuration: {0}")]
    InvalidConfig(String),

    /// The gRPC endpoint could not be reached or set up.
    #[error(
        "cannot connect to Hatchet at {address}: {source}; check that the engine is running and \
         that HATCHET_CLIENT_HOST_PORT / HATCHET_CLIENT_TLS_STRATEGY match it"
    )]
    Connect {
        /// The address that was dialled.
        address: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },

    /// A call returned an error status.
    #[error("Hatchet {call} failed with {code:?}: {message}; {hint}", code = status.code(), message = status.message(), hint = hint(status.code()))]
    Rpc {
        /// The RPC that failed, e.g. `Dispatcher.Register`.
        call: &'static str,
        /// The status the engine answered.
        #[source]
        status: tonic::Status,
    },

    /// The engine sent something this client cannot understand.
    #[error(
        "Hatchet sent a malformed {what}: {reason}; this is an engine/client version mismatch or \
         a bug, report it with the engine version"
    )]
    Protocol {
        /// Which message or field was malformed.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A value given by the caller cannot be sent.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which argument was invalid.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The background task serving a subscription or a worker has stopped.
    #[error("{0} has stopped; create a new connection or worker")]
    Stopped(&'static str),
}

fn hint(code: Code) -> &'static str {
    match code {
        Code::Unauthenticated | Code::PermissionDenied => {
            "check HATCHET_CLIENT_TOKEN: it must be a valid, unrevoked token for this engine"
        }
        Code::Unavailable | Code::DeadlineExceeded => "the engine is unreachable or overloaded; retry later",
        Code::NotFound => "the referenced workflow, worker or run does not exist; register it first",
        Code::InvalidArgument => "the request was rejected as invalid; check the values sent",
        Code::Unimplemented => "the engine does not support this call; upgrade the Hatchet engine",
        Code::AlreadyExists => "an object with this identity already exists",
        _ => "see the engine logs for details",
    }
}

impl HatchetError {
    /// Wraps a status returned by `call`.
    pub fn rpc(call: &'static str, status: tonic::Status) -> Self {
        HatchetError::Rpc { call, status }
    }

    /// The gRPC status code when this is an RPC error.
    pub fn code(&self) -> Option<Code> {
        match self {
            HatchetError::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.code(), Some(Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Unknown))
            || matches!(self, HatchetError::Connect { .. })
    }
}

/// Result alias for this crate.
pub type Result<T, E = HatchetError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use mageflow_runtime::backend::BackendError;

    use super::*;

    #[test]
    fn the_status_of_a_failed_call_stays_reachable_through_a_backend_error() {
        let rpc = HatchetError::rpc("Admin.TriggerWorkflow", tonic::Status::unavailable("engine down"));
        let error = BackendError::dispatch(rpc.to_string()).caused_by(rpc);
        let hatchet = error.source().expect("the Hatchet error is the source");
        assert!(matches!(hatchet.downcast_ref::<HatchetError>(), Some(HatchetError::Rpc { .. })), "{hatchet:?}");
        let status = hatchet.source().and_then(|cause| cause.downcast_ref::<tonic::Status>()).expect("the status");
        assert_eq!((status.code(), status.message()), (Code::Unavailable, "engine down"));
    }
}
