//! Hatchet's official Python SDK (`hatchet-sdk` 1.43.1 from PyPI) against the fake engine: a
//! worker process written with the SDK, and triggers made with the SDK, as a user of Hatchet
//! would write them (`tests/python/`).
//!
//! The SDK lives in a virtual environment made by `scripts/python-sdk-venv.sh` (CI: `.ci/run`);
//! `HATCHET_SDK_VENV` overrides its place. Without it these tests fail and say how to make it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mageflow_hatchet::fake::{FakeConfig, FakeHandle, FakeHatchet, RunSnapshot, RunState};
use mageflow_hatchet::proto::StepActionEventType;
use mageflow_hatchet::{Connection, TriggerRequest, WorkflowDefinition};
use serde_json::{Value, json};

/// Python starts slowly on a busy machine: every wait gets this long before it fails the test.
const PATIENCE: Duration = Duration::from_secs(180);

async fn patiently<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python, or a failure that says how to install it.
fn python() -> PathBuf {
    let venv = std::env::var_os("HATCHET_SDK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../target/hatchet-sdk-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "Hatchet's Python SDK is not installed at {}: run `bash mageflow-hatchet/scripts/python-sdk-venv.sh` \
         (CI does it in .ci/run), or point HATCHET_SDK_VENV at a venv holding hatchet-sdk==1.43.1",
        venv.display()
    );
    python
}

fn scripts() -> PathBuf {
    manifest_dir().join("tests/python")
}

fn log_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-sdk-{}-{name}.log", std::process::id()))
}

/// The environment that points the SDK at `fake`.
fn sdk_command(fake: &FakeHandle, script: &str) -> Command {
    let mut command = Command::new(python());
    command
        .arg(scripts().join(script))
        .current_dir(scripts())
        .env("HATCHET_CLIENT_TOKEN", fake.token())
        .env("HATCHET_CLIENT_TLS_STRATEGY", "none")
        .env("HATCHET_CLIENT_NAMESPACE", "")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// A worker process; killed (SIGKILL) when dropped.
struct SdkWorker {
    child: Child,
    worker_id: String,
    log: PathBuf,
}

impl SdkWorker {
    /// Starts `tests/python/sdk_worker.py` and waits until the fake sees its action stream.
    async fn start(fake: &FakeHandle, role: &str) -> SdkWorker {
        let before = fake.worker_ids().len();
        let log = log_path(&format!("worker-{role}"));
        let file = std::fs::File::create(&log).expect("worker log file");
        let child = sdk_command(fake, "sdk_worker.py")
            .env("WORKER_ROLE", role)
            .stdout(file.try_clone().expect("worker log file"))
            .stderr(file)
            .spawn()
            .expect("the SDK worker starts");
        let mut worker = SdkWorker { child, worker_id: String::new(), log };
        let what = format!("the Python worker {role} to listen (log: {})", worker.log.display());
        patiently(&what, fake.wait_until(|f| f.worker_ids().get(before).is_some_and(|id| f.is_listening(id)))).await;
        worker.worker_id = fake.worker_ids()[before].clone();
        worker
    }

    /// SIGKILL: the process gets no chance to tell the engine anything.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the worker");
        self.child.wait().expect("reap the worker");
    }
}

impl Drop for SdkWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one scenario of `tests/python/sdk_trigger.py` and returns the JSON line it prints.
async fn trigger(fake: &FakeHandle, scenario: &str) -> Value {
    let mut command = tokio::process::Command::from(sdk_command(fake, "sdk_trigger.py"));
    command.arg(scenario).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let output = patiently(&format!("scenario {scenario}"), command.output()).await.expect("the SDK trigger runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scenario {scenario} failed ({}):\n{stdout}\n{stderr}", output.status);
    let line = stdout.lines().last().unwrap_or_else(|| panic!("scenario {scenario} printed nothing:\n{stderr}"));
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("scenario {scenario}: {e}: {line}"));
    assert_eq!(value["scenario"], json!(scenario));
    value
}

async fn start_fake(config: FakeConfig) -> FakeHandle {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
    FakeHatchet::start(config).await.expect("the fake starts")
}

fn runs_of(fake: &FakeHandle, workflow: &str) -> Vec<RunSnapshot> {
    fake.runs().into_iter().filter(|r| r.workflow == workflow).collect()
}

/// The distinct (attempt, event type) pairs the SDK reported for a task run, sorted. The SDK sends
/// step events as independent calls, so STARTED may arrive twice or after the attempt's outcome.
fn step_events_of(fake: &FakeHandle, task_run: &str) -> Vec<(i32, StepActionEventType)> {
    let distinct: BTreeSet<(i32, i32)> = fake
        .step_events()
        .into_iter()
        .filter(|e| e.task_run_external_id == task_run)
        .map(|e| (e.retry_count, e.event_type as i32))
        .collect();
    distinct.into_iter().map(|(retry, kind)| (retry, StepActionEventType::try_from(kind).unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_with_aio_run_and_sync_run_and_ctx_log() {
    let fake = start_fake(FakeConfig::default()).await;
    let worker = SdkWorker::start(&fake, "echo").await;

    let aio = trigger(&fake, "aio_echo").await;
    assert_eq!(aio["result"], json!({"echo": "hello from aio_run"}), "{}", worker.log.display());
    let sync = trigger(&fake, "sync_echo").await;
    assert_eq!(sync["result"], json!({"echo": "hello from run", "sync": true}));

    // The SDK sends child_index = 0 on top-level triggers; the fake ignores it without a parent.
    let triggers = fake.recorded_requests().trigger;
    assert_eq!(triggers.len(), 2);
    assert!(triggers.iter().all(|t| t.child_index == Some(0) && t.parent_task_run_external_id.is_none()));

    let [echo] = runs_of(&fake, "sdk-echo").try_into().expect("exactly one sdk-echo run");
    let [echo_sync] = runs_of(&fake, "sdk-echo-sync").try_into().expect("exactly one sdk-echo-sync run");
    for run in [&echo, &echo_sync] {
        assert_eq!((run.state, run.deliveries, run.retry_count), (RunState::Completed, 1, 0));
        assert_eq!(run.assigned_workers, vec![worker.worker_id.clone()]);
        assert_eq!(
            step_events_of(&fake, &run.task_run_external_id),
            vec![(0, StepActionEventType::StepEventTypeStarted), (0, StepActionEventType::StepEventTypeCompleted)]
        );
    }
    // ctx.log reached the engine through EventsService.PutLog, once, for the run that logged.
    let logs = fake.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].task_run_external_id, echo.task_run_external_id);
    assert_eq!(logs[0].message, "echoing hello from aio_run");
    assert_eq!(logs[0].retry_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failing_once_is_retried_and_a_non_retryable_failure_is_not() {
    let fake = start_fake(FakeConfig::default()).await;
    let _worker = SdkWorker::start(&fake, "retries").await;

    let retried = trigger(&fake, "retry_once").await;
    assert_eq!(retried["result"], json!({"attempt": 1}));
    let [flaky] = runs_of(&fake, "sdk-flaky").try_into().expect("exactly one sdk-flaky run");
    assert_eq!((flaky.state, flaky.deliveries, flaky.retry_count), (RunState::Completed, 2, 1));
    assert_eq!(
        step_events_of(&fake, &flaky.task_run_external_id),
        vec![
            (0, StepActionEventType::StepEventTypeStarted),
            (0, StepActionEventType::StepEventTypeFailed),
            (1, StepActionEventType::StepEventTypeStarted),
            (1, StepActionEventType::StepEventTypeCompleted),
        ]
    );

    let fatal = trigger(&fake, "non_retryable").await;
    assert_eq!(fatal["error_type"], json!("FailedTaskRunExceptionGroup"), "{fatal}");
    assert!(fatal["error"].as_str().unwrap().contains("this failure must not be retried"), "{fatal}");
    assert_eq!(fake.workflow("sdk-fatal").expect("declared").retries, 3);
    let [run] = runs_of(&fake, "sdk-fatal").try_into().expect("exactly one sdk-fatal run");
    assert_eq!((run.state, run.deliveries, run.retry_count), (RunState::Failed, 1, 0), "one attempt only");
    assert_eq!(
        step_events_of(&fake, &run.task_run_external_id),
        vec![(0, StepActionEventType::StepEventTypeStarted), (0, StepActionEventType::StepEventTypeFailed)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_runs_and_a_bulk_run_of_twenty() {
    let fake = start_fake(FakeConfig::default()).await;
    let _worker = SdkWorker::start(&fake, "many").await;

    let concurrent = trigger(&fake, "concurrent").await;
    let expected: Vec<Value> = (0..20).map(|i| json!({"echo": format!("c{i}")})).collect();
    assert_eq!(concurrent["result"], json!(expected));
    assert_eq!(runs_of(&fake, "sdk-echo").len(), 20);

    let bulk = trigger(&fake, "bulk").await;
    let expected: Vec<Value> = (0..20).map(|i| json!({"echo": format!("b{i}")})).collect();
    assert_eq!(bulk["result"], json!(expected), "results in request order");

    let runs = runs_of(&fake, "sdk-echo");
    assert_eq!(runs.len(), 40);
    assert!(runs.iter().all(|r| (r.state, r.deliveries) == (RunState::Completed, 1)), "{runs:?}");
    assert_eq!(fake.recorded_requests().trigger.len(), 40);
    assert_eq!(fake.logs().len(), 40, "one ctx.log line per run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_held_by_a_sigkilled_worker_moves_to_a_second_worker() {
    // Hatchet's timing, shortened: no new work after 1 s of silence, runs moved after 3 s.
    let config = FakeConfig {
        stop_assigning_after: Duration::from_secs(1),
        inactivity_timeout: Duration::from_secs(3),
        ..FakeConfig::default()
    };
    let fake = start_fake(config).await;
    let mut first = SdkWorker::start(&fake, "first").await;

    let held = {
        let mut command = tokio::process::Command::from(sdk_command(&fake, "sdk_trigger.py"));
        command.arg("hold").stdout(Stdio::piped()).stderr(Stdio::piped());
        command.kill_on_drop(true).spawn().expect("the SDK trigger starts")
    };
    let started = |f: &FakeHandle| runs_of(f, "sdk-hold").first().is_some_and(|r| r.state == RunState::Running);
    patiently("the first worker to start the held run", fake.wait_until(started)).await;
    first.kill();

    let second = SdkWorker::start(&fake, "second").await;
    let output = patiently("the held run to finish", held.wait_with_output()).await.expect("trigger output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.lines().last().expect("a result line")).expect("JSON");
    assert_eq!(result["result"], json!({"worker": "second"}));

    let [run] = runs_of(&fake, "sdk-hold").try_into().expect("exactly one sdk-hold run");
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(run.assigned_workers, vec![first.worker_id.clone(), second.worker_id.clone()]);
    assert_eq!(run.deliveries, 2);
}

/// mageflow's own client sends what the official SDK sends, as the fake records both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mageflow_registers_and_declares_like_the_official_sdk() {
    let fake = start_fake(FakeConfig::default()).await;
    let _worker = SdkWorker::start(&fake, "reference").await;
    let conn = Connection::connect(fake.client_config().unwrap()).await.unwrap();
    conn.put_workflow(&WorkflowDefinition::new("mageflow-echo")).await.unwrap();
    conn.register("mageflow", vec!["mageflow-echo:mageflow-echo".into()], 25).await.unwrap();
    conn.trigger_workflow(&TriggerRequest::new("mageflow-echo", json!({"message": "hi"}))).await.unwrap();

    let recorded = fake.recorded_requests();
    let [python, ours] = recorded.register.clone().try_into().expect("two registrations");
    // Engines from v0.78.23 on read slot_config; the legacy `slots` field stays unset.
    assert_eq!((python.slots, ours.slots), (None, None));
    assert_eq!(python.slot_config, ours.slot_config, "{python:?}\n{ours:?}");
    assert_eq!(python.services, ours.services);

    let python_echo = recorded.put_workflow.iter().find(|w| w.name == "sdk-echo").expect("sdk-echo declared");
    let ours_echo = recorded.put_workflow.iter().find(|w| w.name == "mageflow-echo").expect("declared");
    let (python_task, our_task) = (&python_echo.tasks[0], &ours_echo.tasks[0]);
    assert_eq!(python_task.action, format!("{0}:{0}", python_task.readable_id));
    assert_eq!(our_task.action, format!("{0}:{0}", our_task.readable_id));
    assert_eq!(python_task.slot_requests, our_task.slot_requests);
    assert_eq!(python_task.parents, our_task.parents);
    // The SDK always sends a timeout; mageflow may leave it empty for the engine's default (60 s).
    assert!(mageflow_hatchet::workflow::parse_duration_text(&python_task.timeout).is_some());
    assert_eq!(our_task.timeout, "");
    let ours_spec = fake.workflow("mageflow-echo").unwrap();
    assert_eq!(ours_spec.timeout, Some(mageflow_hatchet::fake::DEFAULT_TASK_TIMEOUT));
    // Top-level triggers: neither names a parent task; the SDK's child_index = 0 is ignored.
    assert!(recorded.trigger.iter().all(|t| t.parent_task_run_external_id.is_none() && t.parent_id.is_none()));
}
