//! Where flows are stored: a flow built in one go is one group (one slot of a Redis Cluster); nodes that join a flow
//! later from another group are stored with it and found by their id through a pointer; batches that span groups
//! are applied part by part after every part was checked; the flow index lists root flows by status, name and
//! creation, a page at a time; stuck runs are listed.

use std::collections::BTreeSet;
use std::time::Duration;

use mageflow::testing::{Recorder, stored_signatures};
use mageflow::{Error, FlowFilter, Mageflow, SignatureId, Status, StuckReason};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

fn group(id: &SignatureId) -> &str {
    &id.as_str()[..10]
}

/// Waits out the span in which a process gives new ids one group, so that the next id is in another group. This
/// sets up the scenario; it waits for no result.
fn next_group() {
    std::thread::sleep(Duration::from_millis(110));
}

/// The stored signatures' ids, as text.
async fn stored(client: &Mageflow) -> BTreeSet<String> {
    stored_signatures(client).await.unwrap().iter().map(ToString::to_string).collect()
}

conformance!(items_from_another_group_join_their_swarm_and_are_found_by_id, |store: TestStore| async move {
    let t = format!("{}-foreign", store.prefix);
    let client = store.client(register).await;
    let swarm = client.swarm([client.sign(held)]).open().arg("tag", &t);
    let handle = client.run_no_wait(swarm, json!({"n": 1})).await.unwrap();
    entered(&t, 1).await;
    next_group();
    let late = client.sign(add_one);
    let late_id = late.id().clone();
    let doomed = client.sign(held);
    let doomed_id = doomed.id().clone();
    assert_ne!(group(&late_id), group(handle.id()), "the items are made in another group");
    handle.add([late, doomed]).await.unwrap();

    // stored with their swarm, and found by their own id
    let late_state = finished(&client, &late_id).await;
    assert_eq!((late_state.status, late_state.parent.as_ref()), (Status::Done, Some(handle.id())));
    let keys = client.store().scan(&format!("{}:", client.key_prefix())).await.unwrap();
    let pointers = keys.iter().filter(|key| key.key.contains(":ptr:")).count();
    assert_eq!(pointers, 2, "one pointer per item stored away from its id's group: {keys:?}");
    let groups = keys.iter().filter(|key| key.key.contains(":g:")).count();
    assert_eq!(groups, 1, "the flow is one group: {keys:?}");
    entered(&t, 2).await;
    client.cancel(&doomed_id).await.unwrap();
    assert_eq!(client.status(&doomed_id).await.unwrap().status, Status::Canceled);
    handle.close().await.unwrap();
    gate(&t).release.add_permits(1);
    let outcomes = handle.result().await.unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[1].is_ok() && !outcomes[2].is_ok(), "{outcomes:?}");
    assert_eq!(calls_of(&t, "add-one").len(), 1);
});

conformance!(a_batch_that_spans_groups_applies_every_part_or_none, |store: TestStore| async move {
    let t = format!("{}-parts", store.prefix);
    let client = store.client(register).await;
    let earlier = client.create(client.sign(add_one)).await.unwrap();
    let closed = client.create(client.swarm([client.sign(add_one)])).await.unwrap();
    next_group();

    // refused in the part of the earlier group: nothing of the later group's part is stored either
    let before = stored(&client).await;
    let mut batch = client.batch();
    batch.run(client.sign(double), msg(&t, 1));
    batch.add(closed.id(), [client.sign(add_one)]);
    let error = batch.commit().await.unwrap_err();
    assert!(matches!(&error, Error::SwarmClosed(id) if id == closed.id()), "{error}");
    assert_eq!(stored(&client).await, before, "a refused batch writes nothing, in any group");

    // accepted: each part applied
    let mut batch = client.batch();
    batch.bind(earlier.id(), json!({"n": 41}));
    let later = batch.run(client.sign(double), msg(&t, 2));
    assert_ne!(group(later.id()), group(earlier.id()));
    batch.commit().await.unwrap();
    assert_eq!(later.result().await.unwrap(), msg(&t, 4));
    earlier.start(msg(&t, 0)).await.unwrap();
    assert_eq!(earlier.result().await.unwrap(), msg(&t, 42), "the bound argument of the earlier group's part");
});

conformance!(the_flow_index_lists_root_flows_by_status_name_and_page, |store: TestStore| async move {
    let t = format!("{}-index", store.prefix);
    let client = store.client(register).await;
    let mut done = Vec::new();
    for n in 0..3 {
        let handle = client.run_no_wait(
            client.chain([client.sign(add_one), client.sign(double)]).name("pair"),
            json!({"tag": t, "n": n}),
        );
        done.push(handle.await.unwrap());
        next_group();
    }
    let waiting = client.create(client.sign(add_one)).await.unwrap();
    let failing = client.run_no_wait(client.sign(refuse), msg(&t, 0)).await.unwrap();
    for handle in &done {
        finished(&client, handle.id()).await;
    }
    finished(&client, failing.id()).await;

    let all = client.flows(&FlowFilter::new()).await.unwrap();
    let ids: Vec<&SignatureId> = all.flows.iter().map(|flow| &flow.id).collect();
    assert_eq!(ids.len(), 5, "root flows only: {all:?}");
    // newest first (the last two may share a millisecond, and then come in either order)
    assert_eq!(ids[..2].iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from([failing.id(), waiting.id()]));
    if all.flows[0].created_at != all.flows[1].created_at {
        assert_eq!(ids[0], failing.id());
    }
    assert_eq!(ids[2..], [done[2].id(), done[1].id(), done[0].id()]);
    assert!(all.next.is_none());
    assert_eq!(all.flows[4].name, "pair");
    let summary = |id: &SignatureId| all.flows.iter().find(|flow| &flow.id == id).unwrap();
    assert!(summary(done[0].id()).finished_at.is_some() && summary(failing.id()).finished_at.is_some());
    assert!(summary(waiting.id()).finished_at.is_none(), "a stored flow that never ran has not finished");

    let failed = client.flows(&FlowFilter::new().status(Status::Failed)).await.unwrap();
    assert_eq!(failed.flows.iter().map(|flow| &flow.id).collect::<Vec<_>>(), [failing.id()]);
    let open = client.flows(&FlowFilter::new().status(Status::Pending).status(Status::Active)).await.unwrap();
    assert_eq!(open.flows.iter().map(|flow| &flow.id).collect::<Vec<_>>(), [waiting.id()]);
    let pairs = client.flows(&FlowFilter::new().name("pair").status(Status::Done)).await.unwrap();
    assert_eq!(pairs.flows.len(), 3);
    let future = client.flows(&FlowFilter::new().younger_than(Duration::ZERO)).await.unwrap();
    assert!(future.flows.is_empty(), "{future:?}");
    let past = client.flows(&FlowFilter::new().older_than(Duration::ZERO)).await.unwrap();
    assert_eq!(past.flows.len(), 5);
    let oldest = summary(done[0].id()).created_at;
    let before_oldest = client.flows(&FlowFilter::new().created_before(oldest)).await.unwrap();
    assert!(before_oldest.flows.is_empty(), "{before_oldest:?}");
    let around_oldest = FlowFilter::new().created_after(oldest).created_before(oldest + Duration::from_millis(1));
    let from_oldest = client.flows(&around_oldest).await.unwrap();
    assert_eq!(from_oldest.flows.iter().map(|flow| &flow.id).collect::<Vec<_>>(), [done[0].id()]);

    // pages of two: every flow once
    let mut seen = Vec::new();
    let mut filter = FlowFilter::new().limit(2);
    loop {
        let page = client.flows(&filter).await.unwrap();
        assert!(page.flows.len() <= 2);
        seen.extend(page.flows.into_iter().map(|flow| flow.id));
        match page.next {
            Some(cursor) => {
                let text = cursor.to_string();
                filter = FlowFilter::new().limit(2).after(text.parse().unwrap());
            }
            None => break,
        }
    }
    assert_eq!(seen.iter().collect::<Vec<_>>(), ids, "pages of two give the same flows in the same order");
});

conformance!(local_backend: runs_that_never_began_are_listed_as_stuck, |store: TestStore| async move {
    let t = format!("{}-stuck", store.prefix);
    let recorder = Recorder::new();
    let client = register(store.builder().backend(recorder.clone())).build().await.unwrap();
    let handle = client.run_no_wait(client.sign(add_one), msg(&t, 1)).await.unwrap();
    assert_eq!(recorder.dispatches().len(), 1, "dispatched to a backend that runs nothing");
    let stuck = client.stuck(Duration::ZERO).await.unwrap();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!((&stuck[0].id, stuck[0].reason), (handle.id(), StuckReason::NeverBegan));
    assert!(client.stuck(Duration::from_secs(3600)).await.unwrap().is_empty(), "not stuck for an hour");
    assert_eq!(client.recover(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(recorder.dispatches().len(), 2, "the sweep dispatches it again");
});
