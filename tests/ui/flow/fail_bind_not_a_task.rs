//! Bound arguments of something that is not a task.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> helper.bind(cents = 1));
}
