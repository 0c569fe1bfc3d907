//! [`ApalisBackendOptions`]: the settings of an [`ApalisBackend`](crate::ApalisBackend).

use std::time::Duration;

use crate::error::{ApalisError, Result};

/// Settings of an [`ApalisBackend`](crate::ApalisBackend): start from [`ApalisBackendOptions::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApalisBackendOptions {
    /// The apalis queue the runs go to (its Redis keys start with it). Every worker on a queue must register every
    /// task dispatched to it; use one queue per set of workers. No `:` (apalis-redis' pub/sub names use it).
    pub queue: String,
    /// The worker's name in apalis; the process id and a counter are appended, so that each worker is unique.
    pub worker_name: String,
    /// How many runs this process executes at once (apalis' concurrency limit); `None` takes the client's
    /// `MageflowBuilder::concurrency` (16 by default).
    pub concurrency: Option<usize>,
    /// How often the worker tells apalis it is alive (and looks for orphaned jobs, and jobs due for a retry).
    pub heartbeat_interval: Duration,
    /// After how many missed heartbeats apalis takes a worker for dead and puts its jobs back in the queue.
    pub missed_heartbeats: usize,
    /// How many jobs a worker takes from the queue in one fetch. Small is fair between worker processes; jobs
    /// taken but not started wait in the worker.
    pub fetch_batch: usize,
    /// Whether [`Runner::start`](mageflow_runtime::Runner::start) starts an apalis worker. Without, the client
    /// only dispatches.
    pub run_worker: bool,
    /// How long a worker whose apalis stream stopped on an error (Redis went away) waits before it starts again.
    pub restart_delay: Duration,
    /// How long after a pushed-job wake-up the worker fetches once more, in case the wake-up arrived while a fetch
    /// was in flight (apalis would otherwise leave the job until the next heartbeat).
    pub wake_echo: Duration,
}

impl ApalisBackendOptions {
    /// Defaults on the queue `mageflow`: the client's concurrency, a heartbeat every 5 s, dead after 3 missed
    /// heartbeats, one job per fetch, a worker that restarts 1 s after an error, wake-ups echoed after 20 ms.
    pub fn new(worker_name: impl Into<String>) -> Self {
        ApalisBackendOptions {
            queue: "mageflow".to_owned(),
            worker_name: worker_name.into(),
            concurrency: None,
            heartbeat_interval: Duration::from_secs(5),
            missed_heartbeats: 3,
            fetch_batch: 1,
            run_worker: true,
            restart_delay: Duration::from_secs(1),
            wake_echo: Duration::from_millis(20),
        }
    }

    /// Sets the queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets how many runs execute at once in this process.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = Some(concurrency);
        self
    }

    /// Sets the heartbeat interval and how many missed heartbeats make a worker dead to apalis.
    pub fn heartbeat(mut self, interval: Duration, missed: usize) -> Self {
        self.heartbeat_interval = interval;
        self.missed_heartbeats = missed;
        self
    }

    /// Sets how many jobs a worker takes in one fetch.
    pub fn fetch_batch(mut self, jobs: usize) -> Self {
        self.fetch_batch = jobs;
        self
    }

    /// Only dispatches: no apalis worker runs in this process.
    pub fn dispatch_only(mut self) -> Self {
        self.run_worker = false;
        self
    }

    /// Checks that the options can work.
    pub fn validate(&self) -> Result<()> {
        if self.queue.is_empty() || self.queue.contains(':') {
            return Err(ApalisError::Options(format!(
                "the queue name `{}` must be non-empty and have no `:` (apalis-redis names its wake-up channels \
                 `tasks:<queue>:active:available` and splits them on `:`)",
                self.queue
            )));
        }
        if self.fetch_batch == 0 {
            return Err(ApalisError::Options("fetch_batch must be at least 1".into()));
        }
        if self.concurrency == Some(0) {
            return Err(ApalisError::Options("concurrency must be at least 1".into()));
        }
        if self.heartbeat_interval < Duration::from_secs(1) || self.missed_heartbeats == 0 {
            return Err(ApalisError::Options(
                "apalis-redis counts heartbeats in whole seconds: the heartbeat interval must be at least 1 s and \
                 missed_heartbeats at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The apalis-redis configuration of the queue.
    pub fn apalis_config(&self) -> apalis_redis::Config {
        apalis_redis::Config::default()
            .queue(&self.queue)
            .batch_size(self.fetch_batch.max(1))
            .heartbeat_interval(self.heartbeat_interval)
            .missed_heartbeats(self.missed_heartbeats.max(1))
    }
}

impl Default for ApalisBackendOptions {
    /// [`ApalisBackendOptions::new`] with the worker name `mageflow`.
    fn default() -> Self {
        ApalisBackendOptions::new("mageflow")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_with_colons_are_refused() {
        let error = ApalisBackendOptions::default().queue("a:b").validate().unwrap_err();
        assert!(error.to_string().contains("no `:`"), "{error}");
        assert!(ApalisBackendOptions::default().validate().is_ok());
        let error = ApalisBackendOptions::default().heartbeat(Duration::from_millis(100), 3).validate().unwrap_err();
        assert!(error.to_string().contains("whole seconds"), "{error}");
    }

    #[test]
    fn the_apalis_config_follows_the_options() {
        let config = ApalisBackendOptions::new("w").queue("billing").fetch_batch(4).apalis_config();
        assert_eq!(config.queue.to_string(), "billing");
        assert_eq!(config.batch_size, 4);
        assert_eq!(config.orphaned_duration(), Duration::from_secs(15));
    }
}
