//! Suspend, interrupt, resume and cancel of tasks, chains and swarms, by handle and by id, cascading into nested
//! flows; each idempotent.

use mageflow::{Error, Node, Status};
use serde_json::{Value, json};

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(a_suspended_chain_keeps_the_next_step_until_resumed, |store: TestStore| async move {
    let t = format!("{}-suspend", store.prefix);
    let client = store.client(register).await;
    let callback = client.sign(note).arg("note", "done");
    let callback_id = callback.id().clone();
    let second = client.sign(add_one);
    let second_id = second.id().clone();
    let chain = client.chain(vec![Node::from(client.sign(held)), second.into(), client.sign(double).into()]);
    let handle = client.run_no_wait(chain.on_success(callback), json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    handle.suspend().await.unwrap();
    handle.suspend().await.unwrap();
    assert_eq!(client.status(&second_id).await.unwrap().status, Status::Suspended);
    gate(&t).release.add_permits(1);
    // the running step finishes; the next one is due but waits
    let first = finished(&client, &client.status(handle.id()).await.unwrap().children[0]).await;
    assert_eq!(first.status, Status::Done);
    let second_state = client.status(&second_id).await.unwrap();
    assert_eq!((second_state.status, second_state.previous_status), (Status::Suspended, Some(Status::Active)));
    assert_eq!(second_state.message, Some(json!({"tag": t, "n": 1})), "its input is kept");
    assert!(calls_of(&t, "add-one").is_empty());
    assert_eq!(handle.status().await.unwrap().status, Status::Suspended);

    client.resume(handle.id()).await.unwrap();
    client.resume(handle.id()).await.unwrap();
    let out: Value = handle.result().await.unwrap();
    assert_eq!(out, json!({"tag": t, "n": 4}));
    assert_eq!(calls_of(&t, "add-one").len(), 1, "the stopped step runs exactly once after resume");
    assert_eq!(calls_of(&t, "double").len(), 1);
    finished(&client, &callback_id).await;
    assert_eq!(calls_of(&t, "note").len(), 1);
});

conformance!(a_task_suspended_and_resumed_while_it_runs_runs_once_and_reports, |store: TestStore| async move {
    let t = format!("{}-suspend-running", store.prefix);
    let client = store.client(register).await;
    let handle = client.run_no_wait(client.sign(held), msg(&t, 2)).await.unwrap();
    entered(&t, 1).await;
    handle.suspend().await.unwrap();
    assert_eq!(handle.status().await.unwrap().status, Status::Suspended);
    // the run is still under way (its lease holds): resume lets it go on instead of dispatching it again
    handle.resume().await.unwrap();
    assert_eq!(handle.status().await.unwrap().status, Status::Active);
    gate(&t).release.add_permits(1);
    assert_eq!(handle.result().await.unwrap(), msg(&t, 2));
    assert_eq!(calls_of(&t, "held").len(), 1, "one execution");
});

conformance!(a_run_that_starts_while_suspended_is_canceled_and_resumed_once, |store: TestStore| async move {
    let t = format!("{}-late", store.prefix);
    // one worker slot: the held task occupies it, so the second run is dispatched but cannot begin yet
    let client = store.client(|b| register(b).concurrency(1)).await;
    let blocker = client.run_no_wait(client.sign(held), msg(&t, 0)).await.unwrap();
    entered(&t, 1).await;
    let waiting = client.run_no_wait(client.sign(add_one), msg(&t, 5)).await.unwrap();
    waiting.suspend().await.unwrap();
    gate(&t).release.add_permits(1);
    blocker.result().await.unwrap();
    // the dispatched run begins now, sees the suspension and is canceled with its input kept
    while waiting.status().await.unwrap().previous_status != Some(Status::Active) {
        tokio::task::yield_now().await;
    }
    assert!(calls_of(&t, "add-one").is_empty());
    assert_eq!(waiting.status().await.unwrap().message, Some(json!({"tag": t, "n": 5})));
    waiting.resume().await.unwrap();
    assert_eq!(waiting.result().await.unwrap(), msg(&t, 6));
    assert_eq!(calls_of(&t, "add-one").len(), 1);
});

conformance!(interrupt_aborts_running_work_and_resume_runs_it_again, |store: TestStore| async move {
    let t = format!("{}-interrupt", store.prefix);
    let client = store.client(register).await;
    let callback = client.sign(double);
    let callback_id = callback.id().clone();
    let handle = client.run_no_wait(client.sign(held).on_success(callback), msg(&t, 3)).await.unwrap();
    entered(&t, 1).await;
    client.interrupt(handle.id()).await.unwrap();
    client.interrupt(handle.id()).await.unwrap();
    let state = handle.status().await.unwrap();
    assert_eq!((state.status, state.previous_status), (Status::Interrupted, Some(Status::Active)));
    // the aborted run never reports: releasing the gate now lets only the resumed run through
    handle.resume().await.unwrap();
    entered(&t, 2).await;
    gate(&t).release.add_permits(1);
    assert_eq!(handle.result().await.unwrap(), msg(&t, 3));
    assert_eq!(calls_of(&t, "held").len(), 2, "the interrupted run, then the resumed one");
    finished(&client, &callback_id).await;
    assert_eq!(calls_of(&t, "double").len(), 1, "the callback runs once");
});

conformance!(suspending_a_swarm_cascades_into_its_chains, |store: TestStore| async move {
    let t = format!("{}-swarm-suspend", store.prefix);
    let client = store.client(register).await;
    let chains: Vec<Node> = (0..3).map(|_| client.chain([client.sign(add_one), client.sign(double)]).into()).collect();
    let chain_ids: Vec<_> = chains.iter().map(|c| c.id().clone()).collect();
    let swarm = client.create(client.swarm(chains).max_concurrency(1).arg("tag", &t)).await.unwrap();
    client.suspend(swarm.id()).await.unwrap();
    swarm.start(json!({"n": 1})).await.unwrap();
    for id in &chain_ids {
        let tree = client.tree(id).await.unwrap();
        assert!(tree.nodes().iter().all(|n| n.status == Status::Suspended), "{}", tree.render());
    }
    assert!(calls(&t).is_empty(), "nothing starts while suspended");
    client.resume(swarm.id()).await.unwrap();
    let outcomes = swarm.result().await.unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(calls_of(&t, "add-one").len(), 3);
    assert_eq!(calls_of(&t, "double").len(), 3);
});

conformance!(cancel_ends_a_flow_for_good, |store: TestStore| async move {
    let t = format!("{}-cancel", store.prefix);
    let client = store.client(register).await;
    let success = client.sign(note).arg("note", "never");
    let failure = client.sign(alarm).arg("tag", &t);
    let callbacks = [success.id().clone(), failure.id().clone()];
    let handle = client
        .run_no_wait(
            client.chain([client.sign(held), client.sign(add_one)]).on_success(success).on_error(failure),
            json!({"tag": t, "n": 1}),
        )
        .await
        .unwrap();
    entered(&t, 1).await;
    client.cancel(handle.id()).await.unwrap();
    client.cancel(handle.id()).await.unwrap();
    assert!(matches!(handle.result().await, Err(Error::Canceled(_))));
    let tree = handle.tree().await.unwrap();
    assert!(tree.nodes().iter().all(|n| n.status == Status::Canceled), "{}", tree.render());
    for id in &callbacks {
        assert_eq!(client.status(id).await.unwrap().status, Status::Canceled, "no callback of it runs");
    }
    assert!(calls_of(&t, "add-one").is_empty());
    assert!(matches!(client.resume(handle.id()).await, Ok(())), "resuming a canceled flow changes nothing");
    assert_eq!(handle.status().await.unwrap().status, Status::Canceled);
    let missing = client.suspend(&"0000".parse().unwrap()).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing}");
});

conformance!(canceling_a_swarm_item_counts_it_as_failed, |store: TestStore| async move {
    let t = format!("{}-cancel-item", store.prefix);
    let client = store.client(register).await;
    let first = client.sign(held);
    let first_id = first.id().clone();
    let handle = client
        .run_no_wait(client.swarm(vec![Node::from(first), client.sign(add_one).into()]), json!({"tag": t, "n": 1}))
        .await;
    let handle = handle.unwrap();
    entered(&t, 1).await;
    client.cancel(&first_id).await.unwrap();
    let outcomes = handle.result().await.unwrap();
    assert_eq!(serde_json::to_value(&outcomes[0]).unwrap()["failed"]["error"]["kind"], json!("canceled"));
    assert!(outcomes[1].is_ok());
});

conformance!(canceling_a_running_item_gives_its_slot_back, |store: TestStore| async move {
    let t = format!("{}-cancel-slot", store.prefix);
    let client = store.client(register).await;
    let first = client.sign(held);
    let first_id = first.id().clone();
    let items = vec![Node::from(first), client.sign(add_one).into(), client.sign(add_one).into()];
    let handle = client.run_no_wait(client.swarm(items).max_concurrency(1), json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    client.cancel(&first_id).await.unwrap();
    // with its one slot back, the swarm runs the queued items and completes
    let outcomes = handle.result_within(Some(WAIT)).await.unwrap();
    assert!(!outcomes[0].is_ok());
    assert!(outcomes[1].is_ok() && outcomes[2].is_ok());
    assert_eq!(calls_of(&t, "add-one").len(), 2);
    assert_eq!(handle.status().await.unwrap().swarm.unwrap().running, 0);
});
