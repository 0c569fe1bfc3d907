//! End-to-end worker behaviour against the fake engine over loopback gRPC.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DropSignal, fake, fake_with, handler, options, start_worker, within};
use mageflow_hatchet::fake::{FakeConfig, RecordedStepEvent, RunState};
use mageflow_hatchet::proto::{StepActionEvent, StepActionEventType, v1};
use mageflow_hatchet::{StepOutcome, TaskOutcome, TriggerRequest, WorkflowDefinition};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, oneshot};

#[tokio::test]
async fn worker_runs_workflow_end_to_end() {
    let (fake, conn) = fake().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let workflow = WorkflowDefinition::new("Greet")
        .timeout(Duration::from_secs(30))
        .backoff(2.0, 60)
        .input_json_schema(r#"{"type":"object"}"#);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 4),
        vec![workflow],
        handler(move |action| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                assert_eq!(action.workflow_name, "greet");
                assert_eq!(action.retry_count, 0);
                StepOutcome::completed(&json!({
                    "hello": action.input["name"],
                    "signature": action.signature_id(),
                    "extra": action.additional_metadata["extra"],
                }))
            }
        }),
    )
    .await;

    let spec = fake.workflow("greet").expect("declared");
    assert_eq!(spec.action, "greet:greet");
    assert_eq!(spec.retries, 0);
    assert_eq!(spec.timeout, Some(Duration::from_secs(30)));
    assert_eq!(spec.input_json_schema.as_deref(), Some(r#"{"type":"object"}"#));

    let request = TriggerRequest::new("Greet", json!({"name": "ada"})).signature_id("sig-42").metadata("extra", 7);
    let run_id = within(conn.trigger_workflow(&request)).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    let output = result.outcome().unwrap().output_json().unwrap();
    assert_eq!(output, json!({"hello": "ada", "signature": "sig-42", "extra": 7}));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!(snapshot.state, RunState::Completed);
    assert_eq!(snapshot.deliveries, 1);
    let kinds: Vec<_> = fake
        .step_events()
        .into_iter()
        .filter(|e| e.task_run_external_id == snapshot.task_run_external_id)
        .map(|e| e.event_type)
        .collect();
    assert_eq!(kinds, vec![StepActionEventType::StepEventTypeStarted, StepActionEventType::StepEventTypeCompleted]);

    let details = within(conn.get_run_details(&run_id)).await.unwrap();
    assert!(details.done);
    assert_eq!(details.status, v1::RunStatus::Completed as i32);
    let task = &details.task_runs["greet"];
    assert_eq!(serde_json::from_slice::<serde_json::Value>(task.output.as_ref().unwrap()).unwrap(), output);
    assert_eq!(within(conn.get_version()).await.unwrap(), mageflow_hatchet::fake::DEFAULT_VERSION);
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn failed_attempts_are_retried_then_succeed() {
    let (fake, conn) = fake().await;
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&attempts);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("flaky").retries(3)],
        handler(move |action| {
            log.lock().unwrap().push(action.retry_count);
            async move {
                if action.retry_count < 2 {
                    StepOutcome::failed(format!("attempt {} failed", action.retry_count))
                } else {
                    StepOutcome::completed(&json!({"ok": action.retry_count}))
                }
            }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("flaky", json!({}))).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap().output_json().unwrap(), json!({"ok": 2}));
    assert_eq!(*attempts.lock().unwrap(), vec![0, 1, 2]);
    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!((snapshot.deliveries, snapshot.retry_count), (3, 2));
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn exhausted_retries_fail_the_run_with_the_last_error() {
    let (fake, conn) = fake().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("doomed").retries(2)],
        handler(move |action| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move { StepOutcome::failed(format!("boom {}", action.retry_count)) }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("doomed", json!({}))).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Failed("boom 2".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn non_retryable_failure_is_not_retried() {
    let (fake, conn) = fake().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("strict").retries(5)],
        handler(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { StepOutcome::non_retryable("bad input") }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("strict", json!({}))).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Failed("bad input".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!((snapshot.state, snapshot.deliveries, snapshot.retry_count), (RunState::Failed, 1, 0));
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn cancel_aborts_the_running_handler() {
    let (fake, conn) = fake().await;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("slow")],
        handler(move |action| {
            let guard = DropSignal(dropped_tx.lock().unwrap().take());
            let started = started_tx.clone();
            async move {
                let _guard = guard;
                let _ = started.send(action.workflow_run_id.clone());
                futures::future::pending::<StepOutcome>().await
            }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("slow", json!({}))).await.unwrap();
    assert_eq!(within(started_rx.recv()).await.unwrap(), run_id);
    let cancelled = within(conn.cancel_tasks(vec![run_id.clone()])).await.unwrap();
    assert_eq!(cancelled.len(), 1);
    within(dropped_rx).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Failed("task cancelled".into()));
    assert_eq!(fake.run(&run_id).unwrap().state, RunState::Cancelled);
    // Cancelling again changes nothing.
    assert!(within(conn.cancel_tasks(vec![run_id.clone()])).await.unwrap().is_empty());
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn cancel_of_a_queued_run_never_runs_it() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("idle")).await.unwrap();
    let run_id = conn.trigger_workflow(&TriggerRequest::new("idle", json!({}))).await.unwrap();
    assert_eq!(fake.run(&run_id).unwrap().state, RunState::Queued);
    assert_eq!(within(conn.cancel_tasks(vec![run_id.clone()])).await.unwrap().len(), 1);
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Failed("task cancelled".into()));
    assert_eq!(fake.run(&run_id).unwrap().deliveries, 0);
}

#[derive(Default)]
struct Overlap {
    current: usize,
    max: usize,
    total: usize,
}

#[tokio::test]
async fn two_workers_share_work_round_robin_within_slots() {
    let (fake, conn) = fake().await;
    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<String>();
    let mut workers = Vec::new();
    let mut stats = Vec::new();
    for name in ["a", "b"] {
        let overlap = Arc::new(Mutex::new(Overlap::default()));
        stats.push(Arc::clone(&overlap));
        let gate = Arc::clone(&gate);
        let started = started_tx.clone();
        let workflow = WorkflowDefinition::new("shared");
        let worker = start_worker(
            &fake,
            &conn,
            options(name, 2),
            vec![workflow],
            handler(move |action| {
                {
                    let mut o = overlap.lock().unwrap();
                    o.current += 1;
                    o.total += 1;
                    o.max = o.max.max(o.current);
                }
                let gate = Arc::clone(&gate);
                let overlap = Arc::clone(&overlap);
                let started = started.clone();
                async move {
                    let _ = started.send(action.workflow_run_id.clone());
                    let permit = gate.acquire().await;
                    permit.map(|p| p.forget()).ok();
                    overlap.lock().unwrap().current -= 1;
                    StepOutcome::completed(&json!(null))
                }
            }),
        )
        .await;
        workers.push(worker);
    }
    let requests: Vec<_> = (0..6).map(|i| TriggerRequest::new("shared", json!({"i": i}))).collect();
    let ids = within(conn.bulk_trigger_workflow(&requests)).await.unwrap();
    // Four slots in total: exactly four runs start, two per worker, alternating.
    for _ in 0..4 {
        within(started_rx.recv()).await.unwrap();
    }
    let assigned: Vec<Vec<String>> = ids.iter().map(|id| fake.run(id).unwrap().assigned_workers).collect();
    let (a, b) = (workers[0].worker_id().to_string(), workers[1].worker_id().to_string());
    assert_eq!(&assigned[..4], &[vec![a.clone()], vec![b.clone()], vec![a.clone()], vec![b.clone()]]);
    assert!(assigned[4].is_empty() && assigned[5].is_empty(), "no slot may be exceeded: {assigned:?}");
    assert_eq!(fake.run(&ids[4]).unwrap().state, RunState::Queued);
    gate.add_permits(6);
    for id in &ids {
        within(conn.wait_for_run(id)).await.unwrap();
    }
    let (sa, sb) = (stats[0].lock().unwrap().total, stats[1].lock().unwrap().total);
    assert_eq!(sa + sb, 6);
    assert!(sa >= 2 && sb >= 2);
    for s in &stats {
        assert!(s.lock().unwrap().max <= 2, "a worker ran more than its 2 slots");
    }
    for w in workers {
        within(w.shutdown()).await.unwrap();
    }
}

#[tokio::test]
async fn runs_of_a_worker_that_stops_heartbeating_are_reassigned() {
    let (fake, conn) =
        fake_with(FakeConfig { inactivity_timeout: Duration::from_millis(300), ..FakeConfig::default() }).await;
    conn.put_workflow(&WorkflowDefinition::new("job")).await.unwrap();
    // A worker that registers and listens but never heartbeats.
    let silent = conn.register("silent", vec!["job:job".into()], 1).await.unwrap();
    let mut stream = conn.listen(&silent.worker_id).await.unwrap();
    within(fake.wait_until_listening(&silent.worker_id)).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("job", json!({"n": 1}))).await.unwrap();
    let first = within(stream.message()).await.unwrap().unwrap();
    assert_eq!((first.workflow_run_id.as_str(), first.retry_count), (run_id.as_str(), 0));

    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let healthy = start_worker(
        &fake,
        &conn,
        options("healthy", 1),
        vec![WorkflowDefinition::new("job")],
        handler(move |action| {
            let _ = seen_tx.send(action.retry_count);
            async { StepOutcome::completed(&json!("done by healthy")) }
        }),
    )
    .await;
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("\"done by healthy\"".into()));
    assert_eq!(within(seen_rx.recv()).await, Some(1));
    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!(snapshot.assigned_workers, vec![silent.worker_id.clone(), healthy.worker_id().to_string()]);

    // A late report from the silent worker about its old attempt changes nothing.
    conn.send_step_action_event(StepActionEvent {
        worker_id: silent.worker_id.clone(),
        task_run_external_id: first.task_run_external_id.clone(),
        action_id: first.action_id.clone(),
        event_type: StepActionEventType::StepEventTypeCompleted as i32,
        event_payload: "\"late\"".into(),
        retry_count: Some(0),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(fake.run(&run_id).unwrap().output.as_deref(), Some("\"done by healthy\""));
    let late = fake.step_events().into_iter().find(|e| e.payload == "\"late\"").unwrap();
    assert!(!late.applied);
    within(healthy.shutdown()).await.unwrap();
}

#[tokio::test]
async fn attempt_exceeding_its_timeout_is_cancelled_and_retried() {
    let (fake, conn) = fake().await;
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let workflow = WorkflowDefinition::new("hangs").retries(1).timeout(Duration::from_secs(1));
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![workflow],
        handler(move |action| {
            let guard = (action.retry_count == 0).then(|| DropSignal(dropped_tx.lock().unwrap().take()));
            async move {
                if let Some(_guard) = guard {
                    futures::future::pending::<()>().await;
                }
                StepOutcome::completed(&json!(action.retry_count))
            }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("hangs", json!({}))).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("1".into()));
    within(dropped_rx).await.unwrap();
    assert_eq!(fake.run(&run_id).unwrap().deliveries, 2);
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_lets_running_steps_finish() {
    let (fake, conn) = fake().await;
    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let g = Arc::clone(&gate);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("drain")],
        handler(move |_| {
            let g = Arc::clone(&g);
            let started = started_tx.clone();
            async move {
                let _ = started.send(());
                let _ = g.acquire().await;
                StepOutcome::completed(&json!("finished"))
            }
        }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("drain", json!({}))).await.unwrap();
    within(started_rx.recv()).await.unwrap();
    let shutdown = tokio::spawn(worker.shutdown());
    gate.add_permits(1);
    within(shutdown).await.unwrap().unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("\"finished\"".into()));
}

#[tokio::test]
async fn shutdown_aborts_steps_still_running_after_the_grace_period() {
    let (fake, conn) = fake().await;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let mut opts = options("w", 1);
    opts.shutdown_grace = Duration::from_millis(100);
    let worker = start_worker(
        &fake,
        &conn,
        opts,
        vec![WorkflowDefinition::new("stuck")],
        handler(move |_| {
            let guard = DropSignal(dropped_tx.lock().unwrap().take());
            let started = started_tx.clone();
            async move {
                let _guard = guard;
                let _ = started.send(());
                futures::future::pending::<StepOutcome>().await
            }
        }),
    )
    .await;
    conn.trigger_workflow(&TriggerRequest::new("stuck", json!({}))).await.unwrap();
    within(started_rx.recv()).await.unwrap();
    within(worker.shutdown()).await.unwrap();
    within(dropped_rx).await.unwrap();
}

#[tokio::test]
async fn worker_survives_malformed_actions() {
    let (fake, conn) = fake().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 2),
        vec![WorkflowDefinition::new("robust")],
        handler(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { StepOutcome::completed(&json!("ok")) }
        }),
    )
    .await;
    let bad =
        |run: &str, payload: &str, action_type: i32, metadata: Option<&str>| mageflow_hatchet::proto::AssignedAction {
            workflow_run_id: run.into(),
            task_run_external_id: run.into(),
            action_id: "robust:robust".into(),
            action_type,
            action_payload: payload.into(),
            additional_metadata: metadata.map(String::from),
            ..Default::default()
        };
    assert!(fake.inject_action(worker.worker_id(), bad("bogus-payload", "{not json", 0, None)));
    assert!(fake.inject_action(worker.worker_id(), bad("bogus-meta", r#"{"input":{}}"#, 0, Some("[1,2]"))));
    assert!(fake.inject_action(worker.worker_id(), bad("bogus-type", r#"{"input":{}}"#, 99, None)));
    // The worker keeps serving real work afterwards.
    let run_id = conn.trigger_workflow(&TriggerRequest::new("robust", json!({}))).await.unwrap();
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("\"ok\"".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Step events travel independently of the action stream: await both reports.
    let is_bogus_failure = |e: &RecordedStepEvent| {
        e.event_type == StepActionEventType::StepEventTypeFailed && e.task_run_external_id.starts_with("bogus")
    };
    within(fake.wait_for_step_events(|events| events.iter().filter(|e| is_bogus_failure(e)).count() >= 2)).await;
    let events = fake.step_events();
    let payload_of =
        |id: &str| events.iter().find(|e| e.task_run_external_id == id).map(|e| e.payload.clone()).unwrap_or_default();
    assert!(payload_of("bogus-payload").contains("action_payload is not JSON"));
    assert!(payload_of("bogus-meta").contains("additional_metadata is not a JSON object"));
    assert!(events.iter().all(|e| e.task_run_external_id != "bogus-type"));
    within(worker.shutdown()).await.unwrap();
}
