//! Running tasks: the [`Task`](task::Task) trait and its context, the registry of handlers and definitions, how a
//! run's input is built, the creation journal of a run, and the [`Worker`](worker::Worker) a backend hands each
//! delivery to.

pub(crate) mod definitions;
pub(crate) mod input;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod task;
pub(crate) mod worker;
