//! Batched writes: many creations, starts, additions and updates in one atomic write; a refused batch writes
//! nothing.

use mageflow::{Error, Node, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(a_batch_applies_everything_at_once, |store: TestStore| async move {
    let t = format!("{}-batch", store.prefix);
    let client = store.client(register).await;
    let mut batch = client.batch();
    let stored = batch.create(client.sign(double).arg("tag", &t));
    let started: Vec<_> = (0..3).map(|n| batch.run(client.sign(add_one), msg(&t, n))).collect();
    let swarm = batch.create(client.swarm([client.sign(add_one)]).open().arg("tag", &t));
    batch.add(swarm.id(), [client.sign(double).arg("n", 20)]);
    batch.bind(stored.id(), json!({"n": 50}));
    batch.close(swarm.id());
    assert!(calls(&t).is_empty(), "nothing is written before commit");
    batch.commit().await.unwrap();

    for (n, handle) in started.iter().enumerate() {
        assert_eq!(handle.result().await.unwrap(), msg(&t, n as i64 + 1));
    }
    let state = stored.status().await.unwrap();
    assert_eq!(state.status, Status::Pending);
    assert_eq!(state.args, json!({"tag": t, "n": 50}).as_object().unwrap().clone(), "updates are layered");
    stored.start(msg("ignored", 0)).await.unwrap();
    assert_eq!(stored.result().await.unwrap(), msg(&t, 100), "bound arguments win over the message");
    swarm.start(json!({"n": 1})).await.unwrap();
    let outcomes = swarm.result().await.unwrap();
    let values: Vec<_> = outcomes.into_iter().map(|o| o.ok().unwrap()["n"].clone()).collect();
    assert_eq!(values, vec![json!(2), json!(40)]);
});

conformance!(a_refused_batch_writes_nothing, |store: TestStore| async move {
    let t = format!("{}-refused", store.prefix);
    let client = store.client(register).await;
    let closed = client.create(client.swarm([client.sign(add_one)])).await.unwrap();
    let keys = || async { mageflow::testing::stored_signatures(&client).await.unwrap().len() };
    let before = keys().await;

    let mut batch = client.batch();
    batch.run(client.sign(add_one), msg(&t, 1));
    batch.create(client.chain([client.sign(add_one), client.sign(double)]));
    batch.add(closed.id(), [client.sign(add_one)]);
    let error = batch.commit().await.unwrap_err();
    assert!(matches!(error, Error::SwarmClosed(_)), "{error}");
    assert_eq!(keys().await, before, "the refused batch stored nothing");

    let mut batch = client.batch();
    batch.run(client.sign(add_one), msg(&t, 1));
    batch.run(client.sign_name("no-such-task"), json!({}));
    assert!(matches!(batch.commit().await.unwrap_err(), Error::UnknownTask { .. }));

    let mut batch = client.batch();
    let first = batch.run(client.sign(add_one), msg(&t, 1));
    batch.bind(&"unknown0000".parse().unwrap(), json!({"n": 1}));
    assert!(matches!(batch.commit().await.unwrap_err(), Error::NotFound(_)));
    assert!(matches!(first.status().await.unwrap_err(), Error::NotFound(_)));
    assert_eq!(keys().await, before);
    assert!(calls(&t).is_empty(), "nothing ran");
});

conformance!(arguments_bound_later_to_a_swarm_item_or_a_chain_step_reach_its_run, |store: TestStore| async move {
    // items and steps stored without arguments of their own start without reading any (their container is marked
    // plain): arguments bound to one afterwards, or an item added with its own, must still reach its run
    let t = format!("{}-bound-later", store.prefix);
    let client = store.client(register).await;
    let item = client.sign(add_one);
    let item_id = item.id().clone();
    let swarm = client.create(client.swarm([client.sign(add_one), item])).await.unwrap();
    let step = client.sign(add_one);
    let step_id = step.id().clone();
    let chain = client.create(client.chain([client.sign(add_one), step])).await.unwrap();
    let mut batch = client.batch();
    batch.bind(&item_id, json!({"n": 10}));
    batch.bind(&step_id, json!({"n": 20}));
    batch.commit().await.unwrap();
    let grown = client.create(client.swarm([client.sign(add_one)]).open()).await.unwrap();
    let mut batch = client.batch();
    batch.add(grown.id(), [client.sign(double).arg("n", 30)]);
    batch.close(grown.id());
    batch.commit().await.unwrap();

    swarm.start(json!({"tag": t, "n": 1})).await.unwrap();
    let values: Vec<_> = swarm.result().await.unwrap().into_iter().map(|o| o.ok().unwrap()["n"].clone()).collect();
    assert_eq!(values, vec![json!(2), json!(11)], "the item ran with the arguments bound to it");
    grown.start(json!({"tag": t, "n": 1})).await.unwrap();
    let values: Vec<_> = grown.result().await.unwrap().into_iter().map(|o| o.ok().unwrap()["n"].clone()).collect();
    assert_eq!(values, vec![json!(2), json!(60)], "the item added ran with its own arguments");
    chain.start(json!({"tag": t, "n": 1})).await.unwrap();
    assert_eq!(
        chain.result().await.unwrap(),
        json!({"tag": t, "n": 21}),
        "the step ran with the arguments bound to it"
    );
});

conformance!(arguments_bound_to_a_later_step_of_a_running_chain_reach_its_run, |store: TestStore| async move {
    // a step of the plain chain has reported (the engine read the chain as plain) when arguments are bound to a
    // later step: they must still reach its run
    let t = format!("{}-bound-running", store.prefix);
    let client = store.client(register).await;
    let last = client.sign(add_one);
    let last_id = last.id().clone();
    let chain = client.chain([Node::from(client.sign(add_one)), client.sign(held).into(), last.into()]);
    let handle = client.run_no_wait(chain, json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    let mut batch = client.batch();
    batch.bind(&last_id, json!({"n": 100}));
    batch.commit().await.unwrap();
    gate(&t).release.add_permits(1);
    assert_eq!(handle.result().await.unwrap(), json!({"tag": t, "n": 101}), "the last step ran with its arguments");
});
