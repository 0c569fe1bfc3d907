//! A step that does not take the previous step's output.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> audit >> send_email.bind(template = "receipt"));
}
