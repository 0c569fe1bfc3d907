//! A bound argument of the wrong type.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> send_email.bind(template = "receipt", copies = true));
}
