//! A success callback that does not take the flow's output.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit, on_success = audit);
}
