//! Damaged state fails loudly: a step, a queued swarm item or a callback whose stored record is deleted or corrupted
//! mid-flow fails its flow with the kind `damaged` and the part's id, and nothing hangs.

use std::time::Duration;

use mageflow::{Error, ErrorKind, Mageflow, Node, Outcome, SignatureId, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

/// Deletes a signature's record, as an expiry or a stray `HDEL` would.
async fn delete_record(client: &Mageflow, id: &SignatureId) {
    assert!(mageflow::testing::delete_record(client, id).await.unwrap() > 0, "{id} had a record");
}

/// Overwrites one field of a signature's record.
async fn corrupt_field(client: &Mageflow, id: &SignatureId, field: &str, value: &str) {
    mageflow::testing::corrupt_field(client, id, field, value).await.unwrap();
}

conformance!(local_backend: a_chain_whose_next_step_was_deleted_fails_naming_it, |store: TestStore| async move {
    let t = format!("{}-damaged-step", store.prefix);
    let client = store.client(register).await;
    let second = client.sign(add_one);
    let second_id = second.id().clone();
    let alert = client.sign(on_failure);
    let alert_id = alert.id().clone();
    let chain = client.chain(vec![Node::from(client.sign(held)), second.into()]).on_error(alert);
    let handle = client.run_no_wait(chain, json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    delete_record(&client, &second_id).await;
    gate(&t).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Failed);
    let report = done.error.unwrap();
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &second_id));
    assert!(report.error.message.contains("step 2 of chain") && report.error.message.contains("missing"), "{}", report.error.message);
    assert_eq!(report.input, json!({"tag": t, "n": 1}), "the message the step would have got");
    // status, wait and result all report that failure
    assert_eq!(client.status(handle.id()).await.unwrap().status, Status::Failed);
    let error = handle.result().await.unwrap_err();
    assert!(matches!(&error, Error::Failed(failure) if failure.error.kind == ErrorKind::Damaged), "{error:?}");
    finished(&client, &alert_id).await;
    assert_eq!(calls_of(&t, "on-failure").len(), 1, "the error callback runs once");
    assert!(calls_of(&t, "add-one").is_empty());
});

conformance!(local_backend: a_queued_swarm_item_that_was_deleted_fails_in_its_position, |store: TestStore| async move {
    let t = format!("{}-damaged-item", store.prefix);
    let client = store.client(register).await;
    let items: Vec<Node> = vec![
        client.sign(held).into(),
        client.sign(add_one).arg("n", 10).into(),
        client.sign(add_one).arg("n", 20).into(),
        client.sign(add_one).arg("n", 30).into(),
    ];
    let lost_id = items[2].id().clone();
    let handle = client.run_no_wait(client.swarm(items).max_concurrency(1), json!({"tag": t, "n": 0})).await.unwrap();
    entered(&t, 1).await;
    delete_record(&client, &lost_id).await;
    gate(&t).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Done, "without a failure threshold the swarm completes, reporting the item");
    let outcomes: Vec<Outcome> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0].clone().ok(), Some(json!({"tag": t, "n": 0})));
    assert_eq!(outcomes[1].clone().ok(), Some(json!({"tag": t, "n": 11})));
    let Outcome::Failed(report) = &outcomes[2] else { panic!("item 3 failed: {:?}", outcomes[2]) };
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &lost_id));
    assert!(report.error.message.contains("item 3 of swarm"), "{}", report.error.message);
    assert_eq!(outcomes[3].clone().ok(), Some(json!({"tag": t, "n": 31})));
    let progress = done.swarm.unwrap();
    assert_eq!((progress.succeeded, progress.failed, progress.running), (3, 1, 0));
});

// one worker slot: the second item of the swarm is dispatched with the first and waits for the slot, so that its
// record is damaged after its dispatch and before its begin (the token, which no delivery could then match)
conformance!(local_backend: a_dispatched_item_whose_token_was_corrupted_before_it_began_fails_in_its_position, |store: TestStore| async move {
    let t = format!("{}-damaged-dispatched", store.prefix);
    let client = store.client(|builder| register(builder).backend(mageflow::LocalBackend::new(1))).await;
    let items: Vec<Node> = vec![client.sign(held).into(), client.sign(add_one).arg("n", 10).into()];
    let waiting_id = items[1].id().clone();
    let handle = client.run_no_wait(client.swarm(items), json!({"tag": t, "n": 0})).await.unwrap();
    entered(&t, 1).await;
    corrupt_field(&client, &waiting_id, "token", "many").await;
    gate(&t).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Done, "without a failure threshold the swarm completes, reporting the item");
    let outcomes: Vec<Outcome> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes[0].clone().ok(), Some(json!({"tag": t, "n": 0})));
    let Outcome::Failed(report) = &outcomes[1] else { panic!("item 2 failed: {:?}", outcomes[1]) };
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &waiting_id));
    let message = &report.error.message;
    assert!(message.contains("dispatched but not begun") && message.contains("token = many"), "{message}");
    assert_eq!(client.status(&waiting_id).await.unwrap().status, Status::Failed);
    assert!(calls_of(&t, "add-one").is_empty(), "the damaged item did not run");
    let progress = done.swarm.unwrap();
    assert_eq!((progress.succeeded, progress.failed, progress.running), (1, 1, 0));
});

/// A swarm of two on one worker slot: the second item is dispatched with the first and waits for the slot, and its
/// record is deleted (`corrupt` is `None`) or has a field overwritten then, so that it names its swarm no more. The
/// recovery sweep finds it in the outbox and fails it in its position, with `expected` in the message; the swarm
/// completes when the first item does, and the damaged item never runs.
async fn a_dispatched_item_that_names_its_swarm_no_more_fails_when_the_sweep_finds_it(
    store: &TestStore,
    tag: &str,
    corrupt: Option<(&str, &str)>,
    expected: &str,
) {
    let client = store.client(|builder| register(builder).backend(mageflow::LocalBackend::new(1))).await;
    let items: Vec<Node> = vec![client.sign(held).into(), client.sign(add_one).arg("n", 10).into()];
    let waiting_id = items[1].id().clone();
    let handle = client.run_no_wait(client.swarm(items), json!({"tag": tag, "n": 0})).await.unwrap();
    entered(tag, 1).await;
    match corrupt {
        None => delete_record(&client, &waiting_id).await,
        Some((field, value)) => corrupt_field(&client, &waiting_id, field, value).await,
    }
    assert_eq!(client.recover(Duration::ZERO).await.unwrap(), 0, "no lease was lost");
    let state = client.status(&waiting_id).await.unwrap();
    assert_eq!(state.status, Status::Failed, "the sweep failed the item at once");
    gate(tag).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Done, "without a failure threshold the swarm completes, reporting the item");
    let outcomes: Vec<Outcome> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].clone().ok(), Some(json!({"tag": tag, "n": 0})));
    let Outcome::Failed(report) = &outcomes[1] else { panic!("item 2 failed: {:?}", outcomes[1]) };
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &waiting_id));
    let message = &report.error.message;
    assert!(message.contains("item 2 of swarm") && message.contains(expected), "{message}");
    let progress = done.swarm.unwrap();
    assert_eq!((progress.succeeded, progress.failed, progress.running), (1, 1, 0));
    // the sweep found nothing more, and the item's delivery, which came after, was stale
    assert_eq!(client.recover(Duration::ZERO).await.unwrap(), 0);
    client.shutdown(WAIT).await.unwrap();
    assert!(calls_of(tag, "add-one").is_empty(), "the damaged item did not run");
}

conformance!(local_backend: a_dispatched_item_whose_record_was_deleted_fails_in_its_position_when_the_sweep_finds_it, |store: TestStore| async move {
    let t = format!("{}-orphan-deleted", store.prefix);
    a_dispatched_item_that_names_its_swarm_no_more_fails_when_the_sweep_finds_it(&store, &t, None, "is missing").await;
});

conformance!(local_backend: a_dispatched_item_whose_head_does_not_parse_fails_in_its_position_when_the_sweep_finds_it, |store: TestStore| async move {
    let t = format!("{}-orphan-unreadable", store.prefix);
    let corrupt = Some(("h", "garbage"));
    a_dispatched_item_that_names_its_swarm_no_more_fails_when_the_sweep_finds_it(&store, &t, corrupt, "does not parse").await;
});

// the step runs, its record is deleted meanwhile: its lease is no longer renewed, and its outcome finds nothing to
// record; when the lease expires, the sweep (every 20 ms here) fails the step, and with it the chain
conformance!(local_backend: a_running_step_whose_record_was_deleted_fails_its_chain_when_its_lease_expires, |store: TestStore| async move {
    let t = format!("{}-orphan-running", store.prefix);
    let client = store
        .client(|b| register(b).run_lease(Duration::from_millis(100)).recovery(Some(Duration::from_millis(20)), Duration::from_secs(60)))
        .await;
    let first = client.sign(held);
    let first_id = first.id().clone();
    let handle = client.run_no_wait(client.chain(vec![Node::from(first), client.sign(add_one).into()]), json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    delete_record(&client, &first_id).await;
    gate(&t).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Failed);
    let report = done.error.unwrap();
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &first_id));
    let message = &report.error.message;
    assert!(message.contains("step 1 of chain") && message.contains("is missing"), "{message}");
    assert_eq!(client.status(&first_id).await.unwrap().status, Status::Failed);
    client.shutdown(WAIT).await.unwrap();
    assert_eq!(calls_of(&t, "held").len(), 1, "the step ran once: its lost run was not dispatched again");
    assert!(calls_of(&t, "add-one").is_empty(), "the chain did not go on");
});

conformance!(local_backend: a_task_whose_success_callback_was_deleted_fails_and_its_error_callback_runs, |store: TestStore| async move {
    let t = format!("{}-damaged-callback", store.prefix);
    let client = store.client(register).await;
    let callback = client.sign(double);
    let callback_id = callback.id().clone();
    let alert = client.sign(on_failure);
    let alert_id = alert.id().clone();
    let handle = client.run_no_wait(client.sign(held).on_success(callback).on_error(alert), msg(&t, 4)).await.unwrap();
    entered(&t, 1).await;
    delete_record(&client, &callback_id).await;
    gate(&t).release.add_permits(1);

    let done = finished(&client, handle.id()).await;
    assert_eq!(done.status, Status::Failed, "a success callback that cannot run fails its signature");
    let report = done.error.unwrap();
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &callback_id));
    assert!(report.error.message.contains("success callback"), "{}", report.error.message);
    finished(&client, &alert_id).await;
    assert_eq!(calls_of(&t, "on-failure").len(), 1);
    assert!(calls_of(&t, "double").is_empty());
});

/// Runs a chain of two steps, overwrites `field` of the second step's record with `value` while the first runs, and
/// checks that the chain fails naming the second step, with `expected` in the message, and that the step never ran.
async fn a_chain_fails_on_its_corrupt_step(store: &TestStore, tag: &str, field: &str, value: &str, expected: &str) {
    let client = store.client(register).await;
    let second = client.sign(add_one);
    let second_id = second.id().clone();
    let chain = client.chain(vec![Node::from(client.sign(held)), second.into()]);
    let handle = client.run_no_wait(chain, json!({"tag": tag, "n": 1})).await.unwrap();
    entered(tag, 1).await;
    corrupt_field(&client, &second_id, field, value).await;
    gate(tag).release.add_permits(1);

    let report = finished(&client, handle.id()).await.error.unwrap();
    assert_eq!((report.error.kind, &report.signature_id), (ErrorKind::Damaged, &second_id));
    assert!(report.error.message.contains(expected), "{}", report.error.message);
    assert!(calls_of(tag, "add-one").is_empty(), "the damaged step did not run");
}

conformance!(local_backend: a_step_with_a_corrupt_field_fails_its_chain, |store: TestStore| async move {
    let t = format!("{}-corrupt-step", store.prefix);
    a_chain_fails_on_its_corrupt_step(&store, &t, "kind", "bogus", "damaged (kind = bogus)").await;
});

// a stray write over the packed fields of the step (its head, `<id>|h`)
conformance!(local_backend: a_step_whose_head_does_not_parse_fails_its_chain, |store: TestStore| async move {
    let t = format!("{}-unreadable-step", store.prefix);
    a_chain_fails_on_its_corrupt_step(&store, &t, "h", "garbage", "does not parse").await;
});

conformance!(local_backend: starting_a_stored_signature_with_corrupt_fields_is_an_error_at_once, |store: TestStore| async move {
    let t = format!("{}-corrupt-start", store.prefix);
    let client = store.client(register).await;
    for (field, value) in [("status", "sideways"), ("token", "many"), ("kind", "blob")] {
        let stored = client.create(client.sign(add_one)).await.unwrap();
        corrupt_field(&client, stored.id(), field, value).await;
        let error = stored.start(msg(&t, 1)).await.unwrap_err();
        let Error::CorruptState { id, detail } = &error else { panic!("{field}: {error:?}") };
        assert_eq!(id, stored.id());
        assert!(detail.contains(&format!("{field} = {value}")), "{detail}");
        assert!(error.to_string().contains("corrupt"), "{error}");
    }
    assert!(calls(&t).is_empty(), "nothing ran");
});
