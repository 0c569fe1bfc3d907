//! Task signatures: running, results, retries, timeouts, callbacks exactly once, validation, state and TTLs.

use mageflow::{Error, ErrorKind, Kind, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

fn tag(store: &TestStore, name: &str) -> String {
    format!("{}-{name}", store.prefix)
}

conformance!(runs_a_task_and_its_success_callbacks_once, |store: TestStore| async move {
    let t = tag(&store, "ok");
    let client = store.client(register).await;
    let whole = client.sign(double);
    let field = client.sign(note).arg("note", "total");
    let bound = client.sign(add_one).bind(json!({"n": 100}));
    let error_cb = client.sign(on_failure);
    let ids = [whole.id().clone(), field.id().clone(), bound.id().clone(), error_cb.id().clone()];
    let handle = client
        .run_no_wait(
            client.sign(add_one).on_success(whole).on_success(field).on_success(bound).on_error(error_cb),
            msg(&t, 1),
        )
        .await
        .unwrap();
    assert_eq!(handle.result().await.unwrap(), msg(&t, 2));
    for id in &ids[..3] {
        assert_eq!(finished(&client, id).await.status, Status::Done);
    }
    assert_eq!(client.status(&ids[0]).await.unwrap().result, Some(json!({"tag": t, "n": 4})));
    assert_eq!(client.status(&ids[1]).await.unwrap().result, Some(json!("total: 2")));
    // bound arguments win over the routed result's fields
    assert_eq!(client.status(&ids[2]).await.unwrap().result, Some(json!({"tag": t, "n": 101})));
    assert_eq!(client.status(&ids[3]).await.unwrap().status, Status::Canceled, "the error callback never runs");
    assert_eq!(calls_of(&t, "double").len(), 1);
    assert_eq!(calls_of(&t, "note").len(), 1);
    assert_eq!(calls_of(&t, "note")[0].input, json!({"previous": {"tag": t, "n": 2}, "note": "total"}));
    assert_eq!(calls_of(&t, "add-one").len(), 2, "the task and the bound callback");
    assert!(calls_of(&t, "on-failure").is_empty());
});

conformance!(error_callbacks_run_once_after_the_last_retry, |store: TestStore| async move {
    let t = tag(&store, "retries");
    let client = store.client(register).await;
    let error_cb = client.sign(on_failure);
    let success_cb = client.sign(double);
    let (error_id, success_id) = (error_cb.id().clone(), success_cb.id().clone());
    let handle = client
        .run_no_wait(client.sign(fail_negative).on_error(error_cb).on_success(success_cb), msg(&t, -5))
        .await
        .unwrap();
    let Err(Error::Failed(failure)) = handle.result().await else { panic!("expected a failure") };
    assert_eq!(failure.error.kind, ErrorKind::Error);
    assert_eq!(failure.error.attempt, 3, "retries = 2 means three attempts");
    assert_eq!(failure.error.message, "-5 is negative");
    assert_eq!(finished(&client, &error_id).await.status, Status::Done);
    let attempts: Vec<u32> = calls_of(&t, "fail-negative").iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    let error_calls = calls_of(&t, "on-failure");
    assert_eq!(error_calls.len(), 1, "the error callback runs exactly once");
    assert_eq!(error_calls[0].input["input"], json!({"tag": t, "n": -5}));
    assert_eq!(error_calls[0].input["error"], json!({"kind": "error", "message": "-5 is negative", "attempt": 3}));
    assert_eq!(error_calls[0].input["task"], json!("fail-negative"));
    assert_eq!(client.status(&success_id).await.unwrap().status, Status::Canceled);
    assert!(calls_of(&t, "double").is_empty());
});

conformance!(a_retry_that_succeeds_fires_only_success_callbacks, |store: TestStore| async move {
    let t = tag(&store, "flaky");
    let client = store.client(register).await;
    let success_cb = client.sign(double);
    let success_id = success_cb.id().clone();
    let out = client.run(client.sign(flaky).on_success(success_cb).on_error(client.sign(on_failure)), msg(&t, 3)).await;
    assert_eq!(out.unwrap(), msg(&t, 3));
    assert_eq!(finished(&client, &success_id).await.result, Some(json!({"tag": t, "n": 6})));
    assert_eq!(calls_of(&t, "flaky").len(), 2);
    assert_eq!(calls_of(&t, "double").len(), 1);
    assert!(calls_of(&t, "on-failure").is_empty());
});

conformance!(non_retryable_errors_timeouts_and_panics_fail_with_their_kind, |store: TestStore| async move {
    let t = tag(&store, "kinds");
    let client = store.client(register).await;
    let Err(Error::Failed(refused)) = client.run(client.sign(refuse), msg(&t, 1)).await else { panic!() };
    assert_eq!((refused.error.kind, refused.error.attempt), (ErrorKind::Error, 1));
    assert_eq!(calls_of(&t, "refuse").len(), 1, "a non-retryable error is not retried despite retries = 5");
    let Err(Error::Failed(slow)) = client.run(client.sign(too_slow), msg(&t, 2)).await else { panic!() };
    assert_eq!(slow.error.kind, ErrorKind::Timeout);
    let Err(Error::Failed(panicked)) = client.run(client.sign(explode), msg(&t, 3)).await else { panic!() };
    assert_eq!(panicked.error.kind, ErrorKind::Panic);
    assert!(panicked.error.message.contains("boom 3"), "{}", panicked.error.message);
});

conformance!(by_name_signatures_are_validated_before_anything_is_stored, |store: TestStore| async move {
    let t = tag(&store, "names");
    let client = store.client(register).await;
    let keys = || async { mageflow::testing::stored_signatures(&client).await.unwrap().len() };

    let out = client.run(client.sign_name("double"), json!({"tag": t, "n": 4})).await.unwrap();
    assert_eq!(out, json!({"tag": t, "n": 8}));
    let stored = keys().await;

    let error = client.run(client.sign_name("tripple"), json!({"tag": t, "n": 4})).await.unwrap_err();
    assert!(matches!(&error, Error::UnknownTask { name, .. } if name == "tripple"), "{error}");
    assert!(error.to_string().contains("double"), "the message lists the known tasks: {error}");

    let error = client.run(client.sign_name("double"), json!({"tag": t, "n": "four"})).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { task, .. } if task == "double"), "{error}");
    assert!(error.to_string().contains("/n"), "the message names the field: {error}");

    let error = client.run(client.sign_name("double"), json!({"tag": t})).await.unwrap_err();
    assert!(error.to_string().contains("\"n\" is a required property"), "{error}");

    let error = client.run(client.sign_name("double").arg("tag", &t).arg("m", 1), json!({"n": 1})).await.unwrap_err();
    assert!(error.to_string().contains("`m` is not a field"), "{error}");

    let error = client
        .run(client.sign_name("double").on_success(client.sign_name("nope")), json!({"tag": t, "n": 1}))
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::UnknownTask { name, .. } if name == "nope"), "{error}");

    let error =
        client.run(client.sign_name("double").bind(json!([1, 2])), json!({"tag": t, "n": 1})).await.unwrap_err();
    assert!(matches!(error, Error::InvalidFlow(_)), "{error}");

    assert_eq!(keys().await, stored, "nothing half-written stays after an error");
    assert_eq!(calls_of(&t, "double").len(), 1);
});

conformance!(an_output_that_does_not_serialize_fails_the_task, |store: TestStore| async move {
    use std::collections::HashMap;

    #[mageflow::task]
    async fn bad_output(_input: u32) -> Result<HashMap<(u8, u8), u8>, mageflow::TaskError> {
        Ok(HashMap::from([((1, 2), 3)]))
    }

    let client = store.client(|b| b.task(bad_output)).await;
    let Err(Error::Failed(failure)) = client.run(client.sign(bad_output), 7).await else {
        panic!("expected a failure")
    };
    assert_eq!(failure.error.kind, ErrorKind::InvalidOutput);
    assert!(failure.error.message.contains("does not serialize"), "{}", failure.error.message);
});

conformance!(state_reads_back_and_ttls_follow_the_lifecycle, |store: TestStore| async move {
    let t = tag(&store, "state");
    let client = store.client(|b| register(b).ttl(TestStore::ttl())).await;
    let callback = client.sign(double);
    let callback_id = callback.id().clone();
    let created = client.create(client.sign(add_one).arg("n", 10).on_success(callback)).await.unwrap();
    let state = created.status().await.unwrap();
    assert_eq!((state.kind, state.status, state.name.as_str()), (Kind::Task, Status::Pending, "add-one"));
    assert_eq!(state.args, json!({"n": 10}).as_object().unwrap().clone());
    assert_eq!(state.success_callbacks, vec![callback_id.clone()]);
    assert_eq!(mageflow::testing::stored_signatures(&client).await.unwrap().len(), 2);
    let ttls = client.store().scan(&format!("{}:", client.key_prefix())).await.unwrap();
    let groups: Vec<_> = ttls.iter().filter(|k| k.key.contains(":g:")).collect();
    assert_eq!(groups.len(), 1, "a flow built in one go is stored in one group: {ttls:?}");
    assert!(groups[0].ttl.is_some_and(|ttl| ttl.as_secs() > 900), "active TTL: {ttls:?}");

    created.start(msg(&t, 0)).await.unwrap();
    let done = finished(&client, created.id()).await;
    assert_eq!((done.status, done.attempt), (Status::Done, 1));
    assert_eq!(done.result, Some(json!({"tag": t, "n": 11})));
    assert_eq!(done.message, Some(json!({"tag": t, "n": 0})));
    finished(&client, &callback_id).await;
    let keys = client.store().scan(&format!("{}:", client.key_prefix())).await.unwrap();
    assert_done_ttls(&keys);
    let error = created.start(msg(&t, 0)).await.unwrap_err();
    assert!(matches!(&error, Error::AlreadyStarted(id) if id == created.id()), "{error}");
    let missing = client.status(&"nope".parse().unwrap()).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing}");
});
