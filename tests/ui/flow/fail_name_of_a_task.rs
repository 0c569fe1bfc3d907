//! A name for a flow of one task.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge, name = "billing");
}
