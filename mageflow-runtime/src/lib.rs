//! The mageflow runtime: the data model, the [`Task`] trait, stores, the engine, the client and the local backend.
//!
//! Users depend on the `mageflow` crate, which re-exports this one together with the macros.
#![warn(missing_docs)]

pub mod backend;
mod error;
pub mod model;
pub mod store;
mod task;

pub use error::{Error, Result};
pub use model::{ErrorKind, ErrorReport, Failure, Kind, Outcome, SignatureId, Status};
pub use task::{Backoff, BoxFuture, Task, TaskContext, TaskError, TaskInput, TaskOptions};

/// Items used by the code the mageflow macros generate. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::task::{ReturnFieldOfTaskInput, ReturnFieldOfWholeInput, ReturnFieldProbe};
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
