use std::time::Duration;

use mageflow_runtime::*;
use serde_json::{Value, json};

struct Double;
impl Task for Double {
    type Input = u64;
    type Output = u64;
    fn name(&self) -> &'static str {
        "double"
    }
    fn run(&self, input: u64, _ctx: TaskContext) -> BoxFuture<'static, Result<u64, TaskError>> {
        Box::pin(async move { if input == 13 { Err(TaskError::new("unlucky")) } else { Ok(input * 2) } })
    }
}

struct Record;
impl Task for Record {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &'static str {
        "record"
    }
    fn run(&self, input: Value, _ctx: TaskContext) -> BoxFuture<'static, Result<Value, TaskError>> {
        Box::pin(async move { Ok(input) })
    }
}

#[tokio::test]
async fn smoke() {
    let client = Mageflow::builder().memory_store().task(Double).task(Record).build().await.unwrap();
    let ok = client.sign_name("record");
    let err = client.sign_name("record");
    let (ok_id, err_id) = (ok.id().clone(), err.id().clone());
    let out = client.sign(Double).on_success(ok).on_error(err).run(21).await.unwrap();
    assert_eq!(out, 42);
    let cb = client.wait(&ok_id, Some(Duration::from_secs(5))).await.unwrap();
    assert_eq!(cb.result, Some(json!(42)));
    let e = client.status(&err_id).await.unwrap();
    assert_eq!(e.status, Status::Canceled);

    let err = client.sign_name("record");
    let err_id = err.id().clone();
    let failed = client.sign(Double).on_error(err).run(13).await.unwrap_err();
    println!("{failed}");
    let cb = client.wait(&err_id, Some(Duration::from_secs(5))).await.unwrap();
    println!("{:?}", cb.result);
}

#[tokio::test]
async fn chain_and_swarm() {
    let client = Mageflow::builder().memory_store().task(Double).task(Record).build().await.unwrap();
    let out: Value = client
        .chain([client.sign_name("double"), client.sign_name("double"), client.sign_name("double")])
        .run(json!(1))
        .await
        .unwrap();
    assert_eq!(out, json!(8));
    let out: Vec<Outcome> = client
        .swarm([client.sign_name("double"), client.sign_name("double"), client.sign_name("double")])
        .max_concurrency(2)
        .run(json!(5))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(out).unwrap(), json!([{"ok": 10}, {"ok": 10}, {"ok": 10}]));
    let chain = client.chain(vec![
        Node::from(client.sign_name("double")),
        client.swarm([client.sign_name("record"), client.sign_name("record")]).into(),
        client.sign_name("record").into(),
    ]);
    let out: Value = chain.run(json!(4)).await.unwrap();
    assert_eq!(out, json!([{"ok": 8}, {"ok": 8}]));
}
