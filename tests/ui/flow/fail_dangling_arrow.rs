//! A `>>` with nothing after it.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit >>);
}
