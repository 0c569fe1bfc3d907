//! A swarm member that does not take the swarm's input.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [audit, charge]);
}
