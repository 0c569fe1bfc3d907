//! Behaviour of the `Task` impls that `#[task]` generates, and of `#[derive(TaskInput)]`.

use std::time::Duration;

use mageflow::{Backoff, ErrorKind, SignatureId, Task, TaskContext, TaskError, TaskInput, TaskOptions, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Order {
    id: u32,
    amount_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Receipt {
    order_id: u32,
    text: String,
}

/// Charges an order.
#[task]
async fn charge(order: Order) -> Result<Receipt, TaskError> {
    if order.amount_cents == 0 {
        return Err(TaskError::non_retryable("nothing to charge"));
    }
    Ok(Receipt { order_id: order.id, text: format!("charged {}", order.amount_cents) })
}

#[task(retries = 3, timeout = "30s", backoff = "500ms", backoff_factor = 1.5, max_backoff = "2m")]
async fn send_receipt(receipt: Receipt) -> Result<String, TaskError> {
    Ok(format!("sent {}", receipt.text))
}

#[task(name = "parse-amount", retries = 1)]
async fn parse(text: String) -> Result<u64, std::num::ParseIntError> {
    let amount: u64 = text.trim().parse()?;
    Ok(amount * 100)
}

#[task(timeout = "1h")]
async fn attempt_info(prefix: String, ctx: TaskContext) -> Result<String, TaskError> {
    Ok(format!("{prefix} {} #{} {}", ctx.task, ctx.attempt, ctx.signature_id))
}

#[task]
async fn metadata_keys(_input: (), ctx: &mageflow::TaskContext) -> Result<Vec<String>, TaskError> {
    Ok(ctx.metadata.keys().cloned().collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TaskInput)]
#[serde(rename_all = "camelCase")]
struct Notify {
    #[mageflow(return_value)]
    previous_receipt: Receipt,
    template_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TaskInput)]
#[serde(rename_all = "camelCase")]
struct Archive {
    path: String,
    #[serde(rename = "blob")]
    #[mageflow(return_value)]
    content: String,
}

#[task]
async fn notify(input: Notify) -> Result<String, TaskError> {
    Ok(format!("{}: {}", input.template_name, input.previous_receipt.text))
}

#[task]
async fn archive(input: Archive) -> Result<usize, TaskError> {
    Ok(input.path.len() + input.content.len())
}

fn shipping_rate() -> u64 {
    7
}

mod nested {
    use mageflow::{TaskError, task};

    /// A task in a module whose body refers to its parent with `super::`, and that other modules can see.
    #[task]
    pub(crate) async fn ship(weight: u64) -> Result<u64, TaskError> {
        Ok(weight * super::shipping_rate())
    }
}

#[task]
#[cfg(any())]
async fn configured_out(input: u32) -> Result<u32, TaskError> {
    Ok(input)
}

/// Would clash with the struct `#[task]` generates, had `#[cfg(any())]` not been applied to it.
#[allow(non_camel_case_types, dead_code)]
struct configured_out;

fn context(task: &str, attempt: u32) -> TaskContext {
    let mut metadata = serde_json::Map::new();
    metadata.insert("tenant".to_owned(), serde_json::json!("acme"));
    let mut context = TaskContext::new(SignatureId::parse("sig-1").expect("a valid id"), task, attempt);
    context.metadata = metadata;
    context
}

fn order(amount_cents: u64) -> Order {
    Order { id: 7, amount_cents }
}

#[test]
fn names_default_to_the_function_name_in_kebab_case() {
    assert_eq!(charge.name(), "charge");
    assert_eq!(send_receipt.name(), "send-receipt");
    assert_eq!(attempt_info.name(), "attempt-info");
    assert_eq!(nested::ship.name(), "ship");
}

#[test]
fn an_explicit_name_wins() {
    assert_eq!(parse.name(), "parse-amount");
}

#[test]
fn options_are_the_runtime_defaults_when_none_is_given() {
    assert_eq!(charge.options(), TaskOptions::default());
    assert_eq!(charge.options(), TaskOptions { retries: 0, timeout: None, backoff: Backoff::default() });
}

#[test]
fn every_option_is_applied() {
    assert_eq!(
        send_receipt.options(),
        TaskOptions {
            retries: 3,
            timeout: Some(Duration::from_secs(30)),
            backoff: Backoff { initial: Duration::from_millis(500), factor: 1.5, max: Duration::from_secs(120) },
        }
    );
}

#[test]
fn options_not_given_keep_their_defaults() {
    assert_eq!(parse.options(), TaskOptions { retries: 1, timeout: None, backoff: Backoff::default() });
    assert_eq!(
        attempt_info.options(),
        TaskOptions { retries: 0, timeout: Some(Duration::from_secs(3600)), backoff: Backoff::default() }
    );
}

/// `#[task]` checks `backoff` against the default `max_backoff` (and the reverse) at compile time, assuming these.
#[test]
fn the_backoff_defaults_the_macro_assumes_hold() {
    assert_eq!(Backoff::default().initial, Duration::from_millis(100));
    assert_eq!(Backoff::default().max, Duration::from_secs(60));
}

#[test]
fn a_plain_input_has_no_return_field() {
    assert_eq!(charge.return_field(), None);
    assert_eq!(parse.return_field(), None);
    assert_eq!(metadata_keys.return_field(), None);
}

#[test]
fn a_task_input_names_its_serialized_return_field() {
    assert_eq!(notify.return_field(), Some("previousReceipt"));
    assert_eq!(<Notify as TaskInput>::RETURN_FIELD, "previousReceipt");
    assert_eq!(archive.return_field(), Some("blob"));
    assert_eq!(<Archive as TaskInput>::RETURN_FIELD, "blob");

    // The name is the one the JSON really uses.
    let json = serde_json::to_value(Archive { path: "a".into(), content: "b".into() }).expect("serializes");
    assert_eq!(json, serde_json::json!({ "path": "a", "blob": "b" }));
}

#[test]
fn the_return_value_type_is_the_marked_field_type() {
    use std::any::TypeId;
    assert_eq!(TypeId::of::<<Notify as TaskInput>::ReturnValue>(), TypeId::of::<Receipt>());
    assert_eq!(TypeId::of::<<Archive as TaskInput>::ReturnValue>(), TypeId::of::<String>());
}

#[tokio::test]
async fn run_produces_the_output() {
    let receipt =
        charge.run(order(250), context("charge", 1)).await.expect("charges").into_output().expect("an output");
    assert_eq!(receipt, Receipt { order_id: 7, text: "charged 250".to_owned() });

    let shipped = nested::ship.run(3, context("ship", 1)).await.expect("ships").into_output().expect("an output");
    assert_eq!(shipped, 21);

    let notified = notify
        .run(Notify { previous_receipt: receipt, template_name: "receipt".into() }, context("notify", 1))
        .await
        .expect("notifies")
        .into_output()
        .expect("an output");
    assert_eq!(notified, "receipt: charged 250");
}

#[tokio::test]
async fn a_task_error_passes_through_run_unchanged() {
    let error = charge.run(order(0), context("charge", 1)).await.expect_err("nothing to charge");
    assert_eq!(error.message(), "nothing to charge");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_std_error_converts_into_a_task_error() {
    assert_eq!(
        parse.run(" 12 ".into(), context("parse-amount", 1)).await.expect("parses").into_output().expect("an output"),
        1200
    );

    let error = parse.run("twelve".into(), context("parse-amount", 1)).await.expect_err("not a number");
    assert_eq!(error.kind(), ErrorKind::Error);
    assert_eq!(error.message(), "invalid digit found in string");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_handler_taking_the_context_sees_its_fields() {
    let text = attempt_info
        .run("run".into(), context("attempt-info", 3))
        .await
        .expect("runs")
        .into_output()
        .expect("an output");
    assert_eq!(text, "run attempt-info #3 sig-1");

    let keys =
        metadata_keys.run((), context("metadata-keys", 1)).await.expect("runs").into_output().expect("an output");
    assert_eq!(keys, ["tenant"]);
}

#[tokio::test]
async fn the_run_future_can_be_spawned() {
    let handle = tokio::spawn(send_receipt.run(Receipt { order_id: 1, text: "r".into() }, context("send-receipt", 1)));
    assert_eq!(handle.await.expect("joins").expect("sends").into_output().expect("an output"), "sent r");
}

#[tokio::test]
async fn the_function_stays_callable_as_call() {
    let receipt = charge::call(order(99)).await.expect("charges");
    assert_eq!(receipt.text, "charged 99");
    assert_eq!(parse::call("4".into()).await, Ok(400));
    assert_eq!(attempt_info::call("x".into(), context("t", 2)).await.expect("runs"), "x t #2 sig-1");
    assert_eq!(nested::ship::call(2).await.expect("ships"), 14);
}

#[test]
fn the_task_value_is_a_plain_copyable_unit_struct() {
    let copied = charge;
    fn make<T: Default>() -> T {
        T::default()
    }
    let defaulted: charge = make();
    assert_eq!(format!("{copied:?} {defaulted:?}"), "charge charge");
    fn is_task<T: Task + Copy + Default + std::fmt::Debug>(_: T) {}
    is_task(charge);
    is_task(nested::ship);
}

#[test]
fn the_input_schema_is_the_input_type_schema() {
    let schema = schemars::schema_for!(<charge as Task>::Input);
    let schema = schema.as_value();
    assert_eq!(schema["title"], "Order");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], serde_json::json!(["id", "amount_cents"]));
    let properties = schema["properties"].as_object().expect("an object schema");
    assert_eq!(properties.keys().collect::<Vec<_>>(), ["amount_cents", "id"]);

    let schema = schemars::schema_for!(<notify as Task>::Input);
    let properties = schema.as_value()["properties"].as_object().expect("an object schema");
    assert_eq!(properties.keys().collect::<Vec<_>>(), ["previousReceipt", "templateName"]);
}
