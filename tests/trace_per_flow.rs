//! One trace per flow (feature `opentelemetry`): the W3C trace context travels with every run, so that each run's
//! span is a child of the span that dispatched it. Spans go through `tracing-opentelemetry` to an SDK tracer
//! provider with an in-memory exporter; the flow `start >> [a, b, c] >> last` with a success callback runs on the
//! local backend (on Redis and on the memory store), on Hatchet (a fake engine, two workers) and on apalis, and the
//! test checks every run span's parent. A run the recovery sweep dispatches again keeps its parent.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use mageflow::{Flow, MageflowBuilder, TaskContext, TaskError, flow, task};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use support::{CountingBackend, TestStore, WAIT};

// ---- telemetry: one subscriber for the whole test binary ---------------------------------------------------------

/// The in-memory exporter, which wakes waiters after each export.
#[derive(Debug)]
struct Exporter {
    spans: InMemorySpanExporter,
}

/// Notified after every export.
static EXPORTED: Notify = Notify::const_new();

impl SpanExporter for Exporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.spans.export(batch).await;
        EXPORTED.notify_waiters();
        result
    }
}

struct Telemetry {
    provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
}

/// Installs, once, a global subscriber whose OpenTelemetry layer exports every span as it closes (simple processor).
static TELEMETRY: LazyLock<Telemetry> = LazyLock::new(|| {
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(Exporter { spans: spans.clone() }).build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("mageflow-tests"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("no other global subscriber in this test binary");
    Telemetry { provider, spans }
});

/// The exported spans of one trace.
fn spans_of(trace: TraceId) -> Vec<SpanData> {
    let telemetry = &*TELEMETRY;
    telemetry.provider.force_flush().expect("flush");
    let spans = telemetry.spans.get_finished_spans().expect("the exported spans");
    spans.into_iter().filter(|span| span.span_context.trace_id() == trace).collect()
}

/// Waits until `count` spans of the trace were exported (they are exported as they close), then returns them.
async fn await_spans(trace: TraceId, count: usize) -> Vec<SpanData> {
    tokio::time::timeout(WAIT, async {
        loop {
            let exported = EXPORTED.notified();
            let spans = spans_of(trace);
            if spans.len() >= count {
                return spans;
            }
            exported.await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        let names: Vec<_> = spans_of(trace).iter().map(|s| format!("{} {}", s.name, task_of(s))).collect();
        panic!("{count} spans of the trace were not exported; it holds {names:?}")
    })
}

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string()).unwrap_or_default()
}

fn task_of(span: &SpanData) -> String {
    attribute(span, "task")
}

// ---- tasks ------------------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Item {
    tag: String,
    n: i64,
}

/// The runs of one test: (task, signature id).
type Ran = Vec<(&'static str, String)>;

/// The runs of each test, by tag.
static RAN: LazyLock<Mutex<HashMap<String, Ran>>> = LazyLock::new(Default::default);

fn ran(tag: &str, task: &'static str, ctx: &TaskContext) {
    RAN.lock().unwrap().entry(tag.to_owned()).or_default().push((task, ctx.signature_id.to_string()));
}

/// The first step.
#[task(name = "trace-start")]
async fn trace_start(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    ran(&input.tag, "trace-start", &ctx);
    Ok(Item { n: input.n + 1, ..input })
}

/// A swarm member.
#[task(name = "trace-a")]
async fn trace_a(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    ran(&input.tag, "trace-a", &ctx);
    Ok(Item { n: input.n + 10, ..input })
}

/// A swarm member.
#[task(name = "trace-b")]
async fn trace_b(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    ran(&input.tag, "trace-b", &ctx);
    Ok(Item { n: input.n + 20, ..input })
}

/// A swarm member.
#[task(name = "trace-c")]
async fn trace_c(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    ran(&input.tag, "trace-c", &ctx);
    Ok(Item { n: input.n + 30, ..input })
}

/// The step after the swarm.
#[task(name = "trace-last")]
async fn trace_last(items: (Item, Item, Item), ctx: TaskContext) -> Result<Item, TaskError> {
    ran(&items.0.tag, "trace-last", &ctx);
    Ok(Item { n: items.0.n + items.1.n + items.2.n, tag: items.0.tag })
}

/// The flow's success callback.
#[task(name = "trace-done")]
async fn trace_done(item: Item, ctx: TaskContext) -> Result<(), TaskError> {
    ran(&item.tag, "trace-done", &ctx);
    Ok(())
}

fn register(builder: MageflowBuilder) -> MageflowBuilder {
    builder.task(trace_start).task(trace_a).task(trace_b).task(trace_c).task(trace_last).task(trace_done)
}

/// The trace and span ids of a span of ours.
fn ids_of(span: &tracing::Span) -> (TraceId, SpanId) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    assert!(span_context.is_valid(), "the OpenTelemetry layer records the test's spans");
    (span_context.trace_id(), span_context.span_id())
}

// ---- the scenario -----------------------------------------------------------------------------------------------

/// Runs `start >> [a, b, c] >> last` with a success callback under a span of the caller, and checks that the whole
/// flow is one trace in which each run's span is the child of the span that dispatched it. `per_run` is how many
/// other spans each run adds to the trace (Hatchet's `hatchet_step`, a sibling of the run's span).
async fn a_flow_is_one_trace(store: TestStore, per_run: &[&str]) {
    let _ = &*TELEMETRY;
    let tag = store.prefix.clone();
    let client = store.client(register).await;
    let caller = tracing::info_span!("caller", tag = %tag);
    let (trace, caller_id) = ids_of(&caller);
    let flow: Flow<Item, Item> =
        flow!(trace_start >> [trace_a, trace_b, trace_c] >> trace_last, on_success = trace_done);
    let handle = client.run_no_wait(flow, Item { tag: tag.clone(), n: 0 }).instrument(caller.clone()).await.unwrap();
    drop(caller);
    let output = handle.result_within(Some(WAIT)).await.unwrap();
    assert_eq!(output.n, 11 + 21 + 31);

    // the caller's span, a span per run, and the backend's own spans per run
    let spans = await_spans(trace, 1 + 6 * (1 + per_run.len())).await;
    let runs: Vec<&SpanData> = spans.iter().filter(|span| span.name == "mageflow.run").collect();
    let by_task: BTreeMap<String, Vec<&SpanData>> = runs.iter().fold(BTreeMap::new(), |mut map, span| {
        map.entry(task_of(span)).or_default().push(*span);
        map
    });
    let counts: BTreeMap<&str, usize> = by_task.iter().map(|(task, spans)| (task.as_str(), spans.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("trace-a", 1),
            ("trace-b", 1),
            ("trace-c", 1),
            ("trace-done", 1),
            ("trace-last", 1),
            ("trace-start", 1),
        ]),
        "one run span per task run, all in the caller's trace"
    );
    let one = |task: &str| by_task[task][0];
    let id = |span: &SpanData| span.span_context.span_id();
    let start = one("trace-start");
    assert_eq!(start.parent_span_id, caller_id, "the first run is a child of the caller's span");
    for member in ["trace-a", "trace-b", "trace-c"] {
        assert_eq!(one(member).parent_span_id, id(start), "{member} was dispatched by the first step's outcome");
    }
    let members: Vec<SpanId> = ["trace-a", "trace-b", "trace-c"].iter().map(|m| id(one(m))).collect();
    let last = one("trace-last");
    assert!(
        members.contains(&last.parent_span_id),
        "the step after the swarm is a child of the member whose outcome completed the swarm"
    );
    assert_eq!(one("trace-done").parent_span_id, id(last), "the callback was fired by the last step's outcome");

    // every run of the flow is in this trace, exactly once
    let ran = RAN.lock().unwrap().remove(&tag).unwrap_or_default();
    assert_eq!(ran.len(), 6, "{ran:?}");
    for (task, signature) in &ran {
        let spans: Vec<_> = runs.iter().filter(|span| attribute(span, "signature") == *signature).collect();
        assert_eq!(spans.len(), 1, "the run of {task} ({signature}) has one span in the trace");
    }
    let all_runs = TELEMETRY.spans.get_finished_spans().unwrap();
    for (task, signature) in &ran {
        let elsewhere = all_runs
            .iter()
            .filter(|span| span.name == "mageflow.run" && attribute(span, "signature") == *signature)
            .filter(|span| span.span_context.trace_id() != trace)
            .count();
        assert_eq!(elsewhere, 0, "no span of the run of {task} is outside the flow's trace");
    }

    // what else the trace holds: the caller's span, and the backend's own span per run, next to the run's
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    for span in spans.iter().filter(|span| span.name != "mageflow.run") {
        *others.entry(span.name.to_string()).or_default() += 1;
    }
    let mut expected = BTreeMap::from([("caller".to_owned(), 1)]);
    for name in per_run {
        expected.insert((*name).to_owned(), 6);
    }
    assert_eq!(others, expected);
    client.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_is_one_trace_on_the_local_backend() {
    a_flow_is_one_trace(TestStore::new(support::StoreKind::Redis), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_is_one_trace_on_the_memory_store() {
    a_flow_is_one_trace(TestStore::new(support::StoreKind::Memory), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_is_one_trace_on_hatchet() {
    a_flow_is_one_trace(TestStore::hatchet().await, &["hatchet_step"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_is_one_trace_on_apalis() {
    a_flow_is_one_trace(TestStore::apalis(), &[]).await;
}

/// A run the recovery sweep dispatches again keeps the trace context it was first dispatched with: its span is a
/// child of the caller that started it, not of the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recovered_run_keeps_its_trace() {
    let _ = &*TELEMETRY;
    let store = TestStore::new(support::StoreKind::Redis);
    let tag = store.prefix.clone();
    let backend = CountingBackend::default();
    backend.lose.lock().unwrap().push("trace-a".to_owned());
    let client = store.client(|builder| register(builder).backend(backend.clone())).await;
    let caller = tracing::info_span!("caller", tag = %tag);
    let (trace, caller_id) = ids_of(&caller);
    let flow: Flow<Item, Item> = flow!(trace_a);
    let handle = client.run_no_wait(flow, Item { tag: tag.clone(), n: 0 }).instrument(caller.clone()).await.unwrap();
    drop(caller);
    assert_eq!(backend.dispatched_tasks(), ["trace-a"], "the first dispatch was lost");
    backend.lose.lock().unwrap().clear();
    let sweep = tracing::info_span!("sweep");
    let (sweep_trace, _) = ids_of(&sweep);
    assert_eq!(client.recover(Duration::ZERO).instrument(sweep.clone()).await.unwrap(), 1);
    drop(sweep);
    assert_eq!(handle.result_within(Some(WAIT)).await.unwrap().n, 10);
    let spans = await_spans(trace, 2).await;
    let runs: Vec<&SpanData> = spans.iter().filter(|span| span.name == "mageflow.run").collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(spans.len(), 2, "the trace holds the caller's span and the run's");
    assert_eq!(runs[0].parent_span_id, caller_id, "the recovered run is still the child of the caller's span");
    assert!(spans_of(sweep_trace).iter().all(|span| span.name != "mageflow.run"), "no run joined the sweep's trace");
    client.shutdown(Duration::from_secs(5)).await.unwrap();
}
