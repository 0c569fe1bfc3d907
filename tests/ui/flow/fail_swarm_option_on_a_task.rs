//! The swarm options exist only on swarms: a task's flow has no `max_concurrency`, and a chain's no `open`.

mod tasks;

use mageflow::Mageflow;
use tasks::*;

#[allow(dead_code)]
fn options(client: Mageflow) {
    let _ = client.sign(charge).max_concurrency(3);
    let _ = client.chain((client.sign(charge), client.sign(audit))).assume_types::<Order, u64>().open();
}

fn main() {}
