//! The Hatchet backend of mageflow: Hatchet's gRPC protocol, a worker, and (feature `fake`)
//! an in-process fake Hatchet engine for tests.
//!
//! - [`HatchetBackend`] is mageflow's `Backend` over Hatchet: pass it to `Mageflow::builder().backend(..)`.
//! - [`HatchetConfig`] reads the token and `HATCHET_CLIENT_*` variables.
//! - [`Connection`] is an authenticated, cheap-to-clone client with typed calls.
//! - [`Worker`] declares workflows, registers, listens for work and runs an [`ActionHandler`].
#![warn(missing_docs)]

pub mod action;
pub mod auth;
pub mod backend;
pub mod backoff;
pub mod config;
pub mod connection;
pub mod error;
pub mod metadata;
pub mod proto;
pub mod subscribe;
pub mod worker;
pub mod workflow;

#[cfg(feature = "fake")]
pub mod fake;

pub use backend::{HatchetBackend, HatchetBackendOptions};
pub use config::{HatchetConfig, TlsStrategy};
pub use connection::{Connection, PutWorkflowResult, Registration};
pub use error::{HatchetError, Result};
pub use subscribe::{RunResult, RunSubscriber, TaskOutcome, TaskResult};
pub use worker::{ActionHandler, StepAction, StepOutcome, Worker, WorkerHandle, WorkerOptions};
pub use workflow::{Backoff, ChildOf, TriggerRequest, WorkflowDefinition};
