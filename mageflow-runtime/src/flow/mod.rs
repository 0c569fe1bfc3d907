//! Flows as values: [`Node`] trees of tasks, chains and swarms with bound arguments and callbacks; [`Flow`], the one
//! typed flow value (made by the client, `flow!` and JSON; run by the client); [`Handle`]s of stored flows; the
//! DSL's support and flows from JSON.

pub(crate) mod dsl;
mod handle;
mod node;
mod nodes;
mod value;

pub use handle::Handle;
pub(crate) use node::Body;
pub use node::{Node, SwarmConfig};
pub use nodes::IntoNodes;
pub use value::{AnyKind, Chain, ChainKind, Flow, Swarm, SwarmKind, TaskKind};
