//! The Hatchet backend of mageflow.
#![warn(missing_docs)]

pub mod proto;
