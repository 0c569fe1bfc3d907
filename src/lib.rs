//! mageflow: typed orchestration of tasks, chains and swarms on top of existing task managers.
#![warn(missing_docs)]

pub use mageflow_macros::{InputFields, TaskInput, flow, task};
pub use mageflow_runtime::*;

/// The Hatchet backend (feature `hatchet`): `Mageflow::builder().backend(hatchet::HatchetBackend::from_env(..)?)`.
#[cfg(feature = "hatchet")]
pub use mageflow_hatchet as hatchet;

/// The apalis backend (feature `apalis`): `Mageflow::builder().backend(apalis::ApalisBackend::connect(..).await?)`.
#[cfg(feature = "apalis")]
pub use mageflow_apalis as apalis;

/// Guides, with examples that are compiled and run as tests.
pub mod guide {
    /// Testing your flows without Redis or a task manager.
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
}

/// Items used by the code the mageflow macros generate. Not a public API: it changes without notice. Its name
/// carries the version of `mageflow-macros`, which this crate pins exactly (`=`), so that generated code never
/// meets another version's items.
#[doc(hidden)]
pub mod __private_v0_1_0 {
    pub use mageflow_runtime::__private::*;
    pub use mageflow_runtime::{Backoff, BoxFuture, Next, Task, TaskContext, TaskError, TaskInput, TaskOptions};
    pub use std::time::Duration;
}
