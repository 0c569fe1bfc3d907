//! mageflow: typed orchestration of tasks, chains and swarms on top of existing task managers.
#![warn(missing_docs)]

pub use mageflow_runtime::*;
