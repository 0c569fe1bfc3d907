//! The gRPC services of the fake engine, thin wrappers around [`Engine`](super::engine::Engine).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::engine::Engine;
use crate::proto::{self, dispatcher_server::Dispatcher, v1, workflow_service_server::WorkflowService};

/// State shared by all services.
pub(crate) struct Shared {
    pub engine: Mutex<Engine>,
    pub version: String,
    /// Bumped whenever a worker opens its action stream.
    pub listens: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a run subscription request is handled.
    pub subscriptions: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a step event arrives (accepted or not).
    pub step_events: tokio::sync::watch::Sender<u64>,
    /// Bumped after every call that may change the engine's state.
    pub changes: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits on a state change.
    pub fn touch(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

/// `EventsService` service.
#[derive(Clone)]
pub(crate) struct EventsService(pub Arc<Shared>);

/// `Dispatcher` service.
#[derive(Clone)]
pub(crate) struct DispatcherService(pub Arc<Shared>);

/// `WorkflowService` service.
#[derive(Clone)]
pub(crate) struct WorkflowsService(pub Arc<Shared>);

/// `v1.AdminService` service.
#[derive(Clone)]
pub(crate) struct AdminService(pub Arc<Shared>);

#[tonic::async_trait]
impl Dispatcher for DispatcherService {
    async fn get_version(
        &self,
        _request: Request<proto::GetVersionRequest>,
    ) -> Result<Response<proto::GetVersionResponse>, Status> {
        Ok(Response::new(proto::GetVersionResponse { version: self.0.version.clone() }))
    }

    async fn register(
        &self,
        request: Request<proto::WorkerRegisterRequest>,
    ) -> Result<Response<proto::WorkerRegisterResponse>, Status> {
        let response = self.0.engine().register(request.into_inner());
        self.0.touch();
        Ok(Response::new(response?))
    }

    type ListenV2Stream = UnboundedReceiverStream<Result<proto::AssignedAction, Status>>;

    async fn listen_v2(
        &self,
        request: Request<proto::WorkerListenRequest>,
    ) -> Result<Response<Self::ListenV2Stream>, Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0.engine().listen(&request.into_inner().worker_id, tx)?;
        self.0.listens.send_modify(|n| *n += 1);
        self.0.touch();
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    async fn heartbeat(
        &self,
        request: Request<proto::HeartbeatRequest>,
    ) -> Result<Response<proto::HeartbeatResponse>, Status> {
        self.0.engine().heartbeat(&request.into_inner().worker_id)?;
        self.0.touch();
        Ok(Response::new(proto::HeartbeatResponse {}))
    }

    async fn send_step_action_event(
        &self,
        request: Request<proto::StepActionEvent>,
    ) -> Result<Response<proto::ActionEventResponse>, Status> {
        let response = self.0.engine().step_event(request.into_inner());
        self.0.step_events.send_modify(|n| *n += 1);
        self.0.touch();
        Ok(Response::new(response?))
    }

    type SubscribeToWorkflowRunsStream = UnboundedReceiverStream<Result<proto::WorkflowRunEvent, Status>>;

    async fn subscribe_to_workflow_runs(
        &self,
        request: Request<Streaming<proto::SubscribeToWorkflowRunsRequest>>,
    ) -> Result<Response<Self::SubscribeToWorkflowRunsStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.0.engine().add_subscriber(tx.clone());
        // Only the engine holds a strong sender, so dropping it there ends the response stream.
        let weak = tx.downgrade();
        drop(tx);
        let shared = Arc::clone(&self.0);
        tokio::spawn(async move {
            loop {
                match requests.message().await {
                    Ok(Some(request)) if request.workflow_run_id.is_empty() => {
                        if let Some(tx) = weak.upgrade() {
                            let _ = tx.send(Err(Status::invalid_argument("workflow_run_id is empty")));
                        }
                        shared.engine().remove_subscriber(id);
                        return;
                    }
                    Ok(Some(request)) => {
                        shared.engine().subscribe(id, &request.workflow_run_id);
                        shared.subscriptions.send_modify(|n| *n += 1);
                    }
                    // The client closed its side: keep delivering; the subscriber is dropped
                    // once a delivery finds the response stream gone.
                    Ok(None) => return,
                    Err(status) => {
                        tracing::debug!(%status, "subscription request stream ended");
                        shared.engine().remove_subscriber(id);
                        return;
                    }
                }
            }
        });
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    type SubscribeToWorkflowEventsStream = UnboundedReceiverStream<Result<proto::WorkflowEvent, Status>>;

    async fn subscribe_to_workflow_events(
        &self,
        request: Request<proto::SubscribeToWorkflowEventsRequest>,
    ) -> Result<Response<Self::SubscribeToWorkflowEventsStream>, Status> {
        let request = request.into_inner();
        let Some(run_id) = request.workflow_run_id.filter(|id| !id.is_empty()) else {
            return Err(Status::unimplemented(
                "the fake engine streams the events of one run; set workflow_run_id (filtering by metadata is not supported)",
            ));
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.0.engine().watch_events(&run_id, tx)?;
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    async fn refresh_timeout(
        &self,
        request: Request<proto::RefreshTimeoutRequest>,
    ) -> Result<Response<proto::RefreshTimeoutResponse>, Status> {
        let timeout_at = self.0.engine().refresh_timeout(&request.into_inner())?;
        self.0.touch();
        Ok(Response::new(proto::RefreshTimeoutResponse { timeout_at: Some(prost_types::Timestamp::from(timeout_at)) }))
    }

    async fn release_slot(
        &self,
        request: Request<proto::ReleaseSlotRequest>,
    ) -> Result<Response<proto::ReleaseSlotResponse>, Status> {
        self.0.engine().release_slot_of(&request.into_inner().task_run_external_id)?;
        self.0.touch();
        Ok(Response::new(proto::ReleaseSlotResponse {}))
    }

    async fn upsert_worker_labels(
        &self,
        request: Request<proto::UpsertWorkerLabelsRequest>,
    ) -> Result<Response<proto::UpsertWorkerLabelsResponse>, Status> {
        let response = self.0.engine().upsert_labels(request.into_inner())?;
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl proto::events_service_server::EventsService for EventsService {
    async fn push(&self, request: Request<proto::PushEventRequest>) -> Result<Response<proto::Event>, Status> {
        let event = self.0.engine().push_event(request.into_inner());
        self.0.touch();
        Ok(Response::new(event?))
    }

    async fn put_log(&self, request: Request<proto::PutLogRequest>) -> Result<Response<proto::PutLogResponse>, Status> {
        self.0.engine().put_log(request.into_inner())?;
        self.0.touch();
        Ok(Response::new(proto::PutLogResponse {}))
    }

    async fn put_stream_event(
        &self,
        request: Request<proto::PutStreamEventRequest>,
    ) -> Result<Response<proto::PutStreamEventResponse>, Status> {
        self.0.engine().put_stream_event(request.into_inner())?;
        Ok(Response::new(proto::PutStreamEventResponse {}))
    }
}

#[tonic::async_trait]
impl WorkflowService for WorkflowsService {
    async fn trigger_workflow(
        &self,
        request: Request<v1::TriggerWorkflowRequest>,
    ) -> Result<Response<proto::TriggerWorkflowResponse>, Status> {
        let mut engine = self.0.engine();
        let new_run = engine.validate_trigger(&request.into_inner())?;
        let workflow_run_id = engine.create_run(new_run);
        engine.dispatch();
        drop(engine);
        self.0.touch();
        Ok(Response::new(proto::TriggerWorkflowResponse { workflow_run_id }))
    }

    async fn bulk_trigger_workflow(
        &self,
        request: Request<proto::BulkTriggerWorkflowRequest>,
    ) -> Result<Response<proto::BulkTriggerWorkflowResponse>, Status> {
        let mut engine = self.0.engine();
        let requests = request.into_inner().workflows;
        if requests.is_empty() {
            return Err(Status::invalid_argument("BulkTriggerWorkflow needs at least one workflow"));
        }
        let validated = requests.iter().map(|r| engine.validate_trigger(r)).collect::<Result<Vec<_>, Status>>()?;
        let workflow_run_ids = validated.into_iter().map(|r| engine.create_run(r)).collect();
        engine.dispatch();
        drop(engine);
        self.0.touch();
        Ok(Response::new(proto::BulkTriggerWorkflowResponse { workflow_run_ids }))
    }
}

#[tonic::async_trait]
impl v1::admin_service_server::AdminService for AdminService {
    async fn put_workflow(
        &self,
        request: Request<v1::CreateWorkflowVersionRequest>,
    ) -> Result<Response<v1::CreateWorkflowVersionResponse>, Status> {
        let response = self.0.engine().put_workflow(request.into_inner());
        self.0.touch();
        Ok(Response::new(response?))
    }

    async fn cancel_tasks(
        &self,
        request: Request<v1::CancelTasksRequest>,
    ) -> Result<Response<v1::CancelTasksResponse>, Status> {
        let request = request.into_inner();
        if request.filter.is_some() {
            return Err(Status::unimplemented("the fake engine cancels by external_ids only"));
        }
        let cancelled_tasks = self.0.engine().cancel(&request.external_ids);
        self.0.touch();
        Ok(Response::new(v1::CancelTasksResponse { cancelled_tasks }))
    }

    async fn get_run_details(
        &self,
        request: Request<v1::GetRunDetailsRequest>,
    ) -> Result<Response<v1::GetRunDetailsResponse>, Status> {
        let response = self.0.engine().run_details(&request.into_inner().external_id)?;
        Ok(Response::new(response))
    }
}
