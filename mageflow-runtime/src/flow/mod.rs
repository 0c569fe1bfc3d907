//! Flows as values: [`Node`] trees of tasks, chains and swarms with bound arguments and callbacks; the builders
//! ([`Signature`], [`Chain`], [`Swarm`]) and [`Handle`]s of stored flows; the typed [`Flow`] that `flow!` builds,
//! and flows from JSON.

pub(crate) mod dsl;
mod node;
mod nodes;
mod signature;

pub(crate) use node::Body;
pub use node::{Node, SwarmConfig};
pub use nodes::IntoNodes;
pub use signature::{AnyKind, Chain, ChainKind, Handle, Signature, Swarm, SwarmKind, TaskKind};
