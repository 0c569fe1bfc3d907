//! The testing harness: the recorder's records, each assertion helper and each failure message, schema checks,
//! and inline runs asserted step by step.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mageflow::testing::{Recorder, RunOutcome};
use mageflow::{Mageflow, Node, Status, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Order {
    id: u32,
    cents: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Receipt {
    order: u32,
    cents: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Mail {
    #[mageflow(return_value)]
    receipt: Receipt,
    template: String,
}

#[task]
async fn charge(order: Order) -> Result<Receipt, TaskError> {
    if order.cents == 0 {
        return Err(TaskError::non_retryable("nothing to charge"));
    }
    Ok(Receipt { order: order.id, cents: order.cents })
}

#[task]
async fn mail(input: Mail) -> Result<String, TaskError> {
    Ok(format!("{}: {} cents", input.template, input.receipt.cents))
}

#[task]
async fn refund(failure: mageflow::Failure<Order>) -> Result<u32, TaskError> {
    Ok(failure.input.id)
}

async fn client(recorder: &Recorder) -> Mageflow {
    Mageflow::builder()
        .memory_store()
        .backend(recorder.clone())
        .task(charge)
        .task(mail)
        .task(refund)
        .build()
        .await
        .unwrap()
}

/// The message an assertion panics with.
fn failure_of(assertion: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(assertion)).expect_err("the assertion must fail");
    panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[tokio::test]
async fn records_dispatches_without_running_them() {
    let recorder = Recorder::new();
    let client = client(&recorder).await;
    recorder.assert_nothing_dispatched();
    let handle = client.run_no_wait(client.sign(charge), Order { id: 7, cents: 250 }).await.unwrap();
    let dispatch = recorder.assert_task_dispatched("charge", json!({"id": 7}));
    assert_eq!(dispatch.signature_id, *handle.id());
    assert_eq!(dispatch.parent, None);
    assert_eq!(dispatch.outcome, None);
    recorder.assert_task_dispatched_exact("charge", json!({"id": 7, "cents": 250}));
    assert_eq!(handle.status().await.unwrap().status, Status::Pending, "record mode runs nothing");
    assert_eq!(recorder.task_dispatches("charge").len(), 1);
    recorder.clear();
    recorder.assert_nothing_dispatched();
}

#[tokio::test]
async fn failed_assertions_explain_themselves() {
    let recorder = Recorder::new();
    let client = client(&recorder).await;
    client.run_no_wait(client.sign(charge), Order { id: 7, cents: 250 }).await.unwrap();
    client.run_no_wait(client.sign(charge), Order { id: 8, cents: 90 }).await.unwrap();

    let message = failure_of(|| {
        recorder.assert_task_dispatched("charge", json!({"id": 9, "currency": "EUR"}));
    });
    assert!(
        message.contains("task `charge` was dispatched 2 time(s), but no input contains the expected one"),
        "{message}"
    );
    assert!(message.contains(r#"expected (partial): {"currency":"EUR","id":9}"#), "{message}");
    assert!(message.contains(r#"actual #1: {"cents":250,"id":7}"#), "{message}");
    assert!(message.contains(r#"actual #2: {"cents":90,"id":8}"#), "{message}");
    assert!(message.contains("currency: missing (expected \"EUR\")"), "{message}");
    assert!(message.contains("id: expected 9, got 7"), "{message}");

    let message = failure_of(|| {
        recorder.assert_task_dispatched_exact("charge", json!({"id": 7}));
    });
    assert!(message.contains("no input equals the expected one"), "{message}");
    assert!(message.contains("cents: not expected (got 250)"), "{message}");

    let message = failure_of(|| {
        recorder.assert_task_dispatched("mail", json!({}));
    });
    assert_eq!(message, r#"task `mail` was not dispatched; dispatched tasks: ["charge"]"#);

    let message = failure_of(|| recorder.assert_nothing_dispatched());
    assert!(message.starts_with("expected no dispatches, but 2 occurred"), "{message}");
}

#[tokio::test]
async fn chains_and_swarms_are_recorded_with_their_members() {
    let recorder = Recorder::new();
    let client = client(&recorder).await;
    let chain =
        client.chain(vec![Node::from(client.sign(charge)), client.sign(mail).arg("template", "receipt").into()]);
    client.run_no_wait(chain.name("checkout"), json!({"id": 1, "cents": 5})).await.unwrap();
    let swarm = client.swarm([client.sign(charge), client.sign(charge)]).name("batch-charge");
    client.run_no_wait(swarm, json!({"id": 2, "cents": 6})).await.unwrap();

    let chain = recorder.assert_chain_dispatched("checkout", &["charge", "mail"]);
    let first = recorder.assert_task_dispatched("charge", json!({"id": 1}));
    assert_eq!(first.parent.unwrap().id, chain.id, "the dispatch names its parent flow");
    recorder.assert_swarm_dispatched("batch-charge", &["charge", "charge"]);

    let message = failure_of(|| {
        recorder.assert_chain_dispatched("checkout", &["charge", "refund"]);
    });
    assert!(
        message.contains(r#"expected: ["charge", "refund"]"#) && message.contains(r#"actual:   ["charge", "mail"]"#)
    );
    let message = failure_of(|| {
        recorder.assert_swarm_dispatched("batch-charge", &["charge", "charge", "charge"]);
    });
    assert!(message.contains("swarm `batch-charge` lacks the item `charge`"), "{message}");
    let message = failure_of(|| {
        recorder.assert_chain_dispatched("nope", &[]);
    });
    assert!(message.contains("no chain named `nope` started"), "{message}");
    assert_eq!(recorder.flow_dispatches().len(), 2);
}

#[tokio::test]
async fn inline_runs_a_whole_flow_step_by_step() {
    let recorder = Recorder::inline();
    let client = client(&recorder).await;
    let out = client
        .run(
            client.sign(charge).on_success(client.sign(mail).arg("template", "thanks")).on_error(client.sign(refund)),
            Order { id: 3, cents: 120 },
        )
        .await
        .unwrap();
    assert_eq!(out, Receipt { order: 3, cents: 120 });
    recorder.settle().await;
    let steps: Vec<(String, Value, Option<RunOutcome>)> =
        recorder.dispatches().into_iter().map(|d| (d.task, d.input, d.outcome)).collect();
    assert_eq!(
        steps,
        vec![
            (
                "charge".into(),
                json!({"id": 3, "cents": 120}),
                Some(RunOutcome::Output(json!({"order": 3, "cents": 120})))
            ),
            (
                "mail".into(),
                json!({"receipt": {"order": 3, "cents": 120}, "template": "thanks"}),
                Some(RunOutcome::Output(json!("thanks: 120 cents")))
            ),
        ]
    );

    recorder.clear();
    let failed = client.run(client.sign(charge).on_error(client.sign(refund)), Order { id: 4, cents: 0 }).await;
    assert!(failed.is_err());
    recorder.settle().await;
    let refunded = recorder.assert_task_dispatched("refund", json!({"input": {"id": 4}, "error": {"kind": "error"}}));
    assert_eq!(refunded.outcome, Some(RunOutcome::Output(json!(4))));
}

#[tokio::test]
async fn dispatched_inputs_are_checked_against_the_schemas() {
    let recorder = Recorder::inline();
    let client = client(&recorder).await;
    // `mail` needs a template, and nothing binds one: the dispatch of `mail` is refused
    let chain = client.chain(vec![Node::from(client.sign(charge)), client.sign(mail).into()]);
    client.run_no_wait(chain, json!({"id": 5, "cents": 10})).await.unwrap();
    recorder.settle().await;
    let charged = recorder.assert_task_dispatched("charge", json!({"id": 5}));
    let Some(RunOutcome::Failed(message)) = charged.outcome else { panic!("{:?}", charged.outcome) };
    assert!(message.contains("task `mail`: input validation failed"), "{message}");
    assert!(message.contains("template"), "{message}");
    assert!(recorder.task_dispatches("mail").is_empty());
}
