//! A misspelt flow option.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit, nme = "billing");
}
