//! An error callback that does not take a failure report.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit, on_error = record);
}
