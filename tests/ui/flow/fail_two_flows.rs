//! Two flows where one sequence is expected.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge, audit);
}
