//! Chains: each step gets the previous step's result; chain-level arguments reach every step; a failing step stops
//! the chain; callbacks run once.

use mageflow::{Error, ErrorKind, Node, Status};
use serde_json::{Value, json};

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(steps_run_in_order_and_feed_each_other, |store: TestStore| async move {
    let t = format!("{}-chain", store.prefix);
    let client = store.client(register).await;
    let step_callback = client.sign(note).arg("note", "after step 2");
    let step_callback_id = step_callback.id().clone();
    let chain_callback = client.sign(note).arg("note", "chain");
    let chain_callback_id = chain_callback.id().clone();
    let chain = client
        .chain(vec![
            Node::from(client.sign(add_one)),
            client.sign(double).on_success(step_callback).into(),
            client.sign(add_one).into(),
        ])
        .name("arithmetic")
        .arg("tag", &t)
        .on_success(chain_callback)
        .on_error(client.sign(on_failure));
    let chain_id = chain.id().clone();
    let out: Value = client.run(chain, json!({"tag": "ignored", "n": 3})).await.unwrap();
    assert_eq!(out, json!({"tag": t, "n": 9}), "(3 + 1) * 2 + 1");
    let order: Vec<(&str, i64)> =
        calls(&t).iter().filter(|c| c.task != "note").map(|c| (c.task, c.input["n"].as_i64().unwrap())).collect();
    assert_eq!(order, vec![("add-one", 3), ("double", 4), ("add-one", 8)], "in order, each fed by the previous");
    assert!(calls(&t).iter().all(|c| c.input.get("tag").is_none_or(|tag| tag == &json!(t))), "chain args everywhere");
    assert_eq!(finished(&client, &chain_callback_id).await.result, Some(json!("chain: 9")));
    assert_eq!(finished(&client, &step_callback_id).await.result, Some(json!("after step 2: 8")));
    assert_eq!(calls_of(&t, "note").len(), 2, "each callback once");
    let state = client.status(&chain_id).await.unwrap();
    assert_eq!((state.status, state.name.as_str()), (Status::Done, "arithmetic"));
    assert!(calls_of(&t, "on-failure").is_empty());
});

conformance!(a_failing_step_stops_the_chain, |store: TestStore| async move {
    let t = format!("{}-stop", store.prefix);
    let client = store.client(register).await;
    let step_error = client.sign(on_failure);
    let step_error_id = step_error.id().clone();
    let last = client.sign(double);
    let last_id = last.id().clone();
    let chain_success = client.sign(note).arg("note", "never");
    let chain_success_id = chain_success.id().clone();
    let chain_error = client.sign(alarm).arg("tag", &t);
    let chain_error_id = chain_error.id().clone();
    let handle = client
        .run_no_wait(
            client
                .chain(vec![
                    Node::from(client.sign(add_one)),
                    client.sign(fail_negative).on_error(step_error).into(),
                    last.into(),
                ])
                .on_success(chain_success)
                .on_error(chain_error),
            json!({"tag": t, "n": -10}),
        )
        .await
        .unwrap();
    let Err(Error::Failed(failure)) = handle.result().await else { panic!("the chain must fail") };
    assert_eq!((failure.task.as_str(), failure.error.attempt), ("fail-negative", 3));
    assert_eq!(failure.input, json!({"tag": t, "n": -9}));
    finished(&client, &step_error_id).await;
    finished(&client, &chain_error_id).await;
    assert_eq!(calls_of(&t, "on-failure").len(), 1, "the step's own error callback, once");
    let alarms = calls_of(&t, "alarm");
    assert_eq!(alarms.len(), 1, "the chain's error callback, once");
    assert_eq!(alarms[0].input["failure"]["task"], json!("fail-negative"));
    assert!(calls_of(&t, "double").is_empty(), "later steps never run");
    assert_eq!(client.status(&last_id).await.unwrap().status, Status::Canceled);
    assert_eq!(client.status(&chain_success_id).await.unwrap().status, Status::Canceled);
    assert!(calls_of(&t, "note").is_empty());
});

conformance!(chains_by_name_and_their_shape_errors, |store: TestStore| async move {
    let t = format!("{}-named", store.prefix);
    let client = store.client(register).await;
    let out: Value = client
        .run(
            client.chain([client.sign_name("double"), client.sign_name("add-one"), client.sign_name("double")]),
            json!({"tag": t, "n": 5}),
        )
        .await
        .unwrap();
    assert_eq!(out, json!({"tag": t, "n": 22}));

    let before = mageflow::testing::stored_signatures(&client).await.unwrap().len();
    let error = client.run(client.chain([client.sign_name("double")]), json!({"tag": t, "n": 1})).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidFlow(m) if m.contains("at least two")), "{error}");
    let error = client
        .run(client.chain([client.sign_name("double"), client.sign_name("add-one")]), json!({"tag": t, "n": "five"}))
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { task, .. } if task == "double"), "{error}");
    let after = mageflow::testing::stored_signatures(&client).await.unwrap().len();
    assert_eq!(before, after, "nothing stored after an error");
});

conformance!(a_later_step_shows_the_result_before_it_as_its_message, |store: TestStore| async move {
    // a step after the first keeps no copy of its message: reads, failure reports and the run itself get the result of
    // the step before it
    let t = format!("{}-message", store.prefix);
    let client = store.client(register).await;
    let second = client.sign(held);
    let second_id = second.id().clone();
    let chain = client.chain(vec![Node::from(client.sign(add_one)), second.into(), client.sign(double).into()]);
    let handle = client.run_no_wait(chain, json!({"tag": t, "n": 1})).await.unwrap();
    entered(&t, 1).await;
    assert_eq!(calls_of(&t, "held")[0].input, json!({"tag": t, "n": 2}), "the run got the first step's result");
    let shown = client.status(&second_id).await.unwrap();
    assert_eq!((shown.status, shown.message), (Status::Active, Some(json!({"tag": t, "n": 2}))));

    client.cancel(&second_id).await.unwrap();
    let Err(Error::Failed(failure)) = handle.result().await else { panic!("a chain whose step was canceled fails") };
    assert_eq!(failure.error.kind, ErrorKind::Canceled);
    assert_eq!(failure.input, json!({"tag": t, "n": 2}), "the report names the input the step ran with");
    assert_eq!(client.status(&second_id).await.unwrap().message, Some(json!({"tag": t, "n": 2})));
    assert!(calls_of(&t, "double").is_empty());
});
