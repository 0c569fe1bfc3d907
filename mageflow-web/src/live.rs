//! Live updates of one flow over server-sent events.
//!
//! Each open flow page has a task that reads the flow's tree and sends it whenever it changed. It wakes when one of
//! the flow's unfinished signatures finishes (the transition script publishes `<prefix>:finished:<id>`), after a
//! lifecycle action of this view, and at least every `refresh` (a run that begins publishes nothing, and other
//! processes change flows too).

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use mageflow_runtime::{Error, FlowTree, SignatureId};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::AppState;
use crate::view::{FlowView, unfinished};

/// Signatures of one flow whose finish a page waits for at most (the running ones first); the rest show within
/// the refresh interval.
const MAX_WATCHED: usize = 64;
/// Reads of one flow are at least this far apart, so that a swarm whose items finish together is read once; and at
/// least `READ_SPACING` times as long as the last read took, so that a huge flow is not read back to back.
const MIN_READ_INTERVAL: Duration = Duration::from_millis(100);
const READ_SPACING: u32 = 5;

/// The event stream of flow `id`, whose tree was just read as `first`.
pub(crate) fn events(
    state: Arc<AppState>,
    id: SignatureId,
    first: FlowTree,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = mpsc::channel::<Event>(8);
    tokio::spawn(follow(state, id, first, sender));
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn tree_event(tree: FlowTree) -> (String, Event) {
    let json = serde_json::to_string(&FlowView::new(tree)).unwrap_or_else(|error| {
        serde_json::json!({ "error": format!("the flow could not be turned into JSON: {error}") }).to_string()
    });
    let event = Event::default().event("tree").data(json.clone());
    (json, event)
}

async fn follow(state: Arc<AppState>, id: SignatureId, first: FlowTree, sender: mpsc::Sender<Event>) {
    let mut stopping = state.stopping.subscribe();
    let mut watched: HashSet<SignatureId> = HashSet::new();
    let mut finishes: FuturesUnordered<BoxFuture<'static, SignatureId>> = FuturesUnordered::new();
    let mut last_sent: Option<String> = None;
    let mut last_problem: Option<String> = None;
    let mut read = Some(Ok(first));
    loop {
        let read_at = Instant::now();
        let result = match read.take() {
            Some(result) => result,
            None => state.client.tree(&id).await,
        };
        let spacing = MIN_READ_INTERVAL.max(read_at.elapsed() * READ_SPACING);
        let mut to_watch = Vec::new();
        let event = match result {
            Ok(tree) => {
                last_problem = None;
                to_watch = unfinished(&tree, MAX_WATCHED);
                let (json, event) = tree_event(tree);
                (last_sent.as_ref() != Some(&json)).then(|| {
                    last_sent = Some(json);
                    event
                })
            }
            Err(Error::NotFound(_)) => {
                let message = format!("flow {id} is no longer in the store: it expired after its TTL, or was deleted");
                let _ = sender.send(Event::default().event("gone").data(message)).await;
                return;
            }
            Err(error) => {
                let message = format!("reading the flow failed: {error}; trying again");
                (last_problem.as_ref() != Some(&message)).then(|| {
                    last_problem = Some(message.clone());
                    Event::default().event("problem").data(message)
                })
            }
        };
        if let Some(event) = event
            && sender.send(event).await.is_err()
        {
            return;
        }
        // subscribe first, then read again: a finish between the read and the subscription is not missed
        let mut subscribed = false;
        let room = MAX_WATCHED.saturating_sub(watched.len());
        let new: Vec<SignatureId> = to_watch.into_iter().filter(|node| !watched.contains(node)).take(room).collect();
        for node in new {
            match state.client.finish_notice(&node).await {
                Ok(notified) => {
                    watched.insert(node.clone());
                    finishes.push(notified.map(move |()| node).boxed());
                    subscribed = true;
                }
                Err(error) => {
                    tracing::debug!(%error, "web view: no finish notification; the refresh interval applies");
                    break;
                }
            }
        }
        if subscribed {
            continue;
        }
        tokio::select! {
            _ = sender.closed() => return,
            _ = stopping.wait_for(|stopping| *stopping) => return,
            Some(node) = finishes.next() => {
                watched.remove(&node);
                while let Some(Some(node)) = finishes.next().now_or_never() {
                    watched.remove(&node);
                }
            }
            _ = state.changed.notified() => {}
            _ = tokio::time::sleep(state.refresh) => {}
        }
        tokio::time::sleep_until(read_at + spacing).await;
    }
}
