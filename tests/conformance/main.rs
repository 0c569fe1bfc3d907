//! The conformance suite: every flow scenario runs on the memory store and on a real Redis with the local backend,
//! on Hatchet (a fake engine, two workers) and on apalis (an apalis-redis queue, two workers).

#[path = "../support/mod.rs"]
mod support;

mod batch;
mod chains;
mod continuation;
mod cost;
mod damaged;
mod dsl;
mod exactly_once;
mod groups;
mod idempotency;
mod lifecycle;
mod nesting;
mod probe;
mod robustness;
mod signatures;
mod state;
mod swarms;
