//! A required field neither bound nor fed.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> send_email.bind(copies = 2));
}
