//! A swarm option whose value is not a number.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [audit, audit; max_concurrency = "ten"]);
}
