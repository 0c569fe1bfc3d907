//! Code generated from `proto/`: Hatchet's wire messages, clients and servers.
//!
//! v0 services (`Dispatcher`, `WorkflowService`) live at this module's root, as they
//! have no protobuf package; v1 services live in [`v1`].
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Hatchet's `v1` protobuf package.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("v1");
}

tonic::include_proto!("_");
