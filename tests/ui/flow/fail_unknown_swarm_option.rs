//! A flow option given to a swarm.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [audit, audit; name = "audits"]);
}
