//! [`LocalBackend`]: runs tasks in this process on a bounded pool of tokio tasks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};

use super::{AttemptOutcome, BackendError, Delivery, Dispatcher, Interrupt, Run, Runner, Worker};
use crate::model::SignatureId;

/// Runs tasks in-process: at most `concurrency` at once, retries with the task's backoff, timeouts, interrupts by
/// aborting the handler's future, and a graceful shutdown. The embedded default backend.
#[derive(Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
}

struct Inner {
    concurrency: usize,
    sender: Mutex<Option<mpsc::UnboundedSender<Run>>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Run>>>,
    runs: Arc<Runs>,
    dispatcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The runs in progress, shared with the dispatcher (which must not own the sender, or it would wait for itself).
#[derive(Default)]
struct Runs {
    running: Mutex<HashMap<SignatureId, AbortHandle>>,
    /// Set by `shutdown`: outcomes claim no next run.
    closing: AtomicBool,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl Drop for Inner {
    /// The last handle on the backend is gone (its client was dropped): stop taking runs.
    fn drop(&mut self) {
        if let Ok(mut dispatcher) = self.dispatcher.lock()
            && let Some(dispatcher) = dispatcher.take()
        {
            dispatcher.abort();
        }
    }
}

impl LocalBackend {
    /// A backend running at most `concurrency` tasks at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        LocalBackend {
            inner: Arc::new(Inner {
                concurrency: concurrency.max(1),
                sender: Mutex::new(Some(sender)),
                receiver: Mutex::new(Some(receiver)),
                runs: Arc::default(),
                dispatcher: Mutex::default(),
            }),
        }
    }

    /// How many tasks may run at once.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }
}

impl LocalBackend {
    fn pool(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl Default for LocalBackend {
    /// 16 tasks at once.
    fn default() -> Self {
        LocalBackend::new(16)
    }
}

/// Runs a delivery's attempts until one succeeds, fails for good or is skipped; then the run its outcome claimed (the
/// next step of its chain, the next item of its swarm, a callback), which began already, in the same place and
/// holding the same slot, and so on.
async fn run_attempts(worker: Worker, mut run: Run, runs: Arc<Runs>, pool: usize) {
    let mut begun = None;
    loop {
        let mut attempt = 1;
        let next = loop {
            // a backend that shuts down takes no more runs, claimed ones included
            let pool = (!runs.closing.load(Ordering::Relaxed)).then_some(pool);
            let (outcome, next) = worker.execute_here(&run, Delivery::attempt(attempt), begun, pool).await;
            match outcome {
                AttemptOutcome::Failed { retry_in: Some(wait), .. } => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    begun = None;
                }
                AttemptOutcome::Unrecorded(error) => {
                    tracing::error!(
                        task = %run.task, signature = %run.signature_id, %error,
                        "the outcome could not be recorded; the recovery sweep dispatches the run again if it never began"
                    );
                    break next;
                }
                _ => break next,
            }
        };
        let Some((claimed, attempt)) = next else { return };
        // interrupts of the claimed run abort this task, which runs it now
        if let Ok(mut running) = runs.running.lock()
            && let Some(handle) = running.remove(&run.signature_id)
        {
            running.insert(claimed.signature_id.clone(), handle);
        }
        run = claimed;
        begun = Some(attempt);
    }
}

#[async_trait]
impl Dispatcher for LocalBackend {
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError> {
        let sender = self.inner.sender.lock().map_err(|_| BackendError::ShutDown)?.clone();
        let sender = sender.ok_or(BackendError::ShutDown)?;
        for run in runs {
            sender.send(run).map_err(|_| BackendError::ShutDown)?;
        }
        Ok(())
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError> {
        let running = self.inner.runs.running.lock().map_err(|_| BackendError::other("lock poisoned"))?;
        for run in runs {
            if let Some(handle) = running.get(&run.signature_id) {
                tracing::info!(signature = %run.signature_id, "interrupting the running task");
                handle.abort();
            }
        }
        Ok(())
    }

    fn in_process_pool(&self) -> Option<usize> {
        Some(self.pool())
    }
}

#[async_trait]
impl Runner for LocalBackend {
    async fn start(&self, worker: Worker) -> Result<(), BackendError> {
        let receiver = self.inner.receiver.lock().map_err(|_| BackendError::ShutDown)?.take();
        let Some(mut receiver) = receiver else {
            return Err(BackendError::other("the local backend was already started"));
        };
        let runs = self.inner.runs.clone();
        let pool = self.pool();
        let slots = Arc::new(Semaphore::new(self.inner.concurrency));
        let dispatcher = tokio::spawn(async move {
            while let Some(run) = receiver.recv().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let id = run.signature_id.clone();
                let worker = worker.clone();
                let mut tasks = runs.tasks.lock().await;
                while tasks.try_join_next().is_some() {}
                // the task looks itself up under its run's id: it is listed before it can start
                let mut running = runs.running.lock().ok();
                let handle = tasks.spawn({
                    let runs = runs.clone();
                    async move {
                        run_attempts(worker, run, runs, pool).await;
                        drop(permit);
                    }
                });
                if let Some(running) = running.as_mut() {
                    running.retain(|_, handle| !handle.is_finished());
                    running.insert(id, handle);
                }
                drop(running);
            }
        });
        *self.inner.dispatcher.lock().map_err(|_| BackendError::ShutDown)? = Some(dispatcher);
        Ok(())
    }

    async fn shutdown(&self, deadline: Duration) -> Result<(), BackendError> {
        // stop taking runs; runs still queued stay in the store's outbox for a later worker
        self.inner.runs.closing.store(true, Ordering::Relaxed);
        self.inner.sender.lock().map_err(|_| BackendError::ShutDown)?.take();
        let dispatcher = self.inner.dispatcher.lock().map_err(|_| BackendError::ShutDown)?.take();
        if let Some(dispatcher) = dispatcher {
            dispatcher.abort();
            let _ = dispatcher.await;
        }
        let mut tasks = self.inner.runs.tasks.lock().await;
        let drained = tokio::time::timeout(deadline, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(running = tasks.len(), "shutdown deadline passed; aborting the tasks still running");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        Ok(())
    }
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend").field("concurrency", &self.inner.concurrency).finish()
    }
}
