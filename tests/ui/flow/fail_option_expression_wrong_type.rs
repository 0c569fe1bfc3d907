//! A swarm option given as an expression of the wrong type.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let limit: i64 = 3;
    let _ = flow!(charge >> [audit, audit; max_concurrency = limit]);
}
