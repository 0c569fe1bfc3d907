//! `mageflow`: the command-line tool (see the crate `mageflow_cli` and the README).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mageflow_cli::cli::{Cli, Command, ServeArgs};
use mageflow_cli::{CliError, commands, connect, mcp, watch};

fn logging(verbose: u8) {
    let default = match verbose {
        0 => "off",
        1 => "warn",
        2 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn run(cli: &Cli) -> Result<(), CliError> {
    let target = cli.target();
    if let Command::Mcp = cli.command {
        return mcp::serve(target).await;
    }
    let client = connect::client(&target).await?;
    if let Command::Serve(args) = &cli.command {
        return serve(client, args).await;
    }
    let mut stdout = std::io::stdout().lock();
    let written = match &cli.command {
        Command::Watch(args) => return watch::watch(&client, &args.id, args.interval, cli.json, &mut stdout).await,
        _ => {
            let printed = commands::execute(cli, &client).await?;
            match cli.json {
                true => writeln!(stdout, "{}", printed.json),
                false => write!(stdout, "{}", printed.text),
            }
        }
    };
    written.map_err(|error| CliError::Usage(format!("cannot write to stdout: {error}")))
}

/// `mageflow serve`: prints the view's address, then serves it until Ctrl-C.
async fn serve(client: mageflow_runtime::Mageflow, args: &ServeArgs) -> Result<(), CliError> {
    let mut options = mageflow_web::WebOptions::default().bind(args.bind).read_only(args.read_only);
    if let Some(token) = &args.token {
        options = options.token(token.clone());
    }
    let server =
        mageflow_web::Server::bind(client, options).await.map_err(|error| CliError::Usage(error.to_string()))?;
    println!("the mageflow web view is at {}", server.url());
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    server.run_until(stopped).await.map_err(|error| CliError::Usage(error.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if cli.json {
                let line = serde_json::json!({"error": error.one_line(), "code": error.code()});
                eprintln!("{line}");
            } else {
                eprintln!("error: {}", error.one_line());
            }
            ExitCode::from(error.exit_code())
        }
    }
}
