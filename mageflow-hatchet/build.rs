//! Generates the Hatchet gRPC clients and servers from `proto/` with a vendored `protoc`.

use std::error::Error;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/dispatcher.proto",
    "proto/workflows.proto",
    "proto/events.proto",
    "proto/v1/trigger.proto",
    "proto/v1/condition.proto",
    "proto/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    let protos: Vec<PathBuf> = PROTOS.iter().map(PathBuf::from).collect();
    tonic_prost_build::configure().build_client(true).build_server(true).compile_with_config(
        config,
        &protos,
        &[PathBuf::from("proto"), well_known],
    )?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
