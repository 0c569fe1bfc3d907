//! A swarm that starts a flow, whose members take different inputs.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!([charge, audit]);
}
