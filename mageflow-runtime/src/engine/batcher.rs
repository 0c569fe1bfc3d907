//! [`Batcher`]: the begins and outcomes of runs, coalesced into one script call per shard under load.
//!
//! A call goes out at once when no call of its shard is under way, so a lone call waits for nothing. Calls made while
//! one is under way queue up, and go out together (one `multi` call, up to [`MAX_BATCH`]) as soon as it returns.
//! Each sub-operation of a `multi` is the same transition the call would have made alone, so exactly-once, the
//! order of a run's own calls (a run's outcome is only sent after its begin returned) and every reply stay as they
//! were; only the round trips are shared.
//!
//! Every key of a `multi` is in one slot: the groups of one shard all carry the shard's hash tag, and so do the
//! pointers of ids whose group is in the shard (see `protocol::Keys`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::protocol::{Header, Keys, MultiCall, Op, SHARDS, Transition, encode_multi, group_of, shard_of};
use crate::error::{Error, Result};
use crate::model::SignatureId;
use crate::store::{Script, Store, StoreError};

/// The most sub-operations one `multi` call carries (a bound on how long one call holds Redis).
pub(crate) const MAX_BATCH: usize = 128;

/// Coalesces calls per shard. Cheap to share: the queues live behind an `Arc`, which the task that sends a
/// shard's calls holds while it runs.
pub(crate) struct Batcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Keys,
    header: Header,
    queues: Vec<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    /// A task is sending this shard's calls.
    busy: bool,
    pending: Vec<Pending>,
}

struct Pending {
    op: Op,
    id: SignatureId,
    args: Vec<String>,
    lease: Duration,
    reply: oneshot::Sender<Result<Transition>>,
}

impl Batcher {
    pub fn new(store: Arc<dyn Store>, keys: Keys, header: Header) -> Self {
        let queues = (0..SHARDS).map(|_| Mutex::default()).collect();
        Batcher { inner: Arc::new(Inner { store, keys, header, queues }) }
    }

    /// Makes one call of `op` on signature `id` in the group its id names, alone or with others of its shard.
    pub async fn call(&self, op: Op, id: &SignatureId, args: Vec<String>, lease: Duration) -> Result<Transition> {
        let shard = shard_of(group_of(id));
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = self.inner.queues[shard].lock().map_err(|_| poisoned())?;
            queue.pending.push(Pending { op, id: id.clone(), args, lease, reply });
            !std::mem::replace(&mut queue.busy, true)
        };
        if lead {
            tokio::spawn(send_all(self.inner.clone(), shard));
        }
        answer.await.map_err(|_| Error::Store(StoreError::unavailable("a batched call was dropped")))?
    }
}

fn poisoned() -> Error {
    Error::Store(StoreError::protocol("the batcher's lock is poisoned"))
}

/// Sends a shard's queued calls until none is left.
async fn send_all(inner: Arc<Inner>, shard: usize) {
    loop {
        let batch: Vec<Pending> = {
            let Ok(mut queue) = inner.queues[shard].lock() else { return };
            if queue.pending.is_empty() {
                queue.busy = false;
                return;
            }
            let take = queue.pending.len().min(MAX_BATCH);
            queue.pending.drain(..take).collect()
        };
        if let [one] = &batch[..] {
            let result = inner.single(one).await;
            if let Some(one) = batch.into_iter().next() {
                let _ = one.reply.send(result);
            }
            continue;
        }
        match inner.multi(&batch).await {
            Ok(results) => {
                for (pending, result) in batch.into_iter().zip(results) {
                    let _ = pending.reply.send(result);
                }
            }
            Err(error) => {
                let text = error.to_string();
                for pending in batch {
                    let _ = pending.reply.send(Err(same_error(&error, &text)));
                }
            }
        }
    }
}

/// The error of a failed `multi` call, for each of its callers.
fn same_error(error: &Error, text: &str) -> Error {
    Error::Store(match error {
        Error::Store(store) => store.clone(),
        _ => StoreError::protocol(text.to_owned()),
    })
}

impl Inner {
    /// One call, as it would be made without batching.
    async fn single(&self, call: &Pending) -> Result<Transition> {
        let group = group_of(&call.id);
        let mut keys = self.keys.of_group(group);
        keys.push(self.keys.pointer(&call.id));
        let mut args = self.header.args(call.op, group, call.lease);
        args.extend(call.args.iter().cloned());
        Transition::parse(self.store.eval(Script::engine(), keys, args).await?)
    }

    /// Several calls of one shard in one `multi`.
    async fn multi(&self, batch: &[Pending]) -> Result<Vec<Result<Transition>>> {
        let calls: Vec<MultiCall> =
            batch.iter().map(|call| MultiCall { op: call.op, group: group_of(&call.id), args: &call.args }).collect();
        let ids: Vec<&SignatureId> = batch.iter().map(|call| &call.id).collect();
        let (keys, op_args) = encode_multi(&self.keys, &calls, &ids);
        let mut args = self.header.args(Op::Multi, calls[0].group, batch[0].lease);
        args.extend(op_args);
        let reply = self.store.eval(Script::engine(), keys, args).await?;
        Transition::parse_multi(reply, batch.len())
    }
}
