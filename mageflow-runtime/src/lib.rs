//! The mageflow runtime: the data model, the [`Task`] trait, stores, the engine, the client and the local backend.
//!
//! Users depend on the `mageflow` crate, which re-exports this one together with the macros.
#![warn(missing_docs)]

pub mod backend;
mod builder;
mod cause;
mod client;
mod config;
mod engine;
mod error;
mod flow;
pub mod model;
mod run;
pub mod store;
pub mod testing;
pub mod trace;

pub use backend::{Backend, Dispatcher, LocalBackend, Runner};
pub use builder::MageflowBuilder;
pub use cause::Cause;
pub use client::Mageflow;
pub use config::{KindTtl, TtlConfig};
pub use engine::batch::Batch;
pub use engine::index::{FlowCursor, FlowFilter, FlowPage, FlowSummary, StuckReason, StuckRun};
pub use engine::state::{FlowTree, SignatureState, SwarmProgress};
pub use error::{Error, Result};
pub use flow::dsl::{InputFields, IntoFlow};
pub use flow::{AnyKind, Chain, ChainKind, Flow, Handle, IntoNodes, Node, Swarm, SwarmConfig, SwarmKind, TaskKind};
pub use model::{ErrorKind, ErrorReport, Failure, Kind, Outcome, SignatureId, Status};
pub use run::definitions::TaskDefinition;
pub use run::task::{Backoff, BoxFuture, Continuation, Next, Task, TaskContext, TaskError, TaskInput, TaskOptions};
#[cfg(feature = "memory")]
pub use store::MemoryStore;
#[cfg(feature = "redis")]
pub use store::RedisStore;
pub use store::Store;
pub use trace::TraceContext;

/// Items used by the code the mageflow macros generate. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::flow::dsl::private::*;
    pub use crate::run::task::{
        OutputSchemaOfJsonSchema, OutputSchemaProbe, OutputSchemaUnknown, ReturnFieldOfTaskInput,
        ReturnFieldOfWholeInput, ReturnFieldProbe,
    };
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
