//! Bound arguments of a task whose input does not list its fields.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit.bind(cents = 7));
}
