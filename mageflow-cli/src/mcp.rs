//! `mageflow mcp`: a Model Context Protocol server over stdio (on `rmcp`, the official Rust SDK), so that an agent
//! can list tasks, look at flows, steer them and start new ones.
//!
//! Tools (each takes a JSON object described by its input schema, and answers structured JSON):
//! - `list_tasks` `{}`: the published task definitions with their schemas;
//! - `show_flow` `{"id"}`: the flow's tree, as `mageflow show --json` prints it;
//! - `suspend_flow`, `interrupt_flow`, `resume_flow`, `cancel_flow` `{"id"}`: the lifecycle, answering the status
//!   afterwards;
//! - `start_flow` `{"flow", "input"}`: starts a flow from its JSON description (a task name is a flow of one task),
//!   answering its id; a worker runs it;
//! - `list_flows` (a [`FlowFilter`]): a page of flows, newest first, and the cursor of the next page.
//!
//! Bad arguments and failures of the operation are tool errors (`isError: true`) with one line that says what is
//! wrong; an unknown tool name is a protocol error. Redis is connected at the first tool call, so that the server
//! starts even when Redis is not up yet.

use std::sync::Arc;

use mageflow_runtime::Mageflow;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::commands::{self, Action};
use crate::connect::{self, Target};
use crate::error::CliError;
use crate::index::{self, FlowFilter};
use crate::view::NodeView;

/// Arguments naming one flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowId {
    /// The flow's id (any signature id), as `start_flow` answered it or `mageflow run` printed it.
    pub id: String,
}

/// Arguments of `start_flow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartFlow {
    /// The flow's JSON description: a task name ("extract"); a task with bound arguments
    /// ({"task": "clean", "bind": {"strict": true}}); a chain ({"chain": [node, node, ...], "name": "etl"}); a
    /// swarm ({"swarm": [node, ...], "max_concurrency": 10, "stop_after_failures": 2}); any node may have
    /// "on_success" and "on_error" (a node or a list of nodes).
    pub flow: Value,
    /// The flow's input (`{}` when absent), checked against the first tasks' input schemas.
    #[serde(default = "empty_object")]
    pub input: Value,
}

fn empty_object() -> Value {
    json!({})
}

/// Arguments of `list_tasks`: none.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// The MCP server: tools over one client of the store.
pub struct McpServer {
    target: Target,
    client: tokio::sync::OnceCell<Mageflow>,
}

const TOOLS: &[(&str, &str)] = &[
    ("list_tasks", "Lists the task definitions that workers published: names, input JSON schemas, retries, timeouts."),
    ("show_flow", "Shows a flow's tree: every node's kind, name, status, timings, result or error."),
    ("suspend_flow", "Suspends a flow: nothing new starts; running tasks finish. Answers the status afterwards."),
    ("interrupt_flow", "Interrupts a flow: like suspend, and running tasks are aborted; they run again on resume."),
    ("resume_flow", "Resumes a suspended or interrupted flow: what was stopped runs again, exactly once."),
    ("cancel_flow", "Cancels a flow for good: running tasks are aborted and no callback of it runs."),
    ("start_flow", "Starts a flow from its JSON description with an input, and answers its id; a worker runs it."),
    ("list_flows", "Lists flows filtered by status, name and age, a page at a time."),
];

fn tool(name: &'static str, description: &'static str) -> Tool {
    let schema = match name {
        "list_tasks" => schema_for_type::<NoArguments>(),
        "start_flow" => schema_for_type::<StartFlow>(),
        "list_flows" => schema_for_type::<FlowFilter>(),
        _ => schema_for_type::<FlowId>(),
    };
    let annotations = match name {
        "list_tasks" | "show_flow" | "list_flows" => ToolAnnotations::new().read_only(true),
        "cancel_flow" => ToolAnnotations::new().read_only(false).destructive(true).idempotent(true),
        "start_flow" => ToolAnnotations::new().read_only(false).destructive(false).idempotent(false),
        _ => ToolAnnotations::new().read_only(false).destructive(false).idempotent(true),
    };
    Tool::new(name, description, schema).with_annotations(annotations)
}

/// Every tool, with its input schema.
pub fn tools() -> Vec<Tool> {
    TOOLS.iter().map(|(name, description)| tool(name, description)).collect()
}

fn arguments<T: DeserializeOwned>(tool: &str, arguments: Option<JsonObject>) -> Result<T, CliError> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|error| CliError::Usage(format!("bad arguments for `{tool}`: {error}; see the tool's input schema")))
}

fn failed(error: CliError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error.one_line())])
}

impl McpServer {
    /// A server on this Redis and prefix (connected at the first tool call).
    pub fn new(target: Target) -> McpServer {
        McpServer { target, client: tokio::sync::OnceCell::new() }
    }

    async fn client(&self) -> Result<&Mageflow, CliError> {
        self.client.get_or_try_init(|| connect::client(&self.target)).await
    }

    async fn steer(&self, tool: &str, action: Action, args: Option<JsonObject>) -> Result<Value, CliError> {
        let FlowId { id } = arguments(tool, args)?;
        let steered = commands::steer(self.client().await?, action, &id).await?;
        Ok(serde_json::to_value(steered).unwrap_or_default())
    }

    /// Runs one tool: its structured answer, or the error the caller sees.
    pub async fn call(&self, tool: &str, args: Option<JsonObject>) -> Result<Value, CliError> {
        match tool {
            "list_tasks" => {
                let NoArguments {} = arguments(tool, args)?;
                let definitions = commands::definitions(self.client().await?).await?;
                Ok(json!({ "tasks": definitions }))
            }
            "show_flow" => {
                let FlowId { id } = arguments(tool, args)?;
                let tree = commands::tree(self.client().await?, &id).await?;
                Ok(json!({ "flow": NodeView::of(&tree) }))
            }
            "suspend_flow" => self.steer(tool, Action::Suspend, args).await,
            "interrupt_flow" => self.steer(tool, Action::Interrupt, args).await,
            "resume_flow" => self.steer(tool, Action::Resume, args).await,
            "cancel_flow" => self.steer(tool, Action::Cancel, args).await,
            "start_flow" => {
                let StartFlow { flow, input } = arguments(tool, args)?;
                let id = commands::start_flow(self.client().await?, &flow, input).await?;
                Ok(json!({ "id": id }))
            }
            "list_flows" => {
                let filter: FlowFilter = arguments(tool, args)?;
                let page = index::list_flows(self.client().await?, &filter).await?;
                Ok(serde_json::to_value(page).unwrap_or_default())
            }
            other => Err(CliError::Usage(format!("unknown tool `{other}`"))),
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mageflow", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Tools over the mageflow flows in Redis under the key prefix `{}`. A flow's id comes from \
                 start_flow or from the application; list_tasks tells which tasks the workers run and the input \
                 each takes.",
                self.target.prefix
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        if !TOOLS.iter().any(|(tool, _)| *tool == name) {
            let known = TOOLS.iter().map(|(tool, _)| *tool).collect::<Vec<_>>().join(", ");
            return Err(ErrorData::invalid_params(format!("unknown tool `{name}`; the tools are {known}"), None));
        }
        let result = match self.call(name, request.arguments).await {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => failed(error),
        };
        Ok(result.into())
    }
}

/// Serves MCP on stdin and stdout until the client closes the connection.
pub async fn serve(target: Target) -> Result<(), CliError> {
    let server = Arc::new(McpServer::new(target));
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| CliError::Usage(format!("the MCP session did not start: {error}")))?;
    running.waiting().await.map_err(|error| CliError::Usage(format!("the MCP server stopped: {error}")))?;
    Ok(())
}
