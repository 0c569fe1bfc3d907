//! The Rust `hatchet-sdk` crate (0.2.8 on crates.io, unofficial, not written by us) against the fake
//! engine: its worker registers and runs tasks over gRPC, and its `run()` triggers over gRPC and
//! reads the result by polling the REST API (`GET /api/v1/stable/workflow-runs/{id}`), which the
//! token's `server_url` points at.

use std::time::Duration;

use hatchet_sdk::{Context, Hatchet, HatchetError, Register, Runnable};
use mageflow_hatchet::fake::{FakeConfig, FakeHandle, FakeHatchet, RunState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Greeting {
    name: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Reply {
    text: String,
}

async fn greet(input: Greeting, _ctx: Context) -> hatchet_sdk::anyhow::Result<Reply> {
    if input.name.is_empty() {
        return Err(hatchet_sdk::anyhow::Error::msg("nobody to greet"));
    }
    Ok(Reply { text: format!("hello, {}", input.name) })
}

/// Fails the test if `future` does not finish within 60 s (the crate polls every second).
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(60), future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after 60s"),
    }
}

async fn client(fake: &FakeHandle) -> Hatchet {
    Hatchet::from_token(&fake.server_url(), &fake.addr().to_string(), &fake.token(), "none")
        .await
        .expect("the crate connects to the fake")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_crate_runs_a_task_and_reads_its_result_and_its_failure() {
    let fake = FakeHatchet::start(FakeConfig::default()).await.expect("the fake starts");
    let hatchet = client(&fake).await;
    let task = hatchet.task("rust-sdk-greet", greet).build().expect("task");
    let worker = hatchet.worker("rust-sdk-worker").build().expect("worker").add_task_or_workflow(&task);
    let mut worker = worker;
    let running = tokio::spawn(async move { worker.start().await });
    within(fake.wait_until(|f| f.worker_ids().first().is_some_and(|id| f.is_listening(id)))).await;

    let reply = within(task.run(&Greeting { name: "fake".into() }, None)).await.expect("run() returns the output");
    assert_eq!(reply, Reply { text: "hello, fake".into() });
    let failure = within(task.run(&Greeting { name: String::new() }, None)).await.unwrap_err();
    assert!(
        matches!(&failure, HatchetError::WorkflowFailed(message) if message.contains("nobody to greet")),
        "{failure:?}"
    );

    let runs = fake.runs();
    let summary: Vec<(RunState, u32)> = runs.iter().map(|r| (r.state, r.deliveries)).collect();
    assert_eq!(summary, vec![(RunState::Completed, 1), (RunState::Failed, 1)]);
    assert_eq!(fake.recorded_requests().register.len(), 1);
    assert_eq!(fake.recorded_requests().put_workflow.len(), 1);
    running.abort();
}
