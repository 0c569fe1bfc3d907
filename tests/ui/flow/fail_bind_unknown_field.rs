//! A bound argument that is not a field of the input.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> send_email.bind(templat = "receipt"));
}
