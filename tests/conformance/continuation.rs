//! Conditional continuation: a task returns a flow that runs in its place; the engine splices it into the task's
//! parent, and the task finishes with the flow's result.

use mageflow::{Error, ErrorKind, Node, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(a_task_continues_with_a_flow_and_finishes_with_its_result, |store: TestStore| async move {
    let t = format!("{}-continue", store.prefix);
    let client = store.client(register).await;
    let callback = client.sign(note).arg("note", "routed");
    let callback_id = callback.id().clone();
    let handle = client.run_no_wait(client.sign(route).on_success(callback), msg(&t, 5)).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), msg(&t, 12), "(5 + 1) * 2, from the continuation");
    assert_eq!(finished(&client, &callback_id).await.result, Some(json!("routed: 12")));
    let tree = handle.tree().await.unwrap();
    assert_eq!(tree.children.len(), 1, "the continuation hangs under the task: {}", tree.render());
    assert_eq!(tree.children[0].state.status, Status::Done);
    assert_eq!(calls_of(&t, "route").len(), 1);
    assert_eq!(calls_of(&t, "note").len(), 1);

    assert_eq!(client.run(client.sign(route), msg(&t, 200)).await.unwrap(), msg(&t, 200), "or it returns its output");
});

conformance!(a_continuation_is_spliced_into_its_parent, |store: TestStore| async move {
    let t = format!("{}-splice", store.prefix);
    let client = store.client(register).await;
    let out: serde_json::Value = client
        .run(client.chain(vec![Node::from(client.sign(route)), client.sign(add_one).into()]), json!(msg(&t, 1)))
        .await
        .unwrap();
    assert_eq!(out, json!({"tag": t, "n": 5}), "the next step got the continuation's result");
    let outcomes = client.run(client.swarm([client.sign(route), client.sign(route)]), json!(msg(&t, 2))).await.unwrap();
    assert_eq!(outcomes.into_iter().map(|o| o.ok().unwrap()["n"].clone()).collect::<Vec<_>>(), vec![6, 6]);
});

conformance!(an_invalid_continuation_fails_the_task, |store: TestStore| async move {
    let t = format!("{}-invalid", store.prefix);
    let client = store.client(register).await;
    let alarm_callback = client.sign(alarm).arg("tag", &t);
    let alarm_id = alarm_callback.id().clone();
    let Err(Error::Failed(failure)) = client.run(client.sign(route).on_error(alarm_callback), msg(&t, -1)).await else {
        panic!("the task must fail")
    };
    assert_eq!(failure.error.kind, ErrorKind::InvalidOutput);
    assert!(failure.error.message.contains("no-such-task"), "{}", failure.error.message);
    finished(&client, &alarm_id).await;
    assert_eq!(calls_of(&t, "alarm").len(), 1);
});

conformance!(suspend_and_cancel_reach_into_a_continuation, |store: TestStore| async move {
    let t = format!("{}-continue-life", store.prefix);
    let client = store.client(register).await;
    let handle = client.run_no_wait(client.sign(route), msg(&t, 50)).await.unwrap();
    entered(&t, 1).await;
    handle.suspend().await.unwrap();
    gate(&t).release.add_permits(1);
    let tree = handle.tree().await.unwrap();
    let continuation = &tree.children[0];
    let second = continuation.state.children[1].clone();
    while client.status(&continuation.state.children[0]).await.unwrap().status != Status::Done {
        tokio::task::yield_now().await;
    }
    assert_eq!(client.status(&second).await.unwrap().status, Status::Suspended, "{}", tree.render());
    assert!(calls_of(&t, "add-one").is_empty());
    handle.resume().await.unwrap();
    assert_eq!(handle.result().await.unwrap(), msg(&t, 51));

    let canceled = client.run_no_wait(client.sign(route), msg(&format!("{t}-2"), 50)).await.unwrap();
    entered(&format!("{t}-2"), 1).await;
    canceled.cancel().await.unwrap();
    let tree = canceled.tree().await.unwrap();
    assert!(tree.nodes().iter().all(|n| n.status == Status::Canceled), "{}", tree.render());
});
