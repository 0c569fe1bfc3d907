//! Protocol-level behaviour of the fake engine and the client, over loopback gRPC.

mod common;

use common::{fake, handler, options, start_worker, within};
use mageflow_hatchet::fake::DEFAULT_VERSION;
use mageflow_hatchet::proto::{
    self, StepActionEvent, dispatcher_client::DispatcherClient, v1, workflow_service_client::WorkflowServiceClient,
};
use mageflow_hatchet::{ChildOf, Connection, StepOutcome, TaskOutcome, TriggerRequest, WorkflowDefinition};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

#[tokio::test]
async fn bulk_trigger_returns_ids_in_request_order() {
    let (_fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("bulk")).await.unwrap();
    let requests: Vec<_> = (0..5).map(|i| TriggerRequest::new("bulk", json!({"i": i}))).collect();
    let ids = within(conn.bulk_trigger_workflow(&requests)).await.unwrap();
    assert_eq!(ids.len(), 5);
    for (i, id) in ids.iter().enumerate() {
        let details = conn.get_run_details(id).await.unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&details.input).unwrap(), json!({"i": i}));
        assert!(!details.done);
        assert_eq!(details.status, v1::RunStatus::Queued as i32);
    }
}

#[tokio::test]
async fn subscription_answers_for_runs_finished_before_it() {
    let (fake, conn) = fake().await;
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("early")],
        handler(|action| async move { StepOutcome::completed(&action.input) }),
    )
    .await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("early", json!({"v": 1}))).await.unwrap();
    let first = within(conn.wait_for_run(&run_id)).await.unwrap();
    // A fresh connection has its own stream, opened after the run finished.
    let late = Connection::connect(fake.client_config().unwrap()).await.unwrap();
    let second = within(late.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second.outcome().unwrap(), &TaskOutcome::Completed("{\"v\":1}".into()));
    // Waiting twice on the same stream for a finished run answers twice.
    assert_eq!(within(late.wait_for_run(&run_id)).await.unwrap(), second);
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn many_triggers_and_waits_in_flight_at_once() {
    let (fake, conn) = fake().await;
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 8),
        vec![WorkflowDefinition::new("echo")],
        handler(|action| async move { StepOutcome::completed(&action.input["n"]) }),
    )
    .await;
    let runs = futures::future::join_all((0..40).map(|n| {
        let conn = conn.clone();
        async move {
            let id = conn.trigger_workflow(&TriggerRequest::new("echo", json!({"n": n}))).await?;
            let result = conn.wait_for_run(&id).await?;
            result.outcome()?.output_json()
        }
    }));
    let outputs = within(runs).await;
    let outputs: Vec<Value> = outputs.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(outputs, (0..40).map(|n| json!(n)).collect::<Vec<_>>());
    assert_eq!(conn.run_results().pending(), 0);
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn child_runs_are_deduplicated_by_parent_and_index_or_key() {
    let (_fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("parent")).await.unwrap();
    conn.put_workflow(&WorkflowDefinition::new("child")).await.unwrap();
    let parent_run = conn.trigger_workflow(&TriggerRequest::new("parent", json!({}))).await.unwrap();
    let parent_task = conn.get_run_details(&parent_run).await.unwrap().task_runs["parent"].external_id.clone();
    let child = |index: Option<i32>, key: Option<&str>| {
        TriggerRequest::new("child", json!({})).child_of(ChildOf {
            parent_id: parent_run.clone(),
            parent_task_run_external_id: parent_task.clone(),
            index,
            key: key.map(String::from),
        })
    };
    let a = conn.trigger_workflow(&child(Some(0), None)).await.unwrap();
    let a_again = conn.trigger_workflow(&child(Some(0), None)).await.unwrap();
    let b = conn.trigger_workflow(&child(Some(1), None)).await.unwrap();
    let k = conn.bulk_trigger_workflow(&[child(None, Some("x")), child(None, Some("x"))]).await.unwrap();
    assert_eq!(a, a_again);
    assert_ne!(a, b);
    assert_eq!(k[0], k[1]);
    assert_ne!(k[0], a);
}

async fn raw_channel(conn: &Connection) -> Channel {
    Channel::from_shared(conn.config().endpoint_uri()).unwrap().connect().await.unwrap()
}

#[tokio::test]
async fn calls_without_a_well_formed_bearer_token_are_rejected() {
    let (fake, conn) = fake().await;
    let channel = raw_channel(&conn).await;
    let mut client = DispatcherClient::new(channel.clone());
    let status = client.get_version(proto::GetVersionRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    for header in ["Basic abc".to_string(), "Bearer nonsense".to_string(), fake.token()] {
        let mut request = tonic::Request::new(proto::GetVersionRequest {});
        request.metadata_mut().insert("authorization", header.parse().unwrap());
        let status = client.get_version(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{header}");
    }
    let mut request = tonic::Request::new(proto::GetVersionRequest {});
    request.metadata_mut().insert("authorization", format!("bearer {}", fake.token()).parse().unwrap());
    assert_eq!(client.get_version(request).await.unwrap().into_inner().version, DEFAULT_VERSION);
    // The typed client turns a rejection into an error naming the call and what to check.
    let err = mageflow_hatchet::HatchetError::rpc("Dispatcher.GetVersion", status);
    assert!(err.to_string().contains("check HATCHET_CLIENT_TOKEN"), "{err}");
}

#[tokio::test]
async fn fake_rejects_malformed_messages_with_error_statuses() {
    let (_fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("target")).await.unwrap();
    let mut workflows: WorkflowServiceClient<_> = conn.workflows();
    let trigger = |input: &str, metadata: Option<&str>, name: &str| v1::TriggerWorkflowRequest {
        name: name.into(),
        input: input.into(),
        additional_metadata: metadata.map(String::from),
        ..Default::default()
    };
    let code = |r: Result<tonic::Response<proto::TriggerWorkflowResponse>, tonic::Status>| r.unwrap_err().code();
    assert_eq!(code(workflows.trigger_workflow(trigger("{oops", None, "target")).await), Code::InvalidArgument);
    assert_eq!(code(workflows.trigger_workflow(trigger("{}", Some("[1]"), "target")).await), Code::InvalidArgument);
    assert_eq!(code(workflows.trigger_workflow(trigger("{}", Some("{bad"), "target")).await), Code::InvalidArgument);
    assert_eq!(code(workflows.trigger_workflow(trigger("{}", None, "")).await), Code::InvalidArgument);
    // Hatchet: "workflow names not found" is INVALID_ARGUMENT.
    assert_eq!(code(workflows.trigger_workflow(trigger("{}", None, "unknown")).await), Code::InvalidArgument);
    // A bulk request with one bad entry creates nothing.
    let bulk = proto::BulkTriggerWorkflowRequest {
        workflows: vec![trigger("{}", None, "target"), trigger("nope", None, "target")],
    };
    assert_eq!(workflows.bulk_trigger_workflow(bulk).await.unwrap_err().code(), Code::InvalidArgument);

    let mut admin = conn.admin();
    let mut bad_timeout = WorkflowDefinition::new("x").to_request(conn.config()).unwrap();
    bad_timeout.tasks[0].timeout = "soon".into();
    assert_eq!(admin.put_workflow(bad_timeout).await.unwrap_err().code(), Code::InvalidArgument);
    let mut two_tasks = WorkflowDefinition::new("x").to_request(conn.config()).unwrap();
    two_tasks.tasks.push(two_tasks.tasks[0].clone());
    assert_eq!(admin.put_workflow(two_tasks).await.unwrap_err().code(), Code::InvalidArgument);
    let mut bad_schema = WorkflowDefinition::new("x").to_request(conn.config()).unwrap();
    bad_schema.input_json_schema = Some(b"{".to_vec());
    assert_eq!(admin.put_workflow(bad_schema).await.unwrap_err().code(), Code::InvalidArgument);
    let missing = admin.get_run_details(v1::GetRunDetailsRequest { external_id: "nope".into() }).await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);

    let registration = conn.register("w", vec!["target:target".into()], 1).await.unwrap();
    let run_id = conn.trigger_workflow(&TriggerRequest::new("target", json!({}))).await.unwrap();
    let task_run = conn.get_run_details(&run_id).await.unwrap().task_runs["target"].external_id.clone();
    let event = |worker: &str, task: &str, event_type: i32, payload: &str| StepActionEvent {
        worker_id: worker.into(),
        task_run_external_id: task.into(),
        event_type,
        event_payload: payload.into(),
        retry_count: Some(0),
        ..Default::default()
    };
    let code = |r: mageflow_hatchet::Result<()>| r.unwrap_err().code();
    let w = registration.worker_id.as_str();
    assert_eq!(code(conn.send_step_action_event(event(w, &task_run, 42, "")).await), Some(Code::InvalidArgument));
    assert_eq!(code(conn.send_step_action_event(event(w, &task_run, 0, "")).await), Some(Code::InvalidArgument));
    assert_eq!(code(conn.send_step_action_event(event("ghost", &task_run, 1, "")).await), Some(Code::NotFound));
    assert_eq!(code(conn.send_step_action_event(event(w, "ghost", 1, "")).await), Some(Code::NotFound));
    assert_eq!(code(conn.heartbeat("ghost").await), Some(Code::NotFound));
    assert_eq!(conn.listen("ghost").await.err().and_then(|e| e.code()), Some(Code::NotFound));
    assert_eq!(conn.register("", vec![], 1).await.unwrap_err().code(), Some(Code::InvalidArgument));
    // An empty run id on the subscription stream is an error status on that stream.
    let mut dispatcher = conn.dispatcher();
    let requests =
        futures::stream::iter(vec![proto::SubscribeToWorkflowRunsRequest { workflow_run_id: String::new() }]);
    let mut stream = dispatcher.subscribe_to_workflow_runs(requests).await.unwrap().into_inner();
    assert_eq!(within(stream.message()).await.unwrap_err().code(), Code::InvalidArgument);
    // The engine still serves.
    assert_eq!(conn.get_version().await.unwrap(), DEFAULT_VERSION);
}

#[tokio::test]
async fn streams_reconnect_and_pending_runs_are_resubscribed() {
    let (fake, conn) = fake().await;
    let worker = start_worker(
        &fake,
        &conn,
        options("w", 1),
        vec![WorkflowDefinition::new("blip")],
        handler(|action| async move { StepOutcome::completed(&action.input) }),
    )
    .await;
    // Stop the worker so the next run stays queued while we break the streams.
    within(worker.shutdown()).await.unwrap();
    let run_id = conn.trigger_workflow(&TriggerRequest::new("blip", json!({"after": "blip"}))).await.unwrap();
    let waiter = {
        let conn = conn.clone();
        let run_id = run_id.clone();
        tokio::spawn(async move { conn.wait_for_run(&run_id).await })
    };
    within(fake.wait_for_watchers(&run_id, 1)).await;
    fake.drop_streams();
    assert_eq!(fake.run(&run_id).unwrap().state, mageflow_hatchet::fake::RunState::Queued);
    // The subscriber reconnects by itself and subscribes the pending run again.
    within(fake.wait_for_watchers(&run_id, 1)).await;
    let worker = start_worker(
        &fake,
        &conn,
        options("w2", 1),
        vec![WorkflowDefinition::new("blip")],
        handler(|action| async move { StepOutcome::completed(&action.input) }),
    )
    .await;
    // The worker's action stream also survives a blip.
    fake.drop_streams();
    within(fake.wait_until_listening(worker.worker_id())).await;
    let result = within(waiter).await.unwrap().unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("{\"after\":\"blip\"}".into()));
    let empty = conn.wait_for_run("").await.unwrap_err();
    assert!(empty.to_string().contains("empty"), "{empty}");
    within(worker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn tls_to_a_plaintext_engine_is_a_clear_error() {
    let (fake, _conn) = fake().await;
    let config = fake.client_config().unwrap().with_tls(mageflow_hatchet::TlsStrategy::Tls);
    assert_eq!(config.endpoint_uri(), format!("https://{}", fake.addr()));
    let lazy = Connection::connect_lazy(config.clone()).unwrap();
    let err = within(lazy.get_version()).await.unwrap_err();
    assert!(err.code().is_some(), "{err}");
    let err = within(Connection::connect(config)).await.unwrap_err();
    assert!(matches!(err, mageflow_hatchet::HatchetError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("HATCHET_CLIENT_TLS_STRATEGY"), "{err}");
}

#[tokio::test]
async fn started_after_completed_leaves_the_attempt_finished() {
    let (fake, conn) = fake().await;
    conn.put_workflow(&WorkflowDefinition::new("order")).await.unwrap();
    let worker = conn.register("raw", vec!["order:order".into()], 1).await.unwrap();
    let mut stream = conn.listen(&worker.worker_id).await.unwrap();
    within(fake.wait_until_listening(&worker.worker_id)).await;
    let run_id = conn.trigger_workflow(&TriggerRequest::new("order", json!({}))).await.unwrap();
    let action = within(stream.message()).await.unwrap().unwrap();
    let event = |event_type: proto::StepActionEventType, payload: &str| StepActionEvent {
        worker_id: worker.worker_id.clone(),
        task_run_external_id: action.task_run_external_id.clone(),
        action_id: action.action_id.clone(),
        event_type: event_type as i32,
        event_payload: payload.into(),
        retry_count: Some(action.retry_count),
        ..Default::default()
    };
    use proto::StepActionEventType::{StepEventTypeCompleted, StepEventTypeStarted};
    conn.send_step_action_event(event(StepEventTypeCompleted, "{\"done\":true}")).await.unwrap();
    conn.send_step_action_event(event(StepEventTypeStarted, "")).await.unwrap();
    conn.send_step_action_event(event(StepEventTypeStarted, "")).await.unwrap();
    let applied: Vec<bool> = fake.step_events().iter().map(|e| e.applied).collect();
    assert_eq!(applied, vec![true, false, false]);
    let details = conn.get_run_details(&run_id).await.unwrap();
    assert!(details.done);
    assert_eq!(details.status, v1::RunStatus::Completed as i32);
    let result = within(conn.wait_for_run(&run_id)).await.unwrap();
    assert_eq!(result.outcome().unwrap(), &TaskOutcome::Completed("{\"done\":true}".into()));
}
