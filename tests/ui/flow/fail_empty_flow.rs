//! An empty flow.
mod tasks;

use mageflow::{Flow, flow};
use tasks::*;

fn main() {
    let _: Flow<Order, Receipt> = flow!();
}
