//! A step after a swarm that does not take the tuple of its outputs.
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [send_email.bind(template = "receipt"), audit] >> audit);
}
