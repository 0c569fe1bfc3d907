//! The command line, parsed by clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::connect::Target;

/// Inspect, steer and start mageflow flows stored in Redis.
#[derive(Debug, Parser)]
#[command(name = "mageflow", version, about, long_about = None)]
pub struct Cli {
    /// Where Redis is: redis://, rediss:// (TLS), redis-cluster://host:port,host:port or
    /// redis+sentinel://host:port/service.
    #[arg(long, global = true, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", hide_env_values = true)]
    pub redis_url: String,
    /// The key prefix of the application's clients (`MageflowBuilder::key_prefix`).
    #[arg(long, global = true, env = "MAGEFLOW_PREFIX", default_value = "mageflow")]
    pub prefix: String,
    /// Machine-readable output: JSON on stdout, and errors as one JSON object on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more on stderr (-v warnings, -vv info, -vvv debug); RUST_LOG, when set, wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The Redis URL and key prefix.
    pub fn target(&self) -> Target {
        Target { redis_url: self.redis_url.clone(), prefix: self.prefix.clone() }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists flows, filtered by status, name and age, a page at a time.
    Flows(FlowsArgs),
    /// Prints a flow's tree: every node's status, timings, result or error.
    Show(IdArg),
    /// Shows live progress bars until the flow finishes (exit code 3 when it fails or is canceled).
    Watch(WatchArgs),
    /// Suspends a flow: nothing new starts; running tasks finish.
    Suspend(IdArg),
    /// Interrupts a flow: like suspend, and running tasks are aborted (they run again on resume).
    Interrupt(IdArg),
    /// Resumes a suspended or interrupted flow.
    Resume(IdArg),
    /// Cancels a flow for good.
    Cancel(IdArg),
    /// Lists the task definitions that workers published, with their JSON schemas.
    Tasks,
    /// Lists runs dispatched long ago that never began, and runs whose lease expired.
    Stuck(StuckArgs),
    /// Starts a task with an input, or a flow from its JSON description; prints its id. A worker runs it.
    Run(RunArgs),
    /// Serves the Model Context Protocol over stdio (tools to list tasks, show, steer and start flows).
    Mcp,
}

/// One flow, by id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The flow's id (any signature id: a whole flow, or a part of one).
    pub id: String,
}

/// `watch`'s arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The flow's id.
    pub id: String,
    /// How often the progress is read again (the end of the flow is noticed at once).
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
}

/// `run`'s arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["task", "flow"]))]
pub struct RunArgs {
    /// The task to start (a name that a worker registered; see `mageflow tasks`).
    pub task: Option<String>,
    /// A file holding the flow's JSON description (`-` reads standard input), e.g.
    /// {"chain": ["extract", {"swarm": ["load-a", "load-b"]}]}.
    #[arg(long, value_name = "FILE.json")]
    pub flow: Option<PathBuf>,
    /// The input, as JSON.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    pub input: String,
}

/// A status of a flow, as a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StatusArg {
    Pending,
    Active,
    Done,
    Failed,
    Suspended,
    Interrupted,
    Canceled,
}

impl From<StatusArg> for mageflow_runtime::Status {
    fn from(status: StatusArg) -> Self {
        use mageflow_runtime::Status;
        match status {
            StatusArg::Pending => Status::Pending,
            StatusArg::Active => Status::Active,
            StatusArg::Done => Status::Done,
            StatusArg::Failed => Status::Failed,
            StatusArg::Suspended => Status::Suspended,
            StatusArg::Interrupted => Status::Interrupted,
            StatusArg::Canceled => Status::Canceled,
        }
    }
}

/// `flows`' arguments.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Only flows with this status (repeat for several).
    #[arg(long, value_enum)]
    pub status: Vec<StatusArg>,
    /// Only flows whose name (task, chain or swarm name) contains this text.
    #[arg(long)]
    pub name: Option<String>,
    /// Only flows created longer ago than this (e.g. 10m, 2h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub older_than: Option<Duration>,
    /// Only flows created more recently than this.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub newer_than: Option<Duration>,
    /// At most this many flows per page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Where the page starts: the `next` cursor a previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `stuck`'s arguments.
#[derive(Debug, Args)]
pub struct StuckArgs {
    /// Runs dispatched longer ago than this that never began count as stuck.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// At most this many runs.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}
