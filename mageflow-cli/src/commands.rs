//! What each command does, shared by the command line and the MCP server.

use std::io::Read;
use std::path::Path;

use mageflow_runtime::{FlowTree, Mageflow, SignatureId, Status, TaskDefinition};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{Cli, Command, RunArgs};
use crate::error::CliError;
use crate::index;
use crate::view::{NodeView, render_tree};

/// What a command prints: text for people, JSON for `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Printed {
    /// The text (ends with a line break).
    pub text: String,
    /// The JSON.
    pub json: Value,
}

/// A signature id from an argument.
pub fn parse_id(text: &str) -> Result<SignatureId, CliError> {
    SignatureId::parse(text).ok_or_else(|| mageflow_runtime::Error::InvalidId(text.to_owned()).into())
}

/// Turns "no such signature" into a message that says whether anything lives under the prefix at all.
async fn explain(client: &Mageflow, error: mageflow_runtime::Error) -> CliError {
    let mageflow_runtime::Error::NotFound(id) = error else { return error.into() };
    let why = match client.task_definitions().await {
        Ok(definitions) if definitions.is_empty() => {
            "nothing was registered under this prefix either (no task definitions); check --prefix"
        }
        _ => "it was never created here, or it expired after its TTL",
    };
    CliError::UnknownId { id, prefix: client.key_prefix().to_owned(), why }
}

/// A flow's tree.
pub async fn tree(client: &Mageflow, id: &str) -> Result<FlowTree, CliError> {
    let id = parse_id(id)?;
    match client.tree(&id).await {
        Ok(tree) => Ok(tree),
        Err(error) => Err(explain(client, error).await),
    }
}

/// A lifecycle operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `suspend`
    Suspend,
    /// `interrupt`
    Interrupt,
    /// `resume`
    Resume,
    /// `cancel`
    Cancel,
}

impl Action {
    fn past(self) -> &'static str {
        match self {
            Action::Suspend => "suspended",
            Action::Interrupt => "interrupted",
            Action::Resume => "resumed",
            Action::Cancel => "canceled",
        }
    }
}

/// What a lifecycle operation did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Steered {
    /// The flow.
    pub id: SignatureId,
    /// The operation.
    pub action: Action,
    /// The flow's status afterwards.
    pub status: Status,
}

/// Suspends, interrupts, resumes or cancels a flow and reads its status back.
pub async fn steer(client: &Mageflow, action: Action, id: &str) -> Result<Steered, CliError> {
    let id = parse_id(id)?;
    let done = match action {
        Action::Suspend => client.suspend(&id).await,
        Action::Interrupt => client.interrupt(&id).await,
        Action::Resume => client.resume(&id).await,
        Action::Cancel => client.cancel(&id).await,
    };
    if let Err(error) = done {
        return Err(explain(client, error).await);
    }
    let status = match client.status(&id).await {
        Ok(state) => state.status,
        Err(error) => return Err(explain(client, error).await),
    };
    Ok(Steered { id, action, status })
}

/// The published task definitions; an error when there are none (a wrong prefix, or no worker ever ran).
pub async fn definitions(client: &Mageflow) -> Result<Vec<TaskDefinition>, CliError> {
    let definitions = client.task_definitions().await?;
    if definitions.is_empty() {
        return Err(CliError::UnknownPrefix { prefix: client.key_prefix().to_owned() });
    }
    Ok(definitions)
}

fn unknown_task(client: &Mageflow, name: String, known: &[TaskDefinition]) -> CliError {
    let known = known.iter().map(|definition| definition.name.as_str()).collect::<Vec<_>>().join(", ");
    CliError::UnknownTask { name, prefix: client.key_prefix().to_owned(), known }
}

/// Starts a task by name with `input`; the task must be published under the prefix.
pub async fn start_task(client: &Mageflow, task: &str, input: Value) -> Result<SignatureId, CliError> {
    let known = definitions(client).await?;
    if !known.iter().any(|definition| definition.name == task) {
        return Err(unknown_task(client, task.to_owned(), &known));
    }
    Ok(client.run_no_wait(client.sign_name(task), input).await?.id().clone())
}

/// Starts a flow from its JSON description with `input`; its tasks must be published under the prefix.
pub async fn start_flow(client: &Mageflow, description: &Value, input: Value) -> Result<SignatureId, CliError> {
    let known = definitions(client).await?;
    let started = async {
        let flow = client.flow_from_json(description).await?;
        client.run_no_wait(flow, input).await
    };
    match started.await {
        Ok(handle) => Ok(handle.id().clone()),
        Err(mageflow_runtime::Error::UnknownTask { name, .. }) => Err(unknown_task(client, name, &known)),
        Err(error) => Err(error.into()),
    }
}

fn parse_json(text: &str, what: &str) -> Result<Value, CliError> {
    serde_json::from_str(text).map_err(|error| CliError::Usage(format!("{what} is not JSON: {error}")))
}

fn read_flow_file(path: &Path) -> Result<Value, CliError> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|content| text = content)
    };
    read.map_err(|error| CliError::Usage(format!("cannot read the flow file {}: {error}", path.display())))?;
    parse_json(&text, &format!("the flow file {}", path.display()))
}

fn definitions_text(definitions: &[TaskDefinition]) -> String {
    let mut out = String::new();
    for definition in definitions {
        out.push_str(&definition.name);
        out.push_str(&format!(": retries {}", definition.retries));
        if let Some(timeout) = definition.timeout_ms {
            out.push_str(&format!(
                ", timeout {}",
                humantime::format_duration(std::time::Duration::from_millis(timeout))
            ));
        }
        if let Some(field) = &definition.return_field {
            out.push_str(&format!(", previous result into `{field}`"));
        }
        out.push('\n');
        out.push_str(&format!("  input: {}\n", definition.input_schema));
        if let Some(output) = &definition.output_schema {
            out.push_str(&format!("  output: {output}\n"));
        }
    }
    out
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|error| json!({"error": error.to_string()}))
}

/// Runs every command but `watch` and `mcp` (see [`crate::watch`] and [`crate::mcp`]) on a connected client.
pub async fn execute(cli: &Cli, client: &Mageflow) -> Result<Printed, CliError> {
    let steered = |steered: Steered| Printed {
        text: format!("{} {}; its status is now {}\n", steered.action.past(), steered.id, steered.status),
        json: to_json(&steered),
    };
    Ok(match &cli.command {
        Command::Show(args) => {
            let tree = tree(client, &args.id).await?;
            Printed { text: render_tree(&tree), json: to_json(&NodeView::of(&tree)) }
        }
        Command::Suspend(args) => steered(steer(client, Action::Suspend, &args.id).await?),
        Command::Interrupt(args) => steered(steer(client, Action::Interrupt, &args.id).await?),
        Command::Resume(args) => steered(steer(client, Action::Resume, &args.id).await?),
        Command::Cancel(args) => steered(steer(client, Action::Cancel, &args.id).await?),
        Command::Tasks => {
            let definitions = definitions(client).await?;
            Printed { text: definitions_text(&definitions), json: json!({ "tasks": to_json(&definitions) }) }
        }
        Command::Run(RunArgs { task, flow, input }) => {
            let input = parse_json(input, "--input")?;
            let id = match (task, flow) {
                (Some(task), None) => start_task(client, task, input).await?,
                (None, Some(path)) => start_flow(client, &read_flow_file(path)?, input).await?,
                _ => return Err(CliError::Usage("give either a TASK or --flow FILE.json, not both".to_owned())),
            };
            Printed { text: format!("{id}\n"), json: json!({ "id": id }) }
        }
        Command::Flows(args) => {
            let page = index::list_flows(client, &args.filter()).await?;
            Printed { text: index::render_flows(&page), json: to_json(&page) }
        }
        Command::Stuck(args) => {
            let stuck = index::list_stuck(client, args.older_than, args.limit).await?;
            Printed { text: index::render_stuck(&stuck), json: to_json(&stuck) }
        }
        Command::Watch(_) | Command::Mcp | Command::Serve(_) => {
            return Err(CliError::Usage("`watch`, `mcp` and `serve` are not one-shot commands".to_owned()));
        }
    })
}
