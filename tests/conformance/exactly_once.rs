//! Exactly once under at-least-once delivery: duplicated deliveries, concurrent outcomes, a worker lost between a
//! transition and its dispatch.

use std::time::Duration;

use mageflow::{Mageflow, Node, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(local_backend: a_thousand_item_swarm_with_every_delivery_doubled_completes_once, |store: TestStore| async move {
    let t = format!("{}-dup", store.prefix);
    // every item's run is delivered twice at once, so every item outcome is reported twice, concurrently
    let backend = DuplicatingBackend::new(32, &["add-one"]);
    let client = store.client(|b| register(b).backend(backend.clone())).await;
    let callback = client.sign(collect).arg("tag", &t);
    let callback_id = callback.id().clone();
    let items: Vec<Node> = (0..1000).map(|n| client.sign(add_one).arg("n", n).into()).collect();
    let item_ids: Vec<_> = items.iter().map(|i| i.id().clone()).collect();
    let handle = client.run_no_wait(client
        .swarm(items)
        .max_concurrency(50)
        .on_success(callback), json!({"tag": t, "n": 0}))
        .await
        .unwrap();
    let outcomes = handle.wait(Some(WAIT)).await.unwrap();
    assert_eq!(outcomes.status, Status::Done);
    let results: Vec<mageflow::Outcome> = serde_json::from_value(outcomes.result.unwrap()).unwrap();
    assert_eq!(results.len(), 1000, "each result recorded once");
    for (n, outcome) in results.into_iter().enumerate() {
        assert_eq!(outcome.ok(), Some(json!({"tag": t, "n": n + 1})), "item {n} in its position");
    }
    let swarm = client.status(handle.id()).await.unwrap().swarm.unwrap();
    assert_eq!((swarm.succeeded, swarm.failed, swarm.running), (1000, 0, 0));
    finished(&client, &callback_id).await;
    assert_eq!(backend.dispatches_of("collect"), 1, "the callback fires once");
    assert_eq!(calls_of(&t, "collect").len(), 1, "and runs once");
    assert_eq!(backend.dispatches_of("add-one"), 1000, "each item is dispatched once (and delivered twice)");
    assert_eq!(calls_of(&t, "add-one").len(), 1000, "each item's handler runs once: the second delivery is busy or finds it finished");
    for id in item_ids.iter().step_by(97) {
        assert_eq!(client.status(id).await.unwrap().status, Status::Done);
    }
});

conformance!(local_backend: a_worker_lost_between_transition_and_dispatch_loses_no_successor, |store: TestStore| async move {
    let t = format!("{}-lost", store.prefix);
    // the first worker records step 1's outcome but never dispatches step 2 (it dies in between)
    let crashing = CountingBackend::default();
    crashing.lose.lock().unwrap().push("double".to_owned());
    let first = store.client(|b| register(b).backend(crashing.clone())).await;
    let chain = first.chain([first.sign(add_one), first.sign(double), first.sign(add_one)]);
    let chain_id = chain.id().clone();
    let handle = first.run_no_wait(chain, json!({"tag": t, "n": 1})).await.unwrap();
    let steps = first.status(&chain_id).await.unwrap().children;
    finished(&first, &steps[0]).await;
    while !crashing.dispatched_tasks().contains(&"double".to_owned()) {
        tokio::task::yield_now().await;
    }
    first.shutdown(Duration::from_secs(1)).await.unwrap();
    drop(first);
    assert_eq!(handle.status().await.unwrap().status, Status::Active);
    assert!(calls_of(&t, "double").is_empty());

    // a new worker on the same store finds the step in the outbox and dispatches it
    let second: Mageflow = store.client(register).await;
    assert_eq!(second.recover(Duration::ZERO).await.unwrap(), 1);
    let done = finished(&second, &chain_id).await;
    assert_eq!(done.result, Some(json!({"tag": t, "n": 5})));
    assert_eq!(calls_of(&t, "double").len(), 1);
    assert_eq!(second.recover(Duration::ZERO).await.unwrap(), 0, "nothing left in the outbox");
});

conformance!(local_backend: one_dispatch_per_task_and_no_helper_runs, |store: TestStore| async move {
    let t = format!("{}-count", store.prefix);
    let backend = CountingBackend::default();
    let client = store.client(|b| register(b).backend(backend.clone())).await;
    let callback = client.sign(collect).arg("tag", &t);
    let callback_id = callback.id().clone();
    let items: Vec<Node> = (0..40).map(|n| client.sign(add_one).arg("n", n).into()).collect();
    client.run(client.swarm(items).max_concurrency(7).on_success(callback), json!({"tag": t})).await.unwrap();
    finished(&client, &callback_id).await;
    let dispatched = backend.dispatched_tasks();
    assert_eq!(dispatched.iter().filter(|t| *t == "add-one").count(), 40, "one dispatch per item");
    assert_eq!(dispatched.iter().filter(|t| *t == "collect").count(), 1, "one for the callback");
    assert_eq!(dispatched.len(), 41, "no helper tasks");
});

conformance!(local_backend: a_run_that_stops_renewing_its_lease_runs_again_and_its_late_report_is_stale, |store: TestStore| async move {
    let t = format!("{}-stall", store.prefix);
    let client = store
        .client(|b| register(b).run_lease(Duration::from_millis(100)).recovery(Some(Duration::from_millis(20)), Duration::from_secs(60)))
        .await;
    let callback = client.sign(note).arg("note", "finished");
    let callback_id = callback.id().clone();
    let handle = client.run_no_wait(client.sign(stall).on_success(callback), msg(&t, 1)).await.unwrap();
    // the first attempt holds its thread: its lease expires, and the sweep dispatches the run again
    entered(&t, 1).await;
    let out: Msg = handle.result().await.unwrap();
    assert_eq!(out, msg(&t, 21), "the second execution's outcome, as attempt 2");
    assert_eq!(handle.status().await.unwrap().attempt, 2, "the lost attempt counts");
    assert_eq!(finished(&client, &callback_id).await.result, Some(json!("finished: 21")));

    // the first execution reports late (the shutdown waits for it): stale, so nothing changes
    lift_stall(&t);
    client.shutdown(WAIT).await.unwrap();
    let state = handle.status().await.unwrap();
    assert_eq!((state.status, state.result), (Status::Done, Some(json!({"tag": t, "n": 21}))));
    let attempts: Vec<u32> = calls_of(&t, "stall").iter().map(|call| call.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(calls_of(&t, "note").len(), 1, "the callback ran once");
});
