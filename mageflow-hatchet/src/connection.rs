//! A cheap-to-clone authenticated gRPC connection to a Hatchet engine, with typed calls.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub use crate::auth::{AuthChannel, AuthInterceptor};
use crate::config::{HatchetConfig, TlsStrategy};
use crate::error::{HatchetError, Result};
use crate::proto::{self, dispatcher_client::DispatcherClient, v1, workflow_service_client::WorkflowServiceClient};
use crate::subscribe::{RunResult, RunSubscriber};
use crate::workflow::{TriggerRequest, WorkflowDefinition};

/// Identity the engine gave a registered worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The worker id to use in every later dispatcher call.
    pub worker_id: String,
    /// The tenant the worker belongs to.
    pub tenant_id: String,
    /// The worker name as registered.
    pub worker_name: String,
}

/// Identity of a declared workflow version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutWorkflowResult {
    /// The workflow version id.
    pub version_id: String,
    /// The workflow id.
    pub workflow_id: String,
}

struct Inner {
    config: HatchetConfig,
    channel: Channel,
    auth: AuthInterceptor,
    subscriber: OnceLock<RunSubscriber>,
}

/// An authenticated connection to Hatchet; clones share the underlying HTTP/2 channel.
///
/// Every call sends gzip-compressed requests. No lock is held across a call, so any number
/// of calls may be in flight at once.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects now, failing if the engine cannot be reached.
    pub async fn connect(config: HatchetConfig) -> Result<Self> {
        let endpoint = endpoint(&config)?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| HatchetError::Connect { address: config.endpoint_uri(), source })?;
        Self::with_channel(config, channel)
    }

    /// Creates the connection without dialling; the first call connects (and reconnects later).
    pub fn connect_lazy(config: HatchetConfig) -> Result<Self> {
        let channel = endpoint(&config)?.connect_lazy();
        Self::with_channel(config, channel)
    }

    fn with_channel(config: HatchetConfig, channel: Channel) -> Result<Self> {
        let auth = AuthInterceptor::new(config.token())?;
        Ok(Connection { inner: Arc::new(Inner { config, channel, auth, subscriber: OnceLock::new() }) })
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &HatchetConfig {
        &self.inner.config
    }

    /// A raw `Dispatcher` client on this connection (auth and gzip set up).
    pub fn dispatcher(&self) -> DispatcherClient<AuthChannel> {
        DispatcherClient::with_interceptor(self.inner.channel.clone(), self.inner.auth.clone())
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip)
    }

    /// A raw `WorkflowService` client on this connection.
    pub fn workflows(&self) -> WorkflowServiceClient<AuthChannel> {
        WorkflowServiceClient::with_interceptor(self.inner.channel.clone(), self.inner.auth.clone())
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip)
    }

    /// A raw `EventsService` client on this connection (events, task logs, stream chunks).
    pub fn events(&self) -> proto::events_service_client::EventsServiceClient<AuthChannel> {
        proto::events_service_client::EventsServiceClient::with_interceptor(
            self.inner.channel.clone(),
            self.inner.auth.clone(),
        )
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
    }

    /// A raw `v1.AdminService` client on this connection.
    pub fn admin(&self) -> v1::admin_service_client::AdminServiceClient<AuthChannel> {
        v1::admin_service_client::AdminServiceClient::with_interceptor(
            self.inner.channel.clone(),
            self.inner.auth.clone(),
        )
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
    }

    /// `Dispatcher.GetVersion`: the engine version string.
    pub async fn get_version(&self) -> Result<String> {
        let response = self
            .dispatcher()
            .get_version(proto::GetVersionRequest {})
            .await
            .map_err(|s| HatchetError::rpc("Dispatcher.GetVersion", s))?;
        Ok(response.into_inner().version)
    }

    /// `v1.AdminService.PutWorkflow`: declares (or updates) a workflow.
    pub async fn put_workflow(&self, workflow: &WorkflowDefinition) -> Result<PutWorkflowResult> {
        let request = workflow.to_request(self.config())?;
        let response = self
            .admin()
            .put_workflow(request)
            .await
            .map_err(|s| HatchetError::rpc("AdminService.PutWorkflow", s))?
            .into_inner();
        Ok(PutWorkflowResult { version_id: response.id, workflow_id: response.workflow_id })
    }

    /// `Dispatcher.Register`: registers a worker for `actions` with `slots` concurrent steps.
    ///
    /// Asks the engine's version first, as Hatchet's SDKs do: from v0.78.23 the slots are sent as
    /// `slot_config {"default": slots}` (with `services = ["default"]`); older engines, and
    /// engines without `GetVersion`, get the legacy `slots` field.
    pub async fn register(&self, worker_name: &str, actions: Vec<String>, slots: u32) -> Result<Registration> {
        let slots = i32::try_from(slots)
            .map_err(|_| HatchetError::InvalidInput { what: "slots", reason: format!("{slots} is too large") })?;
        let slot_config = match self.get_version().await {
            Ok(version) => version_at_least(&version, SLOT_CONFIG_VERSION),
            Err(error) if error.code() == Some(tonic::Code::Unimplemented) => false,
            Err(error) => return Err(error),
        };
        let mut request = proto::WorkerRegisterRequest {
            worker_name: worker_name.to_string(),
            actions,
            runtime_info: Some(proto::RuntimeInfo {
                sdk_version: Some(format!("mageflow-hatchet {}", env!("CARGO_PKG_VERSION"))),
                language: None,
                language_version: None,
                os: Some(std::env::consts::OS.to_string()),
                extra: None,
            }),
            ..Default::default()
        };
        if slot_config {
            request.services = vec!["default".to_string()];
            request.slot_config = std::collections::HashMap::from([("default".to_string(), slots)]);
        } else {
            request.slots = Some(slots);
        }
        let response = self
            .dispatcher()
            .register(request)
            .await
            .map_err(|s| HatchetError::rpc("Dispatcher.Register", s))?
            .into_inner();
        if response.worker_id.is_empty() {
            return Err(HatchetError::Protocol {
                what: "WorkerRegisterResponse",
                reason: "the worker id is empty".into(),
            });
        }
        Ok(Registration {
            worker_id: response.worker_id,
            tenant_id: response.tenant_id,
            worker_name: response.worker_name,
        })
    }

    /// `Dispatcher.ListenV2`: the stream of actions assigned to `worker_id`.
    pub async fn listen(&self, worker_id: &str) -> Result<tonic::Streaming<proto::AssignedAction>> {
        let response = self
            .dispatcher()
            .listen_v2(proto::WorkerListenRequest { worker_id: worker_id.to_string() })
            .await
            .map_err(|s| HatchetError::rpc("Dispatcher.ListenV2", s))?;
        Ok(response.into_inner())
    }

    /// `Dispatcher.Heartbeat`: marks `worker_id` alive.
    pub async fn heartbeat(&self, worker_id: &str) -> Result<()> {
        self.dispatcher()
            .heartbeat(proto::HeartbeatRequest {
                worker_id: worker_id.to_string(),
                heartbeat_at: Some(now_timestamp()),
            })
            .await
            .map_err(|s| HatchetError::rpc("Dispatcher.Heartbeat", s))?;
        Ok(())
    }

    /// `Dispatcher.SendStepActionEvent`: reports STARTED / COMPLETED / FAILED for an attempt.
    pub async fn send_step_action_event(&self, event: proto::StepActionEvent) -> Result<()> {
        self.dispatcher()
            .send_step_action_event(event)
            .await
            .map_err(|s| HatchetError::rpc("Dispatcher.SendStepActionEvent", s))?;
        Ok(())
    }

    /// `WorkflowService.TriggerWorkflow`: starts a run and returns its id.
    pub async fn trigger_workflow(&self, request: &TriggerRequest) -> Result<String> {
        let request = request.to_proto(self.config())?;
        let id = self
            .workflows()
            .trigger_workflow(request)
            .await
            .map_err(|s| HatchetError::rpc("WorkflowService.TriggerWorkflow", s))?
            .into_inner()
            .workflow_run_id;
        if id.is_empty() {
            return Err(HatchetError::Protocol {
                what: "TriggerWorkflowResponse",
                reason: "the run id is empty".into(),
            });
        }
        Ok(id)
    }

    /// `WorkflowService.BulkTriggerWorkflow`: starts many runs; ids come back in request order.
    pub async fn bulk_trigger_workflow(&self, requests: &[TriggerRequest]) -> Result<Vec<String>> {
        let workflows = requests.iter().map(|r| r.to_proto(self.config())).collect::<Result<Vec<_>>>()?;
        let ids = self
            .workflows()
            .bulk_trigger_workflow(proto::BulkTriggerWorkflowRequest { workflows })
            .await
            .map_err(|s| HatchetError::rpc("WorkflowService.BulkTriggerWorkflow", s))?
            .into_inner()
            .workflow_run_ids;
        if ids.len() != requests.len() {
            return Err(HatchetError::Protocol {
                what: "BulkTriggerWorkflowResponse",
                reason: format!("{} run ids for {} requests", ids.len(), requests.len()),
            });
        }
        Ok(ids)
    }

    /// `v1.AdminService.CancelTasks`: cancels runs or tasks by external id; returns the ids cancelled.
    pub async fn cancel_tasks(&self, external_ids: Vec<String>) -> Result<Vec<String>> {
        let response = self
            .admin()
            .cancel_tasks(v1::CancelTasksRequest { external_ids, filter: None })
            .await
            .map_err(|s| HatchetError::rpc("AdminService.CancelTasks", s))?;
        Ok(response.into_inner().cancelled_tasks)
    }

    /// `v1.AdminService.GetRunDetails`: the state of a run and its tasks.
    pub async fn get_run_details(&self, run_id: &str) -> Result<v1::GetRunDetailsResponse> {
        let response = self
            .admin()
            .get_run_details(v1::GetRunDetailsRequest { external_id: run_id.to_string() })
            .await
            .map_err(|s| HatchetError::rpc("AdminService.GetRunDetails", s))?;
        Ok(response.into_inner())
    }

    /// The shared run-result subscriber of this connection (started on first use).
    pub fn run_results(&self) -> RunSubscriber {
        self.inner.subscriber.get_or_init(|| RunSubscriber::start(self.dispatcher())).clone()
    }

    /// Waits until run `run_id` finishes and returns its task results.
    ///
    /// Any number of callers may wait at once; they share one `SubscribeToWorkflowRuns` stream.
    pub async fn wait_for_run(&self, run_id: &str) -> Result<RunResult> {
        self.run_results().wait(run_id).await
    }
}

fn endpoint(config: &HatchetConfig) -> Result<Endpoint> {
    let uri = config.endpoint_uri();
    let bad = |e: tonic::transport::Error| HatchetError::Connect { address: uri.clone(), source: e };
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(bad)?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if config.tls() == TlsStrategy::Tls {
        let mut tls = ClientTlsConfig::new().domain_name(config.tls_server_name().to_string());
        tls = match config.tls_root_ca_file() {
            Some(path) => {
                tls.ca_certificate(Certificate::from_pem(read_pem(path, crate::config::ENV_TLS_ROOT_CA_FILE)?))
            }
            None => tls.with_webpki_roots(),
        };
        if let Some((cert, key)) = config.tls_client_identity() {
            let cert = read_pem(cert, crate::config::ENV_TLS_CERT_FILE)?;
            let key = read_pem(key, crate::config::ENV_TLS_KEY_FILE)?;
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint.tls_config(tls).map_err(bad)?;
    }
    Ok(endpoint)
}

/// Reads a PEM file named by a TLS setting.
fn read_pem(path: &std::path::Path, setting: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|error| HatchetError::InvalidConfig(format!("cannot read {setting} ({}): {error}", path.display())))
}

/// The current time as a protobuf timestamp.
pub fn now_timestamp() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

/// The first engine version that reads `slot_config` at registration (Hatchet's SDKs switch there).
pub const SLOT_CONFIG_VERSION: &str = "v0.78.23";

/// Whether `version` (`v1.2.3`; the `v` optional, anything after the patch number ignored) is at
/// least `minimum`; an unreadable version counts as older.
pub fn version_at_least(version: &str, minimum: &str) -> bool {
    fn parse(text: &str) -> Option<(u64, u64, u64)> {
        let mut parts = text.trim().trim_start_matches('v').splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
        Some((major, minor, patch.parse().ok()?))
    }
    match (parse(version), parse(minimum)) {
        (Some(version), Some(minimum)) => version >= minimum,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("v0.111.0", SLOT_CONFIG_VERSION));
        assert!(version_at_least("v0.78.23", SLOT_CONFIG_VERSION));
        assert!(version_at_least("0.80.0-rc.1", SLOT_CONFIG_VERSION));
        assert!(!version_at_least("v0.78.9", SLOT_CONFIG_VERSION));
        assert!(!version_at_least("v0.9.100", SLOT_CONFIG_VERSION));
        assert!(!version_at_least("", SLOT_CONFIG_VERSION));
        assert!(!version_at_least("unknown", SLOT_CONFIG_VERSION));
    }
}
