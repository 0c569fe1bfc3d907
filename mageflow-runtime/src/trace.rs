//! One trace per flow: the W3C trace context a [`Run`](crate::backend::Run) carries from the span that dispatched it
//! to the span that runs it.
//!
//! When the engine records a transition that dispatches runs (a flow started, an outcome, a resume), it takes the
//! trace context of the current span: the caller's span around `client.run(..)`, or the run span of the task whose
//! outcome it records. The script stores it with each run it dispatches (the signature's `tp` field, in the same
//! write as the dispatch token), so that a run dispatched again by the recovery sweep keeps it; backends carry it
//! with the run (Hatchet in the run's `additional_metadata` as `traceparent` / `tracestate`, apalis in the job), and
//! the worker makes the run's span (`mageflow.run`) a child of it.
//!
//! Reading and applying the context needs the cargo feature `opentelemetry` (through `tracing-opentelemetry`, with
//! an `OpenTelemetryLayer` installed in the subscriber). Without it, or without that layer, nothing is captured:
//! runs carry no context, and a context that arrives with a run is kept in the run but not applied.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The metadata key of the W3C `traceparent` (as Hatchet's own SDKs write it in a run's `additional_metadata`).
pub const TRACEPARENT_KEY: &str = "traceparent";

/// The metadata key of the W3C `tracestate`.
pub const TRACESTATE_KEY: &str = "tracestate";

/// The W3C trace context of the span that dispatched a run: its `traceparent` and, if any, its `tracestate`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceContext {
    /// `00-<trace id>-<parent span id>-<flags>`.
    pub traceparent: String,
    /// Vendor-specific trace state, if the span had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// A context from a `traceparent` (and a `tracestate`); `None` when the `traceparent` is not of W3C's form
    /// (version `00`: `00-` 32 hex digits `-` 16 hex digits `-` 2 hex digits).
    pub fn new(traceparent: impl Into<String>, tracestate: Option<String>) -> Option<TraceContext> {
        let traceparent = traceparent.into().trim().to_ascii_lowercase();
        let parts: Vec<&str> = traceparent.split('-').collect();
        let hex = |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
        let valid = parts.len() == 4
            && hex(parts[0], 2)
            && parts[0] != "ff"
            && hex(parts[1], 32)
            && hex(parts[2], 16)
            && hex(parts[3], 2)
            && parts[1].bytes().any(|b| b != b'0')
            && parts[2].bytes().any(|b| b != b'0');
        let tracestate = tracestate.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        valid.then_some(TraceContext { traceparent, tracestate })
    }

    /// The trace context of the current span, when the feature `opentelemetry` is on and the span is recorded by an
    /// OpenTelemetry layer; else `None`.
    pub fn current() -> Option<TraceContext> {
        otel::of_span(&tracing::Span::current())
    }

    /// The trace id (32 hex digits).
    pub fn trace_id(&self) -> &str {
        self.traceparent.split('-').nth(1).unwrap_or_default()
    }

    /// The id of the span that dispatched the run (16 hex digits).
    pub fn parent_span_id(&self) -> &str {
        self.traceparent.split('-').nth(2).unwrap_or_default()
    }

    /// Makes `span` a child of this context (feature `opentelemetry`; else nothing). Call it before the span is
    /// first entered: `tracing-opentelemetry` cannot change the parent of a span that started.
    pub fn set_parent_of(&self, span: &tracing::Span) {
        otel::set_parent(span, self);
    }

    /// Writes the context into a run's metadata (`traceparent`, and `tracestate` if any), as strings.
    pub fn write_to(&self, metadata: &mut Map<String, Value>) {
        metadata.insert(TRACEPARENT_KEY.to_owned(), Value::String(self.traceparent.clone()));
        if let Some(state) = &self.tracestate {
            metadata.insert(TRACESTATE_KEY.to_owned(), Value::String(state.clone()));
        }
    }

    /// Reads the context from a run's metadata; `None` without a valid `traceparent`.
    pub fn read_from(metadata: &Map<String, Value>) -> Option<TraceContext> {
        let parent = metadata.get(TRACEPARENT_KEY)?.as_str()?;
        let state = metadata.get(TRACESTATE_KEY).and_then(Value::as_str).map(str::to_owned);
        TraceContext::new(parent, state)
    }

    /// The text the transition script stores: the `traceparent`, then a space and the `tracestate` if any (a
    /// `traceparent` holds no space).
    pub(crate) fn encode(&self) -> String {
        match &self.tracestate {
            Some(state) => format!("{} {state}", self.traceparent),
            None => self.traceparent.clone(),
        }
    }

    /// Reads what [`encode`](Self::encode) wrote; `None` for an empty or invalid text.
    pub(crate) fn decode(text: &str) -> Option<TraceContext> {
        match text.split_once(' ') {
            Some((parent, state)) => TraceContext::new(parent, Some(state.to_owned())),
            None => TraceContext::new(text, None),
        }
    }

    /// The context as W3C headers, for a propagator.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    fn headers(&self) -> HashMap<String, String> {
        let mut headers = HashMap::from([(TRACEPARENT_KEY.to_owned(), self.traceparent.clone())]);
        if let Some(state) = &self.tracestate {
            headers.insert(TRACESTATE_KEY.to_owned(), state.clone());
        }
        headers
    }
}

/// The argument of the transition script that carries the current trace context: its encoded form, or empty.
pub(crate) fn current_arg() -> String {
    TraceContext::current().map(|trace| trace.encode()).unwrap_or_default()
}

#[cfg(feature = "opentelemetry")]
mod otel {
    use std::collections::HashMap;

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceContext;

    pub fn of_span(span: &tracing::Span) -> Option<TraceContext> {
        if span.is_disabled() {
            return None;
        }
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut headers = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut headers);
        let parent = headers.remove(super::TRACEPARENT_KEY)?;
        TraceContext::new(parent, headers.remove(super::TRACESTATE_KEY))
    }

    pub fn set_parent(span: &tracing::Span, trace: &TraceContext) {
        let context = TraceContextPropagator::new().extract(&trace.headers());
        if context.span().span_context().is_valid()
            && let Err(error) = span.set_parent(context)
        {
            tracing::debug!(%error, "cannot make the run's span a child of the span that dispatched it");
        }
    }
}

#[cfg(not(feature = "opentelemetry"))]
mod otel {
    use super::TraceContext;

    pub fn of_span(_span: &tracing::Span) -> Option<TraceContext> {
        None
    }

    pub fn set_parent(_span: &tracing::Span, _trace: &TraceContext) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn only_w3c_traceparents_are_taken() {
        let trace = TraceContext::new(PARENT, None).unwrap();
        assert_eq!(trace.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(trace.parent_span_id(), "b7ad6b7169203331");
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319x-b7ad6b7169203331-01",
        ] {
            assert_eq!(TraceContext::new(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn the_stored_form_and_the_metadata_round_trip() {
        for state in [None, Some("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7".to_owned())] {
            let trace = TraceContext::new(PARENT, state).unwrap();
            assert_eq!(TraceContext::decode(&trace.encode()), Some(trace.clone()));
            let mut metadata = Map::new();
            trace.write_to(&mut metadata);
            assert_eq!(TraceContext::read_from(&metadata), Some(trace));
        }
        assert_eq!(TraceContext::decode(""), None);
    }
}
