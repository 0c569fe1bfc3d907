//! `flow!`: every form of the DSL runs, and flows built by the DSL behave like the same flows built at run time
//! (from JSON, or with the client's builders): same results, same calls, same callbacks.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use mageflow::{
    Chain, Error, ErrorKind, Failure, Flow, InputFields, Mageflow, MageflowBuilder, Node, Outcome, Status, TaskContext,
    TaskError, TaskInput, flow, task,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::conformance;
use crate::support::*;

// ---- tasks ------------------------------------------------------------------------------------------------------

/// What most tasks here take and return: a test's tag and a number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, InputFields)]
pub struct Item {
    pub tag: String,
    pub n: i64,
}

fn item(tag: &str, n: i64) -> Item {
    Item { tag: tag.to_owned(), n }
}

/// The input of `dsl_label`: the previous item, a label to bind, and an optional repeat count.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Labeled {
    #[mageflow(return_value)]
    pub item: Item,
    pub label: String,
    #[serde(default)]
    pub times: u32,
}

/// The input of `dsl_alarm`: a failure report, and the tag to record it under.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Alarm {
    #[mageflow(return_value)]
    pub failure: Failure,
    pub tag: String,
}

/// The calls of one test: each task's name and input.
type Calls = Vec<(&'static str, Value)>;

static CALLS: LazyLock<Mutex<HashMap<String, Calls>>> = LazyLock::new(Default::default);

fn record(tag: &str, task: &'static str, input: &impl Serialize) {
    let input = serde_json::to_value(input).unwrap();
    CALLS.lock().unwrap().entry(tag.to_owned()).or_default().push((task, input));
}

/// Every call recorded under a tag, in order.
fn calls(tag: &str) -> Calls {
    CALLS.lock().unwrap().get(tag).cloned().unwrap_or_default()
}

/// The calls recorded under a tag, sorted (for swarms, whose members run in any order).
fn sorted_calls(tag: &str) -> Calls {
    let mut calls = calls(tag);
    calls.sort_by_key(|(task, input)| (*task, input.to_string()));
    calls
}

/// Adds one.
#[task(name = "dsl-inc")]
async fn dsl_inc(input: Item) -> Result<Item, TaskError> {
    record(&input.tag, "dsl-inc", &input);
    Ok(Item { n: input.n + 1, ..input })
}

/// Doubles.
#[task(name = "dsl-double")]
async fn dsl_double(input: Item) -> Result<Item, TaskError> {
    record(&input.tag, "dsl-double", &input);
    Ok(Item { n: input.n * 2, ..input })
}

/// Labels the previous item.
#[task(name = "dsl-label")]
async fn dsl_label(input: Labeled) -> Result<String, TaskError> {
    record(&input.item.tag, "dsl-label", &input);
    Ok(format!("{}:{}", input.label.repeat(input.times.max(1) as usize), input.item.n))
}

/// Adds the items of a pair.
#[task(name = "dsl-sum")]
async fn dsl_sum(pair: (Item, Item)) -> Result<Item, TaskError> {
    record(&pair.0.tag, "dsl-sum", &pair);
    Ok(Item { n: pair.0.n + pair.1.n, tag: pair.0.tag })
}

/// Counts the members of a pair that succeeded.
#[task(name = "dsl-count")]
async fn dsl_count(pair: (Outcome<Item>, Outcome<Item>)) -> Result<u32, TaskError> {
    let tag = match (&pair.0, &pair.1) {
        (Outcome::Ok(item), _) | (_, Outcome::Ok(item)) => item.tag.clone(),
        (Outcome::Failed(failure), _) => failure.input["tag"].as_str().unwrap_or_default().to_owned(),
    };
    record(&tag, "dsl-count", &pair);
    Ok(u32::from(pair.0.is_ok()) + u32::from(pair.1.is_ok()))
}

/// Fails for good.
#[task(name = "dsl-fail", retries = 3)]
async fn dsl_fail(input: Item) -> Result<Item, TaskError> {
    record(&input.tag, "dsl-fail", &input);
    Err(TaskError::non_retryable(format!("{} refused", input.n)))
}

/// A success callback of flows that end with an item.
#[task(name = "dsl-note")]
async fn dsl_note(input: Item, ctx: TaskContext) -> Result<(), TaskError> {
    record(&input.tag, "dsl-note", &json!({"item": input, "attempt": ctx.attempt}));
    Ok(())
}

/// An error callback, with the tag bound.
#[task(name = "dsl-alarm")]
async fn dsl_alarm(input: Alarm) -> Result<(), TaskError> {
    record(&input.tag, "dsl-alarm", &input.failure);
    Ok(())
}

fn register(builder: MageflowBuilder) -> MageflowBuilder {
    builder
        .task(dsl_inc)
        .task(dsl_double)
        .task(dsl_label)
        .task(dsl_sum)
        .task(dsl_count)
        .task(dsl_fail)
        .task(dsl_note)
        .task(dsl_alarm)
}

/// Runs a flow and returns its result as JSON, with the calls it made (sorted), then forgets the calls.
async fn run_json<I: Serialize, O: Serialize + serde::de::DeserializeOwned, K>(
    client: &Mageflow,
    flow: Flow<I, O, K>,
    input: I,
    tag: &str,
) -> (Result<Value, String>, Calls) {
    let handle = client.run_no_wait(flow, input).await.unwrap();
    let result = handle.result_within(Some(WAIT)).await;
    finished(client, handle.id()).await;
    let result = result.map(|output| serde_json::to_value(output).unwrap()).map_err(|error| error.to_string());
    let result = result.map(|mut output| {
        without_ids(&mut output);
        output
    });
    (result, take_calls(tag))
}

fn take_calls(tag: &str) -> Calls {
    let mut calls = sorted_calls(tag);
    CALLS.lock().unwrap().remove(tag);
    calls.iter_mut().for_each(|(_, input)| without_ids(input));
    calls
}

/// Drops the signature ids of failure reports, which differ from one run to the next.
fn without_ids(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.remove("signature_id");
            fields.values_mut().for_each(without_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(without_ids),
        _ => {}
    }
}

/// Runs a flow built by `flow!` and the same flow described in JSON; both must be described alike and give the
/// same result and calls. Returns the result and the calls.
async fn same_as_json<O: Serialize + serde::de::DeserializeOwned>(
    client: &Mageflow,
    typed: Flow<Item, O>,
    description: Value,
    input: Item,
) -> (Result<Value, String>, Calls) {
    assert_eq!(typed.to_json(), description, "flow! builds the flow the description describes");
    let tag = input.tag.clone();
    let dsl = run_json(client, typed, input.clone(), &tag).await;
    let runtime = client.flow_from_json(&description).await.unwrap();
    let json = run_json(client, runtime, serde_json::to_value(&input).unwrap(), &tag).await;
    assert_eq!(dsl, json, "a flow from JSON behaves like the same flow from flow!");
    dsl
}

// ---- scenarios --------------------------------------------------------------------------------------------------

conformance!(a_sequence_feeds_each_step_the_previous_output, |store: TestStore| async move {
    let t = format!("{}-dsl-seq", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, Item> = flow!(dsl_inc >> dsl_double >> dsl_inc);
    let (result, calls) =
        same_as_json(&client, typed, json!({"chain": ["dsl-inc", "dsl-double", "dsl-inc"]}), item(&t, 1)).await;
    assert_eq!(result, Ok(json!({"tag": t, "n": 5})));
    assert_eq!(
        calls,
        vec![
            ("dsl-double", json!({"tag": t, "n": 2})),
            ("dsl-inc", json!({"tag": t, "n": 1})),
            ("dsl-inc", json!({"tag": t, "n": 4})),
        ]
    );
    // one task is a flow too; the client's run gives the typed output
    let output: Item = client.run(flow!(dsl_double), item(&t, 21)).await.unwrap();
    assert_eq!(output, item(&t, 42));
});

conformance!(bound_arguments_and_return_fields, |store: TestStore| async move {
    let t = format!("{}-dsl-bind", store.prefix);
    let client = store.client(register).await;
    let label = String::from("total");
    let typed: Flow<Item, String> = flow!(dsl_inc >> dsl_label.bind(label = &label, times = 2));
    let description = json!({"chain": ["dsl-inc", {"task": "dsl-label", "bind": {"label": "total", "times": 2}}]});
    let (result, calls) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!("totaltotal:2")));
    assert_eq!(
        calls,
        vec![
            ("dsl-inc", json!({"tag": t, "n": 1})),
            ("dsl-label", json!({"item": {"tag": t, "n": 2}, "label": "total", "times": 2})),
        ]
    );
    // at the start of a flow, bound arguments override the input's fields
    let typed: Flow<Item, Item> = flow!(dsl_inc.bind(n = 10) >> dsl_double);
    let description = json!({"chain": [{"task": "dsl-inc", "bind": {"n": 10}}, "dsl-double"]});
    let (result, _) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!({"tag": t, "n": 22})));
});

conformance!(a_swarm_outputs_the_tuple_of_its_members_outputs, |store: TestStore| async move {
    let t = format!("{}-dsl-swarm", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, Item> = flow!(dsl_inc >> [dsl_inc, dsl_double] >> dsl_sum);
    let description = json!({"chain": [
        "dsl-inc",
        {"swarm": ["dsl-inc", "dsl-double"], "stop_after_failures": 1, "outputs_only": true},
        "dsl-sum",
    ]});
    let (result, calls) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!({"tag": t, "n": 7})));
    assert_eq!(
        calls,
        vec![
            ("dsl-double", json!({"tag": t, "n": 2})),
            ("dsl-inc", json!({"tag": t, "n": 1})),
            ("dsl-inc", json!({"tag": t, "n": 2})),
            ("dsl-sum", json!([{"tag": t, "n": 3}, {"tag": t, "n": 4}])),
        ]
    );
    // a swarm that starts a flow; swarms in swarms; members that are sequences; swarm options
    let typed: Flow<Item, (Item, (Item, Item))> =
        flow!([dsl_inc >> dsl_double, [dsl_inc, dsl_double; max_items = 2]; max_concurrency = 1]);
    let description = json!({
        "swarm": [
            {"chain": ["dsl-inc", "dsl-double"]},
            {"swarm": ["dsl-inc", "dsl-double"], "stop_after_failures": 1, "max_items": 2, "outputs_only": true},
        ],
        "max_concurrency": 1,
        "stop_after_failures": 1,
        "outputs_only": true,
    });
    let (result, _) = same_as_json(&client, typed, description, item(&t, 3)).await;
    assert_eq!(result, Ok(json!([{"tag": t, "n": 8}, [{"tag": t, "n": 4}, {"tag": t, "n": 6}]])));
    let output = client.run(flow!([dsl_inc, dsl_double]), item(&t, 5)).await.unwrap();
    assert_eq!(output, (item(&t, 6), item(&t, 10)), "the output is typed");
});

conformance!(a_typed_swarm_fails_at_its_first_failed_member, |store: TestStore| async move {
    let t = format!("{}-dsl-strict", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, (Item, Item)> = flow!([dsl_fail, dsl_inc], on_error = dsl_alarm.bind(tag = &t));
    let description = json!({
        "swarm": ["dsl-fail", "dsl-inc"],
        "stop_after_failures": 1,
        "outputs_only": true,
        "on_error": {"task": "dsl-alarm", "bind": {"tag": t}},
    });
    assert_eq!(typed.to_json(), description);
    let handle = client.run_no_wait(typed, item(&t, 1)).await.unwrap();
    let Err(Error::Failed(report)) = handle.result_within(Some(WAIT)).await else { panic!("the swarm fails") };
    assert_eq!(report.error.kind, ErrorKind::SwarmFailed);
    let callback = handle.status().await.unwrap().error_callbacks[0].clone();
    finished(&client, &callback).await;
    let alarms: Vec<Value> =
        calls(&t).into_iter().filter(|(task, _)| *task == "dsl-alarm").map(|(_, input)| input).collect();
    assert_eq!(alarms.len(), 1, "the error callback runs once");
    assert_eq!(alarms[0]["error"]["kind"], json!("swarm_failed"));
    assert_eq!(calls(&t).iter().filter(|(task, _)| *task == "dsl-fail").count(), 1, "not retried");
});

conformance!(a_failure_threshold_gives_outcomes, |store: TestStore| async move {
    let t = format!("{}-dsl-outcomes", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, u32> = flow!(dsl_inc >> [dsl_inc, dsl_fail; stop_after_failures = 2] >> dsl_count);
    let description =
        json!({"chain": ["dsl-inc", {"swarm": ["dsl-inc", "dsl-fail"], "stop_after_failures": 2}, "dsl-count"]});
    let (result, calls) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!(1)));
    let counted = calls.iter().find(|(task, _)| *task == "dsl-count").map(|(_, input)| input.clone()).unwrap();
    assert_eq!(counted[0], json!({"ok": {"tag": t, "n": 3}}));
    assert_eq!(counted[1]["failed"]["task"], json!("dsl-fail"));
    assert_eq!(counted[1]["failed"]["input"], json!({"tag": t, "n": 2}));
    assert_eq!(counted[1]["failed"]["error"]["message"], json!("2 refused"));

    let (first, second) = client.run(flow!([dsl_inc, dsl_fail; stop_after_failures = 2]), item(&t, 1)).await.unwrap();
    assert_eq!(first, Outcome::Ok(item(&t, 2)));
    let Outcome::Failed(failure) = second else { panic!("the second member failed") };
    assert_eq!((failure.task.as_str(), failure.error.kind), ("dsl-fail", ErrorKind::Error));
});

conformance!(groups_braces_and_variables_are_nodes, |store: TestStore| async move {
    let t = format!("{}-dsl-groups", store.prefix);
    let client = store.client(register).await;
    let tail = flow!(dsl_double >> dsl_inc);
    let typed: Flow<Item, Item> = flow!((dsl_inc >> dsl_inc) >> { tail });
    let description = json!({"chain": [{"chain": ["dsl-inc", "dsl-inc"]}, {"chain": ["dsl-double", "dsl-inc"]}]});
    let (result, calls) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!({"tag": t, "n": 7})));
    assert_eq!(calls.len(), 4);

    // the client's builders make the same flow
    let built = client.chain([
        Node::from(client.chain([client.sign(dsl_inc), client.sign(dsl_inc)])),
        Node::from(client.chain([client.sign(dsl_double), client.sign(dsl_inc)])),
    ]);
    let built: Chain<Item, Item> = built.assume_types();
    assert_eq!(
        built.to_json(),
        json!({"chain": [{"chain": ["dsl-inc", "dsl-inc"]}, {"chain": ["dsl-double", "dsl-inc"]}]})
    );
    let (result, built_calls) = run_json(&client, built, item(&t, 1), &t).await;
    assert_eq!((result, built_calls), (Ok(json!({"tag": t, "n": 7})), calls));

    // a flow in a variable, as a path; a task by a longer path
    let head = flow!(dsl_inc >> self::dsl_inc);
    let output: Item = client.run(flow!(head >> crate::dsl::dsl_double), item(&t, 1)).await.unwrap();
    assert_eq!(output, item(&t, 6));

    // a signature and a task in braces
    let output: Item = client.run(flow!({ client.sign(dsl_inc) } >> { dsl_double }), item(&t, 1)).await.unwrap();
    assert_eq!(output, item(&t, 4));
    take_calls(&t);
});

conformance!(callbacks_and_names, |store: TestStore| async move {
    let t = format!("{}-dsl-callbacks", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, Item> =
        flow!(dsl_inc >> dsl_double, name = "dsl-etl", on_success = dsl_note, on_error = dsl_alarm.bind(tag = &t),);
    let description = json!({
        "chain": ["dsl-inc", "dsl-double"],
        "name": "dsl-etl",
        "on_success": "dsl-note",
        "on_error": {"task": "dsl-alarm", "bind": {"tag": t}},
    });
    assert_eq!(typed.to_json(), description);
    for flow in [typed, client.flow_from_json(&description).await.unwrap().assume_types()] {
        let handle = client.run_no_wait(flow, item(&t, 1)).await.unwrap();
        assert_eq!(handle.result_within(Some(WAIT)).await.unwrap(), item(&t, 4));
        let state = handle.status().await.unwrap();
        assert_eq!(state.name, "dsl-etl");
        assert_eq!(finished(&client, &state.success_callbacks[0]).await.status, Status::Done);
        assert_eq!(client.status(&state.error_callbacks[0]).await.unwrap().status, Status::Canceled);
        assert_eq!(
            take_calls(&t),
            vec![
                ("dsl-double", json!({"tag": t, "n": 2})),
                ("dsl-inc", json!({"tag": t, "n": 1})),
                ("dsl-note", json!({"item": {"tag": t, "n": 4}, "attempt": 1})),
            ],
            "the success callback runs once, with the flow's output; the error callback never"
        );
    }
});

conformance!(an_error_callback_receives_the_failure_report, |store: TestStore| async move {
    let t = format!("{}-dsl-error", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, Item> =
        flow!(dsl_inc >> dsl_fail, on_success = dsl_note, on_error = dsl_alarm.bind(tag = &t));
    let description = json!({
        "chain": ["dsl-inc", "dsl-fail"],
        "on_success": "dsl-note",
        "on_error": {"task": "dsl-alarm", "bind": {"tag": t}},
    });
    assert_eq!(typed.to_json(), description);
    for flow in [typed, client.flow_from_json(&description).await.unwrap().assume_types()] {
        let handle = client.run_no_wait(flow, item(&t, 1)).await.unwrap();
        let Err(Error::Failed(report)) = handle.result_within(Some(WAIT)).await else { panic!("the flow fails") };
        assert_eq!(report.task, "dsl-fail");
        let state = handle.status().await.unwrap();
        finished(&client, &state.error_callbacks[0]).await;
        assert_eq!(client.status(&state.success_callbacks[0]).await.unwrap().status, Status::Canceled);
        let calls = take_calls(&t);
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls[0].0, "dsl-alarm");
        assert_eq!(
            calls[0].1,
            json!({
                "task": "dsl-fail",
                "input": {"tag": t, "n": 2},
                "error": {"kind": "error", "message": "2 refused", "attempt": 1},
            }),
            "the failed task's report (its id left out)"
        );
        assert_eq!(calls[1..], [("dsl-fail", json!({"tag": t, "n": 2})), ("dsl-inc", json!({"tag": t, "n": 1}))]);
    }
});

conformance!(every_delimiter_builds_the_same_flow, |store: TestStore| async move {
    let t = format!("{}-dsl-delimiters", store.prefix);
    let client = store.client(register).await;
    let flows: [Flow<Item, Item>; 3] =
        [flow!(dsl_inc >> dsl_double), flow![dsl_inc >> dsl_double], flow! { dsl_inc >> dsl_double }];
    for flow in flows {
        assert_eq!(flow.to_json(), json!({"chain": ["dsl-inc", "dsl-double"]}));
        assert_eq!(client.run(flow, item(&t, 2)).await.unwrap(), item(&t, 6));
    }
    // a created flow starts later
    let handle = client.create(flow!(dsl_inc >> dsl_double)).await.unwrap();
    assert_eq!(handle.status().await.unwrap().status, Status::Pending);
    handle.start(item(&t, 0)).await.unwrap();
    assert_eq!(handle.result_within(Some(WAIT)).await.unwrap(), item(&t, 2));
    take_calls(&t);
});

conformance!(run_time_flows_are_checked_before_anything_is_stored, |store: TestStore| async move {
    let t = format!("{}-dsl-checks", store.prefix);
    let client = store.client(register).await;
    let keys = || async { mageflow::testing::stored_signatures(&client).await.unwrap().len() };
    let before = keys().await;
    let refused = [
        (json!({"chain": ["dsl-inc", "dsl-missing"]}), "unknown task `dsl-missing`"),
        (
            json!({"chain": ["dsl-inc", {"task": "dsl-label", "bind": {"lable": "x"}}]}),
            "the input for task `dsl-label` does not fit its schema: the bound argument `lable` is not a field of the \
             task's input",
        ),
        (
            json!({"chain": ["dsl-inc", {"task": "dsl-label", "bind": {"times": "twice"}}]}),
            "the input for task `dsl-label` does not fit its schema: the bound argument `times`: \"twice\" is not of \
             type \"integer\"",
        ),
        (
            json!({"chain": ["dsl-inc"]}),
            "invalid flow: chain `chain:dsl-inc` has 1 step(s); a chain needs at least two",
        ),
        (
            json!({"swarm": ["dsl-inc"], "stop_after_failures": 0}),
            "invalid flow: swarm `swarm`: stop_after_failures must be at least 1",
        ),
        (
            json!({"chain": ["dsl-inc", {"swarm": []}]}),
            "invalid flow: at `flow.chain[1].swarm`: the swarm's items cannot be empty",
        ),
    ];
    for (description, message) in refused {
        let error = client.flow_from_json(&description).await.unwrap_err().to_string();
        assert!(error.starts_with(message), "{description}: {error}");
    }
    // the input is checked against the first task's schema when the flow runs
    let flow = client.flow_from_json(&json!({"chain": ["dsl-inc", "dsl-double"]})).await.unwrap();
    let error = client.run_no_wait(flow, json!({"tag": t, "n": "one"})).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { ref task, .. } if task == "dsl-inc"), "{error}");
    assert_eq!(keys().await, before, "nothing was stored");
    assert!(calls(&t).is_empty());
});

conformance!(a_swarm_of_flows_known_while_running_lists_their_outputs, |store: TestStore| async move {
    let t = format!("{}-dsl-many", store.prefix);
    let client = store.client(register).await;
    let members = (1..=3).map(|n| flow!(dsl_inc.bind(n = n * 10)));
    let typed: Flow<Item, Vec<Item>> = flow!(dsl_double >> { Flow::swarm(members).max_concurrency(2) });
    let description = json!({"chain": [
        "dsl-double",
        {
            "swarm": [
                {"task": "dsl-inc", "bind": {"n": 10}},
                {"task": "dsl-inc", "bind": {"n": 20}},
                {"task": "dsl-inc", "bind": {"n": 30}},
            ],
            "max_concurrency": 2,
            "stop_after_failures": 1,
            "outputs_only": true,
        },
    ]});
    let (result, calls) = same_as_json(&client, typed, description, item(&t, 1)).await;
    assert_eq!(result, Ok(json!([{"tag": t, "n": 11}, {"tag": t, "n": 21}, {"tag": t, "n": 31}])));
    assert_eq!(calls.len(), 4);
});

conformance!(callbacks_are_sequences_too, |store: TestStore| async move {
    let t = format!("{}-dsl-callback-chain", store.prefix);
    let client = store.client(register).await;
    let typed: Flow<Item, Item> = flow!(dsl_inc, on_success = dsl_double >> [dsl_note, dsl_inc]);
    let description = json!({
        "task": "dsl-inc",
        "on_success": {"chain": [
            "dsl-double",
            {"swarm": ["dsl-note", "dsl-inc"], "stop_after_failures": 1, "outputs_only": true},
        ]},
    });
    assert_eq!(typed.to_json(), description);
    for flow in [typed, client.flow_from_json(&description).await.unwrap().assume_types()] {
        let handle = client.run_no_wait(flow, item(&t, 1)).await.unwrap();
        assert_eq!(handle.result_within(Some(WAIT)).await.unwrap(), item(&t, 2));
        let callback = handle.status().await.unwrap().success_callbacks[0].clone();
        let state = finished(&client, &callback).await;
        assert_eq!(state.result, Some(json!([null, {"tag": t, "n": 5}])), "the callback chain's output");
        assert_eq!(
            take_calls(&t),
            vec![
                ("dsl-double", json!({"tag": t, "n": 2})),
                ("dsl-inc", json!({"tag": t, "n": 1})),
                ("dsl-inc", json!({"tag": t, "n": 4})),
                ("dsl-note", json!({"item": {"tag": t, "n": 4}, "attempt": 1})),
            ]
        );
    }
});
