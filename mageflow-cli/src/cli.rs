//! The command line, parsed by clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::connect::Target;
use crate::index::StatusArg;

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
    /// Serves the web view: the list of flows, live flow graphs, lifecycle buttons.
    Serve(ServeArgs),
}

/// `serve`'s arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on. Another than a loopback address needs --token (or --read-only).
    #[arg(long, default_value = "127.0.0.1:8642")]
    pub bind: std::net::SocketAddr,
    /// The token lifecycle actions must send (`Authorization: Bearer <token>`).
    #[arg(long, env = "MAGEFLOW_WEB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Shows flows only: no lifecycle buttons, and every action is refused.
    #[arg(long)]
    pub read_only: bool,
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

impl FlowsArgs {
    /// The filter these options describe.
    pub fn filter(&self) -> crate::index::FlowFilter {
        crate::index::FlowFilter {
            status: self.status.clone(),
            name: self.name.clone(),
            older_than_secs: self.older_than.map(|age| age.as_secs()),
            newer_than_secs: self.newer_than.map(|age| age.as_secs()),
            limit: Some(self.limit),
            cursor: self.cursor.clone(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::FlowFilter;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("mageflow").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn flows_options_make_a_filter() {
        let cli = parse(&[
            "flows",
            "--status",
            "active",
            "--status",
            "suspended",
            "--name",
            "etl",
            "--older-than",
            "10m",
            "--newer-than",
            "2h",
            "--limit",
            "20",
            "--cursor",
            "abc",
        ]);
        let Command::Flows(args) = &cli.command else { panic!("flows") };
        assert_eq!(
            args.filter(),
            FlowFilter {
                status: vec![StatusArg::Active, StatusArg::Suspended],
                name: Some("etl".to_owned()),
                older_than_secs: Some(600),
                newer_than_secs: Some(7200),
                limit: Some(20),
                cursor: Some("abc".to_owned()),
            }
        );
        let Command::Flows(args) = parse(&["flows"]).command else { panic!("flows") };
        assert_eq!(args.filter(), FlowFilter { limit: Some(50), ..FlowFilter::default() });
        let error = Cli::try_parse_from(["mageflow", "flows", "--status", "sleeping"]).unwrap_err().to_string();
        assert!(error.starts_with("error: invalid value 'sleeping' for '--status <STATUS>'"), "{error}");
        let error = Cli::try_parse_from(["mageflow", "flows", "--limit", "0"]).unwrap_err().to_string();
        assert!(error.starts_with("error: invalid value '0' for '--limit <LIMIT>'"), "{error}");
    }

    #[test]
    fn stuck_takes_an_age_and_a_limit() {
        let Command::Stuck(args) = parse(&["stuck"]).command else { panic!("stuck") };
        assert_eq!((args.older_than, args.limit), (Duration::from_secs(60), 100));
        let cli = parse(&["--json", "stuck", "--older-than", "90s", "--limit", "5"]);
        let Command::Stuck(args) = &cli.command else { panic!("stuck") };
        assert_eq!((cli.json, args.older_than, args.limit), (true, Duration::from_secs(90), 5));
    }

    #[test]
    fn the_filter_reads_the_mcp_tool_arguments() {
        let filter: FlowFilter =
            serde_json::from_value(serde_json::json!({"status": ["failed"], "newer_than_secs": 60})).unwrap();
        assert_eq!(
            filter,
            FlowFilter { status: vec![StatusArg::Failed], newer_than_secs: Some(60), ..FlowFilter::default() }
        );
    }

    #[test]
    fn run_takes_a_task_or_a_flow_file_not_both() {
        let Command::Run(args) = parse(&["run", "double", "--input", "{}"]).command else { panic!("run") };
        assert_eq!((args.task.as_deref(), args.flow), (Some("double"), None));
        let error = Cli::try_parse_from(["mageflow", "run", "double", "--flow", "f.json"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        let error = Cli::try_parse_from(["mageflow", "run"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
