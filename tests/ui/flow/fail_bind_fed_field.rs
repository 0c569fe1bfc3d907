//! Binding the return-value field of a task that follows another step: that field receives the step's output.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let receipt = Receipt { order: 7, cents: 100 };
    let _ = flow!(charge >> send_email.bind(receipt = receipt, template = "receipt"));
}
