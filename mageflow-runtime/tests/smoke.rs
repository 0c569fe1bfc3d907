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
    let client = Mageflow::builder().redis_url("redis://127.0.0.1:6379").task(Double).task(Record).build().await.unwrap();
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
