//! The `mageflow` command-line tool and MCP server: look at flows stored in Redis, steer them (suspend, interrupt,
//! resume, cancel), start tasks and flows from JSON, and list the task definitions that workers published.
//!
//! The tool runs no task handlers. What it starts is stored with its first runs in the store's outbox, where a
//! worker's recovery sweep finds them ([`HandOffBackend`](mageflow_runtime::backend::HandOffBackend)).
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod connect;
pub mod error;
pub mod index;
pub mod mcp;
pub mod view;
pub mod watch;

pub use cli::Cli;
pub use error::CliError;
