//! Swarms: concurrency limit, failure threshold, max items, items added while running, close, ordered results.

use mageflow::{Error, Node, Outcome, Status};
use serde_json::{Value, json};

use crate::conformance;
use crate::probe::*;
use crate::support::*;

fn outcome_values(outcomes: &[Outcome<Value>]) -> Vec<Value> {
    outcomes.iter().map(|o| serde_json::to_value(o).unwrap()).collect()
}

conformance!(items_get_the_message_and_results_come_in_item_order, |store: TestStore| async move {
    let t = format!("{}-order", store.prefix);
    let client = store.client(register).await;
    let callback = client.sign(collect).arg("tag", &t);
    let callback_id = callback.id().clone();
    // item 0 waits at the gate until the others are done, so completion order differs from item order
    let items = vec![
        Node::from(client.sign(held)),
        client.sign(add_one).into(),
        client.sign(double).arg("n", 50).into(),
        client.sign(overlap).arg("n", -1).into(),
    ];
    let item_ids: Vec<_> = items.iter().map(|item| item.id().clone()).collect();
    let swarm = client.swarm(items).max_concurrency(10).arg("tag", &t).on_success(callback);
    let handle = client.run_no_wait(swarm, json!({"n": 7})).await.unwrap();
    entered(&t, 1).await;
    for n in [8, 100] {
        // the other succeeding items finish while item 0 waits
        while !calls(&t).iter().any(|c| c.task != "held" && c.input["n"] == json!(n - if n == 8 { 1 } else { 50 })) {
            tokio::task::yield_now().await;
        }
    }
    gate(&t).release.add_permits(1);
    let outcomes = handle.result().await.unwrap();
    let values = outcome_values(&outcomes);
    assert_eq!(values[0], json!({"ok": {"tag": t, "n": 7}}));
    assert_eq!(values[1], json!({"ok": {"tag": t, "n": 8}}));
    assert_eq!(values[2], json!({"ok": {"tag": t, "n": 100}}), "item args override the message");
    assert_eq!(values[3]["failed"]["error"]["kind"], json!("error"), "failed items are reported, not dropped");
    assert_eq!(values[3]["failed"]["input"], json!({"tag": t, "n": -1}));
    assert_eq!(finished(&client, &callback_id).await.result, Some(json!(4)));
    for id in &item_ids {
        // items keep no copy of the swarm's message: their state shows the swarm's
        assert_eq!(finished(&client, id).await.message, Some(json!({"n": 7})), "item {id} was started with it");
    }
    let collected = calls_of(&t, "collect");
    assert_eq!(collected.len(), 1, "the success callback runs once");
    assert_eq!(collected[0].input["outcomes"], Value::Array(values));
});

conformance!(max_concurrency_is_never_exceeded, |store: TestStore| async move {
    let t = format!("{}-conc", store.prefix);
    let client = store.client(|b| register(b).concurrency(32)).await;
    let items: Vec<Node> = (0..24).map(|n| client.sign(overlap).arg("n", n).into()).collect();
    let outcomes = client.run(client.swarm(items).max_concurrency(3), json!({"tag": t, "n": 0})).await.unwrap();
    assert_eq!(outcomes.len(), 24);
    assert!(outcomes.iter().all(Outcome::is_ok));
    assert_eq!(calls_of(&t, "overlap").len(), 24);
    let max = max_running(&t);
    assert!((1..=3).contains(&max), "at most 3 items ran at once, saw {max}");
});

conformance!(stop_after_failures_fails_the_swarm_once, |store: TestStore| async move {
    let t = format!("{}-stop", store.prefix);
    let client = store.client(register).await;
    let success = client.sign(collect).arg("tag", &t);
    let success_id = success.id().clone();
    let failure = client.sign(alarm).arg("tag", &t);
    let failure_id = failure.id().clone();
    // item 0 is running (held) when item 1 fails; items 2.. are queued
    let first = client.sign(held);
    let held_id = first.id().clone();
    let handle = client
        .run_no_wait(
            client
                .swarm([first])
                .open()
                .max_concurrency(2)
                .stop_after_failures(1)
                .on_success(success)
                .on_error(failure),
            json!({"tag": t, "n": 1}),
        )
        .await
        .unwrap();
    entered(&t, 1).await;
    let mut items = vec![Node::from(client.sign(refuse))];
    items.extend((0..3).map(|_| Node::from(client.sign(add_one))));
    let queued: Vec<_> = items[1..].iter().map(|i| i.id().clone()).collect();
    handle.add(items).await.unwrap();
    let Err(Error::Failed(report)) = handle.result().await else { panic!("the swarm must fail") };
    assert_eq!(report.error.kind, mageflow::ErrorKind::SwarmFailed);
    finished(&client, &failure_id).await;
    assert_eq!(calls_of(&t, "alarm").len(), 1, "error callbacks fire once");
    assert_eq!(client.status(&success_id).await.unwrap().status, Status::Canceled, "success callbacks never");
    assert!(calls_of(&t, "add-one").is_empty(), "queued items never start");
    for id in &queued {
        assert_eq!(client.status(id).await.unwrap().status, Status::Canceled);
    }
    assert_eq!(client.status(&held_id).await.unwrap().status, Status::Canceled, "the running item is interrupted");
    assert_eq!(calls_of(&t, "held").len(), 1);
});

conformance!(three_failures_of_six_with_threshold_two_fire_the_error_callback_once, |store: TestStore| async move {
    let t = format!("{}-six", store.prefix);
    let client = store.client(register).await;
    let success = client.sign(collect).arg("tag", &t);
    let success_id = success.id().clone();
    let failure = client.sign(alarm).arg("tag", &t);
    let failure_id = failure.id().clone();
    let items: Vec<Node> =
        (0..6).map(|n| if n % 2 == 0 { client.sign(add_one).into() } else { client.sign(refuse).into() }).collect();
    let handle = client
        .run_no_wait(
            client.swarm(items).max_concurrency(2).stop_after_failures(2).on_success(success).on_error(failure),
            json!({"tag": t, "n": 1}),
        )
        .await
        .unwrap();
    assert!(matches!(handle.result().await, Err(Error::Failed(_))));
    finished(&client, &failure_id).await;
    assert_eq!(calls_of(&t, "alarm").len(), 1);
    assert!(calls_of(&t, "collect").is_empty());
    assert_eq!(client.status(&success_id).await.unwrap().status, Status::Canceled);
    // the second failure stops the swarm; a third failing item may have started while the second one ran
    let refused = calls_of(&t, "refuse").len();
    assert!((2..=3).contains(&refused), "{refused} failing items ran");
});

conformance!(items_can_be_added_while_an_open_swarm_runs, |store: TestStore| async move {
    let t = format!("{}-open", store.prefix);
    let client = store.client(register).await;
    let handle =
        client.run_no_wait(client.swarm([client.sign(add_one)]).open().arg("tag", &t), json!({"n": 1})).await.unwrap();
    handle.add([client.sign(double)]).await.unwrap();
    handle.add_with_message([client.sign(add_one)], json!({"n": 10})).await.unwrap();
    handle.add_each([(client.sign(double), json!({"n": 20})), (client.sign(add_one), json!({"n": 30}))]).await.unwrap();
    while calls(&t).len() < 5 {
        tokio::task::yield_now().await;
    }
    assert_eq!(client.status(handle.id()).await.unwrap().status, Status::Active, "an open swarm waits for close");
    handle.close().await.unwrap();
    let outcomes = handle.result().await.unwrap();
    let ns: Vec<i64> = outcomes.into_iter().map(|o| o.ok().unwrap()["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, vec![2, 2, 11, 40, 31], "results by item position");
    let error = handle.add([client.sign(double)]).await.unwrap_err();
    assert!(matches!(error, Error::SwarmFinished { status: Status::Done, .. }), "{error}");
});

conformance!(closed_full_and_canceled_swarms_refuse_items, |store: TestStore| async move {
    let t = format!("{}-refuse", store.prefix);
    let client = store.client(register).await;
    let gate_item = client.sign(held);
    let open =
        client.run_no_wait(client.swarm([gate_item]).open().max_items(2), json!({"tag": t, "n": 1})).await.unwrap();
    open.add([client.sign(add_one)]).await.unwrap();
    assert!(open.status().await.unwrap().swarm.unwrap().closed, "reaching max_items closes the swarm");
    let error = open.add([client.sign(add_one)]).await.unwrap_err();
    assert!(matches!(error, Error::SwarmClosed(_)), "{error}");
    gate(&t).release.add_permits(1);
    assert_eq!(open.result().await.unwrap().len(), 2, "it completes without close()");

    let capped = client.create(client.swarm([client.sign(add_one)]).open().max_items(2)).await.unwrap();
    let error = capped.add([client.sign(add_one), client.sign(add_one)]).await.unwrap_err();
    assert!(matches!(error, Error::TooManyItems { max_items: 2, current: 1, adding: 2, .. }), "{error}");

    let closed = client.create(client.swarm([client.sign(add_one)])).await.unwrap();
    assert!(matches!(closed.add([client.sign(add_one)]).await.unwrap_err(), Error::SwarmClosed(_)));

    let canceled = client.create(client.swarm([client.sign(add_one)]).open()).await.unwrap();
    canceled.cancel().await.unwrap();
    let error = canceled.add([client.sign(add_one)]).await.unwrap_err();
    assert!(matches!(error, Error::SwarmFinished { status: Status::Canceled, .. }), "{error}");

    let task = client.create(client.sign(add_one)).await.unwrap();
    // a task's handle has no `add` (a compile error, tests/ui/api); an id claimed to be a swarm is checked
    let not_a_swarm = client.swarm_handle(task.id().clone());
    assert!(matches!(not_a_swarm.add([client.sign(add_one)]).await.unwrap_err(), Error::WrongKind { .. }));
});

conformance!(queued_items_start_in_order_as_slots_free, |store: TestStore| async move {
    // §8.11.7: a closed swarm of four plus one added item, max_concurrency 3: three start, and each completion
    // starts exactly the next queued item.
    let t = format!("{}-fifo", store.prefix);
    let client = store.client(register).await;
    let items: Vec<Node> = (0..4).map(|n| client.sign(held).arg("n", n).into()).collect();
    let handle = client.create(client.swarm(items).open().max_concurrency(3).arg("tag", &t)).await.unwrap();
    handle.add([client.sign(held).arg("n", 4)]).await.unwrap();
    handle.close().await.unwrap();
    handle.start(json!({})).await.unwrap();
    entered(&t, 3).await;
    let started = |calls: Vec<Call>| calls.iter().map(|c| c.input["n"].as_i64().unwrap()).collect::<Vec<_>>();
    let mut first_three = started(calls_of(&t, "held"));
    first_three.sort();
    assert_eq!(first_three, vec![0, 1, 2]);
    gate(&t).release.add_permits(1);
    entered(&t, 4).await;
    assert_eq!(started(calls_of(&t, "held"))[3], 3, "one completion starts exactly the next item");
    assert_eq!(calls_of(&t, "held").len(), 4);
    gate(&t).release.add_permits(4);
    let outcomes = handle.result().await.unwrap();
    let ns: Vec<i64> = outcomes.into_iter().map(|o| o.ok().unwrap()["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
});

conformance!(outcomes_after_a_plain_swarms_still_fire_their_callbacks, |store: TestStore| async move {
    // the items of a swarm created with plain tasks only have no callbacks, and the outcome after one of theirs is
    // read as if it were another at first: a task's and an item's with callbacks still fire them, once each
    let t = format!("{}-after-plain", store.prefix);
    let client = store.client(register).await;
    let plain = client.swarm((0..20).map(|_| Node::from(client.sign(add_one))).collect::<Vec<_>>()).max_concurrency(5);
    let outcomes = client.run_no_wait(plain, json!({"tag": t, "n": 1})).await.unwrap().result().await.unwrap();
    assert_eq!(outcomes.len(), 20);

    let task_callback = client.sign(note).arg("note", "task");
    let task_callback_id = task_callback.id().clone();
    let task = client.sign(add_one).on_success(task_callback);
    assert_eq!(client.run(task, msg(&t, 10)).await.unwrap(), msg(&t, 11));
    assert_eq!(finished(&client, &task_callback_id).await.result, Some(json!("task: 11")));

    let plain = client.swarm((0..20).map(|_| Node::from(client.sign(add_one))).collect::<Vec<_>>()).max_concurrency(5);
    client.run_no_wait(plain, json!({"tag": t, "n": 1})).await.unwrap().result().await.unwrap();
    let item_callback = client.sign(note).arg("note", "item");
    let item_callback_id = item_callback.id().clone();
    let swarm = client.swarm([Node::from(client.sign(add_one).on_success(item_callback))]);
    client.run_no_wait(swarm, json!({"tag": t, "n": 20})).await.unwrap().result().await.unwrap();
    assert_eq!(finished(&client, &item_callback_id).await.result, Some(json!("item: 21")));
    assert_eq!(calls_of(&t, "note").len(), 2, "each callback once");
});

conformance!(an_item_added_with_a_callback_to_a_plain_swarm_fires_it, |store: TestStore| async move {
    // a swarm created with plain tasks only is marked plain (its items have no fields of their own); an item added
    // with a callback takes the mark away
    let t = format!("{}-added-callback", store.prefix);
    let client = store.client(register).await;
    let swarm = client.create(client.swarm([client.sign(add_one), client.sign(add_one)]).open()).await.unwrap();
    // (a callback without arguments of its own: a record with them would take the mark away by itself)
    let callback = client.sign(double);
    let callback_id = callback.id().clone();
    let mut batch = client.batch();
    batch.add(swarm.id(), [client.sign(add_one).on_success(callback)]);
    batch.close(swarm.id());
    batch.commit().await.unwrap();
    swarm.start(json!({"tag": t, "n": 1})).await.unwrap();
    assert_eq!(swarm.result().await.unwrap().len(), 3);
    assert_eq!(finished(&client, &callback_id).await.result, Some(json!({"tag": t, "n": 4})));
    assert_eq!(calls_of(&t, "double").len(), 1, "the callback ran once");
});
