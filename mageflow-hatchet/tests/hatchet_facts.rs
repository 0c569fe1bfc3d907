//! The fake engine behaves as Hatchet does wherever a client can tell (issue 12's list of facts):
//! trigger validation and child fields, outputs that are not JSON, PutLog, RefreshTimeout, Push,
//! SubscribeToWorkflowEvents, workflows with several tasks, dead-worker timing, retry_after_ms and
//! the announced version.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{fake, fake_with, within};
use mageflow_hatchet::fake::{
    DEFAULT_VERSION, FakeConfig, FakeHandle, INACTIVITY_TIMEOUT, RunState, STOP_ASSIGNING_AFTER,
};
use mageflow_hatchet::proto::{self, AssignedAction, StepActionEventType, v1};
use mageflow_hatchet::{ChildOf, Connection, TaskOutcome, TriggerRequest, WorkflowDefinition};
use serde_json::{Value, json};
use tonic::{Code, Streaming};

/// A worker driven by hand: registered, listening, never heartbeating unless told to.
struct RawWorker {
    id: String,
    stream: Streaming<AssignedAction>,
}

impl RawWorker {
    async fn start(fake: &FakeHandle, conn: &Connection, actions: &[&str], slots: u32) -> RawWorker {
        let registration = conn.register("raw", actions.iter().map(|a| a.to_string()).collect(), slots).await.unwrap();
        let stream = conn.listen(&registration.worker_id).await.unwrap();
        within(fake.wait_until_listening(&registration.worker_id)).await;
        RawWorker { id: registration.worker_id, stream }
    }

    async fn next(&mut self) -> AssignedAction {
        within(self.stream.message()).await.unwrap().expect("the action stream is open")
    }

    fn event(&self, action: &AssignedAction, kind: StepActionEventType, payload: &str) -> proto::StepActionEvent {
        proto::StepActionEvent {
            worker_id: self.id.clone(),
            job_id: action.job_id.clone(),
            job_run_id: action.job_run_id.clone(),
            task_id: action.task_id.clone(),
            task_run_external_id: action.task_run_external_id.clone(),
            action_id: action.action_id.clone(),
            event_timestamp: Some(mageflow_hatchet::connection::now_timestamp()),
            event_type: kind as i32,
            event_payload: payload.into(),
            retry_count: Some(action.retry_count),
            ..Default::default()
        }
    }

    async fn start_action(&self, conn: &Connection, action: &AssignedAction) {
        conn.send_step_action_event(self.event(action, StepActionEventType::StepEventTypeStarted, "")).await.unwrap();
    }

    async fn complete(&self, conn: &Connection, action: &AssignedAction, output: &str) {
        self.start_action(conn, action).await;
        let event = self.event(action, StepActionEventType::StepEventTypeCompleted, output);
        conn.send_step_action_event(event).await.unwrap();
    }
}

fn trigger(name: &str) -> v1::TriggerWorkflowRequest {
    v1::TriggerWorkflowRequest { name: name.into(), input: "{}".into(), ..Default::default() }
}

async fn task_run_of(conn: &Connection, run_id: &str, task: &str) -> String {
    conn.get_run_details(run_id).await.unwrap().task_runs[task].external_id.clone()
}

#[tokio::test]
async fn child_fields_are_ignored_without_a_parent_task_run_id() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("plain")).await.unwrap();
    let mut workflows = conn.workflows();
    // What the official Python SDK sends on every top-level trigger.
    let sdk_style = v1::TriggerWorkflowRequest { child_index: Some(0), ..trigger("plain") };
    let a = workflows.trigger_workflow(sdk_style.clone()).await.unwrap().into_inner().workflow_run_id;
    let b = workflows.trigger_workflow(sdk_style).await.unwrap().into_inner().workflow_run_id;
    assert_ne!(a, b, "no parent task, no child dedupe");
    // parent_id (field 3) alone does not make a child either.
    let with_run_only = v1::TriggerWorkflowRequest {
        parent_id: Some(a.clone()),
        child_index: Some(0),
        child_key: Some("k".into()),
        ..trigger("plain")
    };
    let c = workflows.trigger_workflow(with_run_only.clone()).await.unwrap().into_inner().workflow_run_id;
    let d = workflows.trigger_workflow(with_run_only).await.unwrap().into_inner().workflow_run_id;
    assert_ne!(c, d);
    assert_eq!(fake.run(&c).unwrap().parent_task_run_external_id, None);
    assert_eq!(fake.runs().len(), 4);
}

#[tokio::test]
async fn children_are_deduplicated_by_parent_task_and_parent_ids_must_be_uuids() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("parent")).await.unwrap();
    conn.put_workflow(&WorkflowDefinition::new("child")).await.unwrap();
    let first_parent = conn.trigger_workflow(&TriggerRequest::new("parent", json!({}))).await.unwrap();
    let second_parent = conn.trigger_workflow(&TriggerRequest::new("parent", json!({}))).await.unwrap();
    let first_task = task_run_of(&conn, &first_parent, "parent").await;
    let second_task = task_run_of(&conn, &second_parent, "parent").await;
    let child = |run: &str, task: &str, index: i32| {
        TriggerRequest::new("child", json!({})).child_of(ChildOf {
            parent_id: run.into(),
            parent_task_run_external_id: task.into(),
            index: Some(index),
            key: None,
        })
    };
    let a = conn.trigger_workflow(&child(&first_parent, &first_task, 0)).await.unwrap();
    let again = conn.trigger_workflow(&child(&first_parent, &first_task, 0)).await.unwrap();
    let other_parent = conn.trigger_workflow(&child(&second_parent, &second_task, 0)).await.unwrap();
    assert_eq!(a, again);
    assert_ne!(a, other_parent, "keyed on the parent task");
    assert_eq!(fake.run(&a).unwrap().parent_task_run_external_id.as_deref(), Some(first_task.as_str()));

    let mut workflows = conn.workflows();
    let code = |parent: &str| v1::TriggerWorkflowRequest {
        parent_task_run_external_id: Some(parent.into()),
        child_index: Some(0),
        ..trigger("child")
    };
    let not_uuid = workflows.trigger_workflow(code("parent-task")).await.unwrap_err();
    assert_eq!(not_uuid.code(), Code::InvalidArgument, "{not_uuid}");
    assert!(not_uuid.message().contains("UUID"), "{not_uuid}");
    let unknown = workflows.trigger_workflow(code("8b1c6c4e-2f4e-4f1a-9d0e-0c6a1f0e9b11")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unknown, "{unknown}");
    assert_eq!(fake.runs().len(), 4, "two parents, two distinct children");
}

#[tokio::test]
async fn trigger_validation_matches_hatchet() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("target")).await.unwrap();
    let mut workflows = conn.workflows();
    let unknown = workflows.trigger_workflow(trigger("no-such-workflow")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument, "{unknown}");
    assert!(unknown.message().contains("no-such-workflow"), "{unknown}");
    for priority in [0, 4, 7, -1] {
        let request = v1::TriggerWorkflowRequest { priority: Some(priority), ..trigger("target") };
        let status = workflows.trigger_workflow(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "priority {priority}: {status}");
    }
    let bad_worker = v1::TriggerWorkflowRequest { desired_worker_id: Some("worker-1".into()), ..trigger("target") };
    assert_eq!(workflows.trigger_workflow(bad_worker).await.unwrap_err().code(), Code::InvalidArgument);
    // A bulk request with one bad priority creates nothing.
    let bulk = proto::BulkTriggerWorkflowRequest {
        workflows: vec![trigger("target"), v1::TriggerWorkflowRequest { priority: Some(9), ..trigger("target") }],
    };
    assert_eq!(workflows.bulk_trigger_workflow(bulk).await.unwrap_err().code(), Code::InvalidArgument);
    assert!(fake.runs().is_empty());

    let good = v1::TriggerWorkflowRequest {
        priority: Some(3),
        desired_worker_id: Some("1d7a3c5e-6b0f-4a55-8d6e-3b1c2d4e5f60".into()),
        ..trigger("target")
    };
    let id = workflows.trigger_workflow(good).await.unwrap().into_inner().workflow_run_id;
    let plain = workflows.trigger_workflow(trigger("target")).await.unwrap().into_inner().workflow_run_id;
    assert_eq!((fake.run(&id).unwrap().priority, fake.run(&plain).unwrap().priority), (3, 1));
}

#[tokio::test]
async fn higher_priority_runs_are_assigned_first() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("ranked")).await.unwrap();
    let mut workflows = conn.workflows();
    let mut ids = Vec::new();
    for priority in [1, 3, 2] {
        let request = v1::TriggerWorkflowRequest { priority: Some(priority), ..trigger("ranked") };
        ids.push(workflows.trigger_workflow(request).await.unwrap().into_inner().workflow_run_id);
    }
    let mut worker = RawWorker::start(&fake, &conn, &["ranked:ranked"], 3).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(worker.next().await.workflow_run_id);
    }
    assert_eq!(order, vec![ids[1].clone(), ids[2].clone(), ids[0].clone()]);
}

#[tokio::test]
async fn a_completed_event_whose_output_is_not_json_fails_the_task() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("garbled").retries(2)).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["garbled:garbled"], 1).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("garbled", json!({}))).await.unwrap();
    let action = worker.next().await;
    // The RPC succeeds, as Hatchet's does: the output is checked after the event is accepted.
    worker.complete(&conn, &action, "{not json").await;
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    let TaskOutcome::Failed(error) = result.outcome().unwrap() else { panic!("{result:?}") };
    assert!(error.contains("not valid JSON"), "{error}");
    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!((snapshot.state, snapshot.deliveries), (RunState::Failed, 1));
    assert_eq!(conn.get_run_details(&run_id).await.unwrap().status, v1::RunStatus::Failed as i32);
}

#[tokio::test]
async fn put_log_stores_lines_readable_from_the_fake() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("chatty")).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["chatty:chatty"], 1).await;
    conn.trigger_workflow(&TriggerRequest::new("chatty", json!({}))).await.unwrap();
    let action = worker.next().await;
    let mut events = conn.events();
    let line = |message: &str, metadata: &str| proto::PutLogRequest {
        task_run_external_id: action.task_run_external_id.clone(),
        created_at: Some(mageflow_hatchet::connection::now_timestamp()),
        message: message.into(),
        level: Some("INFO".into()),
        metadata: metadata.into(),
        task_retry_count: None,
    };
    let response = events.put_log(line("first line", "")).await.unwrap().into_inner();
    assert_eq!(response, proto::PutLogResponse {});
    events.put_log(line("second line", r#"{"step": 2}"#)).await.unwrap();
    let bad_metadata = events.put_log(line("third", "[1]")).await.unwrap_err();
    assert_eq!(bad_metadata.code(), Code::InvalidArgument);
    let not_uuid = proto::PutLogRequest { task_run_external_id: "run-1".into(), ..line("x", "") };
    assert_eq!(events.put_log(not_uuid).await.unwrap_err().code(), Code::InvalidArgument);
    let unknown =
        proto::PutLogRequest { task_run_external_id: "2f0e4d7a-1c3b-4e5f-8a9b-0c1d2e3f4a5b".into(), ..line("x", "") };
    assert_eq!(events.put_log(unknown).await.unwrap_err().code(), Code::NotFound);

    let logs = fake.task_logs(&action.task_run_external_id);
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, vec!["first line", "second line"]);
    assert_eq!(logs[1].metadata, r#"{"step":2}"#);
    assert_eq!((logs[0].retry_count, logs[0].level.as_deref()), (0, Some("INFO")));
    assert!(logs[0].created_at.is_some());
    assert_eq!(fake.logs().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_timeout_pushes_the_deadline_back() {
    let (fake, conn) = fake().await;
    let definition = WorkflowDefinition::new("slow").timeout(Duration::from_secs(1));
    conn.put_workflow(&definition).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["slow:slow"], 2).await;
    let refreshed = conn.trigger_workflow(&TriggerRequest::new("slow", json!({}))).await.unwrap();
    let plain = conn.trigger_workflow(&TriggerRequest::new("slow", json!({}))).await.unwrap();
    let mut actions = vec![worker.next().await, worker.next().await];
    actions.sort_by_key(|a| a.workflow_run_id != refreshed);
    let mut dispatcher = conn.dispatcher();
    let refresh = |id: &str, by: &str| proto::RefreshTimeoutRequest {
        task_run_external_id: id.into(),
        increment_timeout_by: by.into(),
    };
    for action in &actions {
        worker.start_action(&conn, action).await;
    }
    let before = SystemTime::now();
    let response =
        dispatcher.refresh_timeout(refresh(&actions[0].task_run_external_id, "30s")).await.unwrap().into_inner();
    let timeout_at = SystemTime::try_from(response.timeout_at.expect("timeout_at")).unwrap();
    let ahead = timeout_at.duration_since(before).unwrap();
    // 1 s of timeout plus 30 s, less the time since STARTED; without the refresh it would be under 1 s.
    assert!(ahead > Duration::from_secs(20) && ahead <= Duration::from_secs(31), "{ahead:?}");
    let bad = dispatcher.refresh_timeout(refresh(&actions[0].task_run_external_id, "soon")).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let not_uuid = dispatcher.refresh_timeout(refresh("task", "5s")).await.unwrap_err();
    assert_eq!(not_uuid.code(), Code::InvalidArgument);

    // The plain run times out (and, with no retries, fails); the refreshed one keeps running.
    let plain_result = within(conn.wait_for_run(&plain)).await.unwrap();
    assert!(matches!(plain_result.outcome().unwrap(), TaskOutcome::Failed(e) if e.contains("timed out")));
    assert_eq!(fake.run(&refreshed).unwrap().state, RunState::Running);
    let finished = dispatcher.refresh_timeout(refresh(&actions[1].task_run_external_id, "5s")).await.unwrap_err();
    assert_eq!(finished.code(), Code::FailedPrecondition, "{finished}");
}

#[tokio::test]
async fn workflows_with_several_tasks_run_as_a_dag() {
    let (fake, conn) = fake().await;
    let mut request = WorkflowDefinition::new("dag").to_request(conn.config()).unwrap();
    let task = |id: &str, parents: &[&str]| v1::CreateTaskOpts {
        readable_id: id.into(),
        action: format!("dag:{id}"),
        timeout: "60s".into(),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    };
    request.tasks = vec![task("a", &[]), task("b", &["a"]), task("c", &["a"]), task("d", &["b", "c"])];
    let mut admin = conn.admin();
    admin.put_workflow(request.clone()).await.unwrap();
    assert_eq!(fake.workflow("dag").unwrap().tasks.len(), 4);

    let mut worker = RawWorker::start(&fake, &conn, &["dag:a", "dag:b", "dag:c", "dag:d"], 4).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("dag", json!({"n": 1}))).await.unwrap();
    let mut seen = Vec::new();
    let mut parents_of_d = Value::Null;
    for _ in 0..4 {
        let action = worker.next().await;
        let payload: Value = serde_json::from_str(&action.action_payload).unwrap();
        assert_eq!(payload["input"], json!({"n": 1}));
        if action.task_name == "d" {
            parents_of_d = payload["parents"].clone();
        }
        // Only a task whose parents are done is ever sent.
        let ready = match action.task_name.as_str() {
            "a" => seen.is_empty(),
            "b" | "c" => seen.contains(&"a".to_string()),
            _ => seen.contains(&"b".to_string()) && seen.contains(&"c".to_string()),
        };
        assert!(ready, "{} sent after {seen:?}", action.task_name);
        seen.push(action.task_name.clone());
        worker.complete(&conn, &action, &json!({"task": action.task_name}).to_string()).await;
    }
    assert_eq!(parents_of_d, json!({"b": {"task": "b"}, "c": {"task": "c"}}));
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    let names: Vec<&str> = result.tasks.iter().map(|t| t.task_name.as_str()).collect();
    assert_eq!(names, vec!["a", "b", "c", "d"]);
    let details = conn.get_run_details(&run_id).await.unwrap();
    assert!(details.done);
    assert_eq!(details.task_runs.len(), 4);

    // A failed task cancels what depends on it; the run fails.
    let failing = conn.trigger_workflow(&TriggerRequest::new("dag", json!({}))).await.unwrap();
    let a = worker.next().await;
    worker.complete(&conn, &a, "{}").await;
    let mut pair = vec![worker.next().await, worker.next().await];
    pair.sort_by(|x, y| x.task_name.cmp(&y.task_name));
    let [b, c]: [AssignedAction; 2] = pair.try_into().unwrap();
    worker.start_action(&conn, &b).await;
    let mut failed = worker.event(&b, StepActionEventType::StepEventTypeFailed, "b broke");
    failed.should_not_retry = Some(true);
    conn.send_step_action_event(failed).await.unwrap();
    worker.complete(&conn, &c, "{}").await;
    within(conn.wait_for_run(&failing)).await.unwrap();
    let snapshot = fake.run(&failing).unwrap();
    let states: Vec<(String, RunState)> = snapshot.tasks.iter().map(|t| (t.readable_id.clone(), t.state)).collect();
    assert_eq!(
        states,
        vec![
            ("a".into(), RunState::Completed),
            ("b".into(), RunState::Failed),
            ("c".into(), RunState::Completed),
            ("d".into(), RunState::Cancelled)
        ]
    );
    assert_eq!(snapshot.state, RunState::Failed);
    assert_eq!(snapshot.tasks[3].deliveries, 0);

    // Parents must name tasks of the workflow, without cycles.
    let mut unknown_parent = request.clone();
    unknown_parent.tasks[1].parents = vec!["z".into()];
    assert_eq!(admin.put_workflow(unknown_parent).await.unwrap_err().code(), Code::InvalidArgument);
    let mut cycle = request;
    cycle.tasks[0].parents = vec!["d".into()];
    assert_eq!(admin.put_workflow(cycle).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn dead_worker_timing_defaults_are_hatchets() {
    let config = FakeConfig::default();
    assert_eq!((config.stop_assigning_after, config.inactivity_timeout), (STOP_ASSIGNING_AFTER, INACTIVITY_TIMEOUT));
    assert_eq!((STOP_ASSIGNING_AFTER, INACTIVITY_TIMEOUT), (Duration::from_secs(5), Duration::from_secs(30)));
    assert_eq!(config.version, DEFAULT_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_worker_gets_no_new_work_then_loses_its_runs() {
    let config = FakeConfig {
        stop_assigning_after: Duration::from_millis(300),
        inactivity_timeout: Duration::from_secs(3),
        ..FakeConfig::default()
    };
    let (fake, conn) = fake_with(config).await;
    conn.put_workflow(&WorkflowDefinition::new("job")).await.unwrap();
    // The worker's last sign of life (its stream opening) comes after this instant.
    let silent_since = Instant::now();
    let mut silent = RawWorker::start(&fake, &conn, &["job:job"], 5).await;
    let held = conn.trigger_workflow(&TriggerRequest::new("job", json!({}))).await.unwrap();
    let action = silent.next().await;
    silent.start_action(&conn, &action).await;
    // Let the worker be silent past the first threshold: that silence is what is tested.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = conn.trigger_workflow(&TriggerRequest::new("job", json!({}))).await.unwrap();
    assert_eq!(fake.run(&queued).unwrap().state, RunState::Queued, "no new work to a silent worker");
    assert_eq!(fake.run(&held).unwrap().state, RunState::Running, "it keeps what it holds for now");

    let mut healthy = RawWorker::start(&fake, &conn, &["job:job"], 5).await;
    let beats = {
        let (conn, id) = (conn.clone(), healthy.id.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                let _ = conn.heartbeat(&id).await;
            }
        })
    };
    let fresh = healthy.next().await;
    assert_eq!(fresh.workflow_run_id, queued);
    let moved = healthy.next().await;
    assert_eq!(moved.workflow_run_id, held);
    assert!(silent_since.elapsed() >= Duration::from_secs(3), "moved after the inactivity timeout");
    assert_eq!(fake.run(&held).unwrap().assigned_workers, vec![silent.id.clone(), healthy.id.clone()]);
    beats.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_ms_delays_the_next_attempt() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("later").retries(1)).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["later:later"], 1).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("later", json!({}))).await.unwrap();
    let first = worker.next().await;
    worker.start_action(&conn, &first).await;
    let mut failed = worker.event(&first, StepActionEventType::StepEventTypeFailed, "busy, retry later");
    failed.retry_after_ms = Some(400);
    let failed_at = Instant::now();
    conn.send_step_action_event(failed).await.unwrap();
    let second = worker.next().await;
    assert!(failed_at.elapsed() >= Duration::from_millis(400), "{:?}", failed_at.elapsed());
    assert_eq!((second.workflow_run_id.as_str(), second.retry_count), (run_id.as_str(), 1));
}

#[tokio::test]
async fn get_version_announces_the_newest_version_served() {
    let (_fake, conn) = fake().await;
    assert_eq!(conn.get_version().await.unwrap(), "v0.111.0");
}

#[tokio::test]
async fn push_starts_the_workflows_its_key_triggers() {
    let (fake, conn) = fake().await;
    let mut request = WorkflowDefinition::new("on-order").to_request(conn.config()).unwrap();
    request.event_triggers = vec!["order:created".into()];
    conn.admin().put_workflow(request).await.unwrap();
    conn.put_workflow(&WorkflowDefinition::new("unrelated")).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["on-order:on-order"], 1).await;
    let push = proto::PushEventRequest {
        key: "order:created".into(),
        payload: r#"{"order": 7}"#.into(),
        additional_metadata: Some(r#"{"source": "test"}"#.into()),
        ..Default::default()
    };
    let event = conn.events().push(push).await.unwrap().into_inner();
    assert_eq!(event.key, "order:created");
    assert!(uuid_like(&event.event_id), "{}", event.event_id);
    let action = worker.next().await;
    let payload: Value = serde_json::from_str(&action.action_payload).unwrap();
    assert_eq!((payload["input"].clone(), payload["triggered_by"].clone()), (json!({"order": 7}), json!("event")));
    assert_eq!(fake.runs().len(), 1);
    let bad = proto::PushEventRequest { key: "order:created".into(), payload: "{".into(), ..Default::default() };
    assert_eq!(conn.events().push(bad).await.unwrap_err().code(), Code::InvalidArgument);
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn subscribe_to_workflow_events_streams_task_events_then_hangs_up() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("watched")).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["watched:watched"], 1).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("watched", json!({}))).await.unwrap();
    let request =
        proto::SubscribeToWorkflowEventsRequest { workflow_run_id: Some(run_id.clone()), ..Default::default() };
    let mut stream = conn.dispatcher().subscribe_to_workflow_events(request.clone()).await.unwrap().into_inner();
    let action = worker.next().await;
    worker.complete(&conn, &action, r#"{"ok": true}"#).await;
    let mut kinds = Vec::new();
    while let Some(event) = within(stream.message()).await.unwrap() {
        kinds.push((event.resource_type, event.event_type, event.hangup));
        if event.hangup {
            assert_eq!(event.event_payload, r#"{"watched":{"ok":true}}"#);
            break;
        }
    }
    use proto::{ResourceEventType as E, ResourceType as R};
    assert_eq!(
        kinds,
        vec![
            (R::StepRun as i32, E::Started as i32, false),
            (R::StepRun as i32, E::Completed as i32, false),
            (R::WorkflowRun as i32, E::Completed as i32, true)
        ]
    );
    // A finished run answers its last event at once.
    let mut late = conn.dispatcher().subscribe_to_workflow_events(request).await.unwrap().into_inner();
    assert!(within(late.message()).await.unwrap().unwrap().hangup);
}

/// One HTTP/1.1 GET on the fake's REST port: (status code, body).
async fn http_get(fake: &FakeHandle, path: &str, token: Option<&str>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(fake.rest_addr()).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: fake\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    within(stream.read_to_string(&mut response)).await.unwrap();
    let status: u16 = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

#[tokio::test]
async fn the_rest_api_reads_runs_for_sdks_that_poll() {
    let (fake, conn) = fake().await;
    let claims = mageflow_hatchet::config::decode_token_claims(&fake.token()).unwrap();
    assert_eq!(claims.server_url, fake.server_url(), "the token's server_url is the REST port");
    conn.put_workflow(&WorkflowDefinition::new("polled")).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["polled:polled"], 1).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("polled", json!({"x": 1}))).await.unwrap();
    let path = format!("/api/v1/stable/workflow-runs/{run_id}");
    let token = fake.token();

    let (status, queued) = http_get(&fake, &path, Some(&token)).await;
    assert_eq!((status, queued["run"]["status"].clone()), (200, json!("QUEUED")));
    let action = worker.next().await;
    worker.complete(&conn, &action, r#"{"y": 2}"#).await;
    let (status, done) = http_get(&fake, &path, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(done["run"]["status"], json!("COMPLETED"));
    assert_eq!(done["run"]["output"], json!({"polled": {"y": 2}}));
    assert_eq!(done["run"]["input"], json!({"x": 1}));
    let task = &done["tasks"][0];
    assert_eq!((task["output"].clone(), task["actionId"].clone()), (json!({"y": 2}), json!("polled:polled")));
    assert_eq!(task["taskExternalId"], json!(action.task_run_external_id));
    let (status, text) = http_get(&fake, &format!("{path}/status"), Some(&token)).await;
    assert_eq!((status, text), (200, json!("COMPLETED")));

    assert_eq!(http_get(&fake, &path, None).await.0, 401);
    assert_eq!(http_get(&fake, "/api/v1/stable/workflow-runs/run-1", Some(&token)).await.0, 400);
    let unknown = "/api/v1/stable/workflow-runs/0b5f4b0e-0000-4000-8000-000000000000";
    let (status, body) = http_get(&fake, unknown, Some(&token)).await;
    assert_eq!(status, 404);
    assert!(body["errors"][0]["description"].as_str().unwrap().contains("not found"), "{body}");
    assert_eq!(http_get(&fake, "/api/v1/tenants/x/workflows", Some(&token)).await.0, 501);
}

#[tokio::test]
async fn release_slot_lets_a_worker_take_more_work_while_a_task_runs() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("long")).await.unwrap();
    let mut worker = RawWorker::start(&fake, &conn, &["long:long"], 1).await;
    let first = conn.trigger_workflow(&TriggerRequest::new("long", json!({}))).await.unwrap();
    let second = conn.trigger_workflow(&TriggerRequest::new("long", json!({}))).await.unwrap();
    let action = worker.next().await;
    assert_eq!(action.workflow_run_id, first);
    worker.start_action(&conn, &action).await;
    assert_eq!(fake.run(&second).unwrap().state, RunState::Queued, "one slot, taken");
    let release = proto::ReleaseSlotRequest { task_run_external_id: action.task_run_external_id.clone() };
    conn.dispatcher().release_slot(release).await.unwrap();
    let next = worker.next().await;
    assert_eq!(next.workflow_run_id, second);
    assert_eq!(fake.run(&first).unwrap().state, RunState::Running, "the released task still runs");
    let labels = proto::UpsertWorkerLabelsRequest {
        worker_id: worker.id.clone(),
        labels: [("zone".to_string(), proto::WorkerLabels { str_value: Some("eu".into()), int_value: None })].into(),
    };
    let answer = conn.dispatcher().upsert_worker_labels(labels.clone()).await.unwrap().into_inner();
    assert_eq!(answer.worker_id, worker.id);
    let ghost = proto::UpsertWorkerLabelsRequest { worker_id: "ghost".into(), ..labels };
    assert_eq!(conn.dispatcher().upsert_worker_labels(ghost).await.unwrap_err().code(), Code::NotFound);
}
