//! Flows nested in every direction: chains in swarms, swarms in chains, swarms in swarms, chains and swarms as
//! callbacks. A nested flow reports its result to its parent; a swarm passes on its list of outcomes.

use mageflow::{Node, Outcome, Status};
use serde_json::{Value, json};

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(chains_in_swarms_and_swarms_in_swarms, |store: TestStore| async move {
    let t = format!("{}-nest", store.prefix);
    let client = store.client(register).await;
    let chain = client.chain([client.sign_name("add-one"), client.sign_name("double")]).name("inner-chain");
    let inner = client.swarm([client.sign_name("double"), client.sign_name("add-one")]).name("inner-swarm");
    let outer = client.swarm(vec![Node::from(chain), inner.into(), client.sign_name("add-one").into()]);
    let outcomes = client.run(outer.arg("tag", &t), json!({"n": 10})).await.unwrap();
    let values: Vec<Value> = outcomes.into_iter().map(|o| o.ok().unwrap()).collect();
    assert_eq!(values[0], json!({"tag": t, "n": 22}), "the chain reports its last result");
    assert_eq!(
        values[1],
        json!([{"ok": {"tag": t, "n": 20}}, {"ok": {"tag": t, "n": 11}}]),
        "the inner swarm reports its outcomes"
    );
    assert_eq!(values[2], json!({"tag": t, "n": 11}));
    assert_eq!(calls(&t).len(), 5);
});

conformance!(swarms_in_chains_pass_their_outcomes_on, |store: TestStore| async move {
    let t = format!("{}-swarm-step", store.prefix);
    let client = store.client(register).await;
    let fan_out = client.swarm([client.sign(double), client.sign(add_one)]).max_concurrency(1);
    let collect_step = client.sign(collect).arg("tag", &t);
    let chain = client.chain(vec![Node::from(client.sign(add_one)), fan_out.into(), collect_step.into()]);
    let out: Value = client.run(chain, json!({"tag": t, "n": 1})).await.unwrap();
    assert_eq!(out, json!(2));
    let collected = calls_of(&t, "collect");
    assert_eq!(collected.len(), 1);
    assert_eq!(collected[0].input["outcomes"], json!([{"ok": {"tag": t, "n": 4}}, {"ok": {"tag": t, "n": 3}}]));
});

conformance!(chains_and_swarms_run_as_callbacks, |store: TestStore| async move {
    let t = format!("{}-callbacks", store.prefix);
    let client = store.client(register).await;
    let chain_callback = client.chain([client.sign(double), client.sign(add_one)]);
    let chain_id = chain_callback.id().clone();
    let swarm_callback = client.swarm([client.sign(add_one), client.sign(double)]);
    let swarm_id = swarm_callback.id().clone();
    let error_chain = client.chain([client.sign(double), client.sign(double)]);
    let error_chain_id = error_chain.id().clone();
    let out = client
        .run(
            client.sign(add_one).on_success(chain_callback).on_success(swarm_callback).on_error(error_chain),
            msg(&t, 2),
        )
        .await
        .unwrap();
    assert_eq!(out, msg(&t, 3));
    assert_eq!(finished(&client, &chain_id).await.result, Some(json!({"tag": t, "n": 7})));
    let swarm = finished(&client, &swarm_id).await;
    let outcomes: Vec<Outcome<Value>> = serde_json::from_value(swarm.result.unwrap()).unwrap();
    assert_eq!(outcomes.into_iter().map(|o| o.ok().unwrap()["n"].clone()).collect::<Vec<_>>(), vec![4, 6]);
    assert_eq!(client.status(&error_chain_id).await.unwrap().status, Status::Canceled);
    let tree = client.tree(&error_chain_id).await.unwrap();
    assert!(tree.nodes().iter().all(|n| n.status == Status::Canceled), "the unused error chain is dropped whole");
});

conformance!(the_ancestors_complex_flow_in_our_terms, |store: TestStore| async move {
    // §8.12.1: a main swarm (max_concurrency 2, success callback, bound args) of four good chains with error
    // callbacks, a chain that fails for good, and an inner swarm; started with a message.
    let t = format!("{}-complex", store.prefix);
    let client = store.client(register).await;
    let mut items = Vec::new();
    let mut good_error_callbacks = Vec::new();
    for _ in 0..4 {
        let error_callback = client.sign(alarm).arg("tag", &t);
        good_error_callbacks.push(error_callback.id().clone());
        let chain = client
            .chain([client.sign(add_one), client.sign(flaky), client.sign(double).arg("n", 13)])
            .on_error(error_callback);
        items.push(Node::from(chain));
    }
    let failing_error = client.sign(alarm).arg("tag", &t);
    let failing_error_id = failing_error.id().clone();
    let failing_success = client.sign(collect).arg("tag", &t);
    let failing_success_id = failing_success.id().clone();
    items.push(
        client
            .chain([client.sign(add_one), client.sign(refuse)])
            .on_error(failing_error)
            .on_success(failing_success)
            .into(),
    );
    items.push(client.swarm([client.sign(double), client.sign(add_one)]).into());
    let main_callback = client.sign(collect).arg("tag", &t);
    let main_callback_id = main_callback.id().clone();
    let outcomes = client
        .run(
            client.swarm(items).max_concurrency(2).arg("tag", &t).on_success(main_callback),
            json!({"tag": "replaced by the swarm's argument", "n": 100}),
        )
        .await
        .unwrap();

    assert_eq!(outcomes.len(), 6);
    for outcome in &outcomes[..4] {
        assert_eq!(outcome.clone().ok(), Some(json!({"tag": t, "n": 26})), "the last step got its bound n = 13");
    }
    let failed = serde_json::to_value(&outcomes[4]).unwrap();
    assert_eq!(failed["failed"]["task"], json!("refuse"));
    assert_eq!(outcomes[5].clone().ok(), Some(json!([{"ok": {"tag": t, "n": 200}}, {"ok": {"tag": t, "n": 101}}])));
    let first_steps: Vec<_> = calls_of(&t, "add-one").into_iter().filter(|c| c.input["n"] == json!(100)).collect();
    assert_eq!(first_steps.len(), 6, "every first step got the message with the swarm's argument");
    finished(&client, &main_callback_id).await;
    finished(&client, &failing_error_id).await;
    assert_eq!(calls_of(&t, "collect").len(), 1, "only the main swarm's success callback ran");
    assert_eq!(calls_of(&t, "alarm").len(), 1, "only the failing chain's error callback ran");
    assert_eq!(client.status(&failing_success_id).await.unwrap().status, Status::Canceled);
    for id in &good_error_callbacks {
        assert_eq!(client.status(id).await.unwrap().status, Status::Canceled);
    }
    assert_eq!(calls_of(&t, "flaky").len(), 8, "each retry-once step ran twice");
});
