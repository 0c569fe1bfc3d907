//! A failure threshold of zero.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [audit, audit; stop_after_failures = 0]);
}
