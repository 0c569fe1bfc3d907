//! [`HandOffBackend`]: how a process without task handlers (the `mageflow` CLI, its MCP server, the web view) starts
//! and resumes work: it leaves the runs to the workers.

use std::time::Duration;

use super::{BackendError, Dispatcher, Interrupt, Run, Runner, Worker};
use async_trait::async_trait;

/// A backend that runs nothing: it leaves every run it is handed to the workers.
///
/// When a flow starts (or resumes), the engine records each run that is due in the store's outbox in the same atomic
/// step, then hands the runs to the backend. This backend accepts them and does nothing else, so they wait in the
/// outbox until a worker's recovery sweep ([`MageflowBuilder::recovery`](crate::MageflowBuilder::recovery), every 30 s
/// for runs older than 60 s by
/// default) dispatches them through that worker's own backend. A run therefore begins within the sweep's interval
/// plus its grace after it was started here; workers that take runs from such processes may sweep more often.
///
/// Interrupts need nothing from here either: an interrupted run loses its lease, and the worker running it aborts
/// it at its next lease renewal.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandOffBackend;

#[async_trait]
impl Dispatcher for HandOffBackend {
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError> {
        for run in &runs {
            tracing::info!(task = %run.task, signature = %run.signature_id, "left in the outbox for a worker");
        }
        Ok(())
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError> {
        for run in runs {
            tracing::info!(signature = %run.signature_id, "interrupted: its worker aborts it at its next lease renewal");
        }
        Ok(())
    }
}

#[async_trait]
impl Runner for HandOffBackend {
    async fn start(&self, _worker: Worker) -> Result<(), BackendError> {
        Ok(())
    }

    async fn shutdown(&self, _deadline: Duration) -> Result<(), BackendError> {
        Ok(())
    }
}
