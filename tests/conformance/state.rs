//! A flow's tree for progress reporting, and the lifetime of its keys.

use mageflow::{Kind, Node, Status};
use serde_json::json;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(a_finished_flow_reports_its_tree_and_leaves_no_key_without_ttl, |store: TestStore| async move {
    let t = format!("{}-tree", store.prefix);
    let client = store.client(|b| register(b).ttl(TestStore::ttl())).await;
    let inner_chain = client.chain([client.sign(add_one), client.sign(double)]).name("inner");
    let swarm = client
        .swarm(vec![Node::from(inner_chain), client.sign(overlap).arg("n", -1).into()])
        .name("fan-out")
        .on_error(client.sign(alarm).arg("tag", &t));
    let flow = client
        .chain(vec![Node::from(client.sign(add_one)), swarm.into(), client.sign(collect).arg("tag", &t).into()])
        .name("etl")
        .on_error(client.sign(alarm).arg("tag", &t));
    let handle = client.run_no_wait(flow, json!({"tag": t, "n": 1})).await.unwrap();
    assert_eq!(handle.wait(Some(WAIT)).await.unwrap().result, Some(json!(2)), "collect counted two outcomes");

    let tree = handle.tree().await.unwrap();
    let rendered = tree.render();
    assert_eq!(tree.state.kind, Kind::Chain);
    assert_eq!(tree.state.name, "etl");
    assert_eq!(tree.children.len(), 3);
    let fan_out = &tree.children[1];
    assert_eq!((fan_out.state.kind, fan_out.state.status), (Kind::Swarm, Status::Done), "{rendered}");
    assert_eq!(fan_out.children[0].state.result, Some(json!({"tag": t, "n": 6})), "{rendered}");
    assert_eq!(fan_out.children[1].state.status, Status::Failed);
    assert_eq!(fan_out.children[1].state.error.as_ref().unwrap().error.message, "negative");
    let progress = fan_out.state.swarm.clone().unwrap();
    assert_eq!((progress.items, progress.succeeded, progress.failed, progress.running), (2, 1, 1, 0));
    assert!(rendered.contains("swarm `fan-out`: done (2/2 done, 1 failed, 0 running)"), "{rendered}");
    assert_eq!(tree.nodes().len(), 10, "{rendered}");
    assert_eq!(tree.state.status, Status::Done);
    assert_eq!(tree.error_callbacks[0].state.status, Status::Canceled, "an unused error callback is dropped");
    assert!(calls_of(&t, "alarm").is_empty());

    let keys = client.store().scan(&format!("{}:", client.key_prefix())).await.unwrap();
    assert!(keys.iter().any(|k| k.key.contains(":g:")));
    assert_done_ttls(&keys);
});
