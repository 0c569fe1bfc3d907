//! The mageflow runtime: the data model, the [`Task`] trait, stores, the engine, the client and the local backend.
//!
//! Users depend on the `mageflow` crate, which re-exports this one together with the macros.
#![warn(missing_docs)]

pub mod backend;
mod batch;
mod checks;
mod client;
mod config;
mod definitions;
mod dsl;
mod engine;
mod error;
mod flow;
mod input;
pub mod model;
mod registry;
mod scope;
mod signature;
mod state;
pub mod store;
mod task;
pub mod testing;
mod worker;

pub use backend::{Backend, LocalBackend};
pub use batch::Batch;
pub use client::{Mageflow, MageflowBuilder};
pub use config::{KindTtl, TtlConfig};
pub use definitions::TaskDefinition;
pub use dsl::{Flow, InputFields, IntoFlow};
pub use error::{Error, Result};
pub use flow::{Node, SwarmConfig};
pub use model::{ErrorKind, ErrorReport, Failure, Kind, Outcome, SignatureId, Status};
pub use signature::{Chain, ChainKind, Handle, Signature, Swarm, SwarmKind, TaskKind};
pub use state::{FlowTree, SignatureState, SwarmProgress};
#[cfg(feature = "memory")]
pub use store::MemoryStore;
#[cfg(feature = "redis")]
pub use store::RedisStore;
pub use store::Store;
pub use task::{Backoff, BoxFuture, Continuation, Next, Task, TaskContext, TaskError, TaskInput, TaskOptions};

/// Items used by the code the mageflow macros generate. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::dsl::private::*;
    pub use crate::task::{
        OutputSchemaOfJsonSchema, OutputSchemaProbe, OutputSchemaUnknown, ReturnFieldOfTaskInput,
        ReturnFieldOfWholeInput, ReturnFieldProbe,
    };
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
