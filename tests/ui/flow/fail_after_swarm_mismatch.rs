//! A step after a swarm that does not take the tuple of its outputs (types that print alike with every feature set).
mod tasks;

use mageflow::flow;
use tasks::*;

fn main() {
    let _ = flow!(charge >> [audit, audit] >> audit);
}
