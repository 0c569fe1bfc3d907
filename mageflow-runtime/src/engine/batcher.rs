//! [`Batcher`]: the begins and outcomes of runs, coalesced into one script call per shard under load.
//!
//! A call goes out at once, from the task that makes it, when fewer calls of its shard are under way than the store
//! takes at once ([`Store::calls_at_once`]: two on Redis, one in the memory store), so a lone call waits for nothing
//! (not even a hop to another task). Calls made while that many are under way queue up, and go out together (one
//! `multi` call, up to [`MAX_BATCH`]) from a sender task as soon as one returns.
//! Each sub-operation of a `multi` is the same transition the call would have made alone, so exactly-once, the
//! order of a run's own calls (a run's outcome is only sent after its begin returned) and every reply stay as they
//! were; only the round trips are shared.
//!
//! Every key of a `multi` is in one slot: the groups of one shard all carry the shard's hash tag (see
//! `protocol::Keys`). A `multi` declares no pointers: a call that finds its signature missing is made again alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::protocol::{Code, Header, Keys, MultiCall, Op, SHARDS, Transition, encode_multi, group_of, shard_of};
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
    /// How many calls of one shard may be under way at once ([`Store::calls_at_once`]).
    limit: usize,
    queues: Vec<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    /// How many of this shard's calls are under way: each from its caller's task or from a sender task.
    in_flight: usize,
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
        let limit = store.calls_at_once().max(1);
        let queues = (0..SHARDS).map(|_| Mutex::default()).collect();
        Batcher { inner: Arc::new(Inner { store, keys, header, limit, queues }) }
    }

    /// Makes one call of `op` on signature `id` in the group its id names, alone or with others of its shard.
    pub async fn call(&self, op: Op, id: &SignatureId, args: &[String], lease: Duration) -> Result<Transition> {
        let shard = shard_of(group_of(id));
        let turn = {
            let mut queue = self.inner.queues[shard].lock().map_err(|_| poisoned())?;
            if queue.in_flight >= self.inner.limit {
                let (reply, answer) = oneshot::channel();
                queue.pending.push(Pending { op, id: id.clone(), args: args.to_vec(), lease, reply });
                Turn::Queued(answer)
            } else {
                queue.in_flight += 1;
                Turn::Lead
            }
        };
        match turn {
            Turn::Lead => {
                let _lead = Lead { inner: &self.inner, shard };
                self.inner.single(op, id, args, lease).await
            }
            Turn::Queued(answer) => {
                let transition =
                    answer.await.map_err(|_| Error::Store(StoreError::unavailable("a batched call was dropped")))??;
                if transition.code == Code::Missing {
                    // (the sender declared no pointer: see `Inner::multi`)
                    return self.inner.alone(op, id, args, lease, true).await;
                }
                Ok(transition)
            }
        }
    }
}

/// Whether a call goes out from its own task, or waits in its shard's queue for the sender task.
enum Turn {
    Lead,
    Queued(oneshot::Receiver<Result<Transition>>),
}

/// The shard a task's own call is under way on. When the call ends (or its task drops it), the calls that queued
/// meanwhile go to a sender task; with none, the shard is free.
struct Lead<'a> {
    inner: &'a Arc<Inner>,
    shard: usize,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let Ok(mut queue) = self.inner.queues[self.shard].lock() else { return };
        if queue.pending.is_empty() {
            queue.in_flight -= 1;
            return;
        }
        drop(queue);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(send_all(self.inner.clone(), self.shard));
            }
            Err(_) => {
                // no runtime to send them from (it is shutting down): their callers learn it at once
                let Ok(mut queue) = self.inner.queues[self.shard].lock() else { return };
                queue.in_flight -= 1;
                queue.pending.clear();
            }
        }
    }
}

fn poisoned() -> Error {
    Error::Store(StoreError::protocol("the batcher's lock is poisoned"))
}

/// Sends a shard's queued calls until none is left.
async fn send_all(inner: Arc<Inner>, shard: usize) {
    loop {
        let mut batch: Vec<Pending> = {
            let Ok(mut queue) = inner.queues[shard].lock() else { return };
            if queue.pending.is_empty() {
                queue.in_flight -= 1;
                return;
            }
            let take = queue.pending.len().min(MAX_BATCH);
            queue.pending.drain(..take).collect()
        };
        if let [one] = &batch[..] {
            // (without a pointer, as in a `multi`: its caller looks again with one)
            let result = inner.alone(one.op, &one.id, &one.args, one.lease, false).await;
            if let Some(one) = batch.into_iter().next() {
                let _ = one.reply.send(result);
            }
            continue;
        }
        match inner.multi(&mut batch).await {
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
    /// One call, as it would be made without batching. It declares no pointer (a signature stored away from the
    /// group its id names is rare, and a key costs Redis and the process on every call): a signature it finds
    /// missing is looked for again with its pointer.
    async fn single(&self, op: Op, id: &SignatureId, call_args: &[String], lease: Duration) -> Result<Transition> {
        let transition = self.alone(op, id, call_args, lease, false).await?;
        if transition.code == Code::Missing {
            return self.alone(op, id, call_args, lease, true).await;
        }
        Ok(transition)
    }

    /// One call on the group signature `id` names, with the signature's pointer among its keys or not.
    async fn alone(
        &self,
        op: Op,
        id: &SignatureId,
        call_args: &[String],
        lease: Duration,
        pointer: bool,
    ) -> Result<Transition> {
        let group = group_of(id);
        let mut keys = self.keys.of_group(group);
        if pointer {
            keys.push(self.keys.pointer(id));
        }
        let mut args = self.header.args(op, group, lease);
        args.extend(call_args.iter().cloned());
        Transition::parse(self.store.eval(Script::engine(), keys, args).await?)
    }

    /// Several calls of one shard in one `multi`, their arguments moved into it. A `multi` declares no pointers, so
    /// a call whose signature it finds missing is made again alone by its caller (see [`Batcher::call`]), which
    /// follows the signature's pointer if it has one (a missing signature changes nothing: the second call sees what
    /// the first saw).
    async fn multi(&self, batch: &mut [Pending]) -> Result<Vec<Result<Transition>>> {
        let group = group_of(&batch[0].id);
        let mut args = self.header.args(Op::Multi, group, batch[0].lease);
        let calls: Vec<MultiCall> = batch
            .iter_mut()
            .map(|call| MultiCall { op: call.op, group: group_of(&call.id), args: std::mem::take(&mut call.args) })
            .collect();
        let (keys, op_args) = encode_multi(&self.keys, calls);
        args.extend(op_args);
        let reply = self.store.eval(Script::engine(), keys, args).await?;
        Transition::parse_multi(reply, batch.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use tokio::sync::{Notify, Semaphore};

    use super::*;
    use crate::engine::protocol::{Record, encode_records, field};
    use crate::model::Kind;
    use crate::store::{KeyInfo, MemoryStore, Notified, Reply};

    /// The memory store behind a gate: each call counts itself, says it arrived, and waits for a permit. It takes
    /// `at_once` calls of a shard at once, as a server would.
    struct Gated {
        store: MemoryStore,
        permits: Semaphore,
        arrived: Notify,
        calls: AtomicUsize,
        at_once: usize,
    }

    impl Gated {
        /// A memory store whose gate lets no call through yet, taking one call of a shard at once.
        fn closed() -> Arc<Gated> {
            Self::closed_taking(1)
        }

        /// The same, taking `at_once` calls of a shard at once.
        fn closed_taking(at_once: usize) -> Arc<Gated> {
            Arc::new(Gated {
                store: MemoryStore::new(),
                permits: Semaphore::new(0),
                arrived: Notify::new(),
                calls: AtomicUsize::new(0),
                at_once,
            })
        }
    }

    #[async_trait]
    impl Store for Gated {
        async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.arrived.notify_one();
            self.permits.acquire().await.expect("the gate stays open").forget();
            self.store.eval(script, keys, args).await
        }

        async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
            self.store.scan(prefix).await
        }

        async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
            self.store.notified(channel).await
        }

        fn calls_at_once(&self) -> usize {
            self.at_once
        }
    }

    const WAIT: Duration = Duration::from_secs(5);

    /// A begin of the stored task `id` with no token (a stored task that was never dispatched has none: it runs).
    async fn begin(batcher: Arc<Batcher>, id: SignatureId) -> Result<Transition> {
        let args = vec![id.to_string(), String::new(), "1".into()];
        batcher.call(Op::Begin, &id, &args, Duration::from_secs(60)).await
    }

    /// Begins of `ids` (of one shard, with no token) through `batcher`, which has one call of a shard under way at a
    /// time: the first leads and waits at the gate, the others queue behind it and go out together, as one `multi`;
    /// then the gate lets `permits` calls through. Their results, in order.
    async fn lead_and_queue(
        gated: &Gated,
        batcher: &Arc<Batcher>,
        ids: &[SignatureId],
        permits: usize,
    ) -> Vec<Result<Transition>> {
        let lead = tokio::spawn(begin(batcher.clone(), ids[0].clone()));
        tokio::time::timeout(WAIT, gated.arrived.notified()).await.expect("the first call reaches the store");
        let queued: Vec<_> = ids[1..].iter().map(|id| tokio::spawn(begin(batcher.clone(), id.clone()))).collect();
        let shard = shard_of(group_of(&ids[0]));
        while batcher.inner.queues[shard].lock().unwrap().pending.len() < queued.len() {
            tokio::task::yield_now().await;
        }
        gated.permits.add_permits(permits);
        let mut results = Vec::new();
        for call in std::iter::once(lead).chain(queued) {
            results.push(tokio::time::timeout(WAIT, call).await.expect("the call returns").unwrap());
        }
        results
    }

    /// The arguments of a `batch` that stores one task, `id`, in `group`.
    fn store_task(header: &Header, group: &str, id: &SignatureId) -> Vec<String> {
        let mut args = header.args(Op::Batch, group, Duration::from_secs(60));
        args.extend(["1".to_owned(), "create".to_owned()]);
        let task =
            Record { id: id.clone(), kind: Kind::Task, fields: vec![(field::TASK, "noop".into())], children: vec![] };
        encode_records(vec![task], &mut args);
        // the trace context of the caller's span: none
        args.push(String::new());
        args
    }

    /// `count` tasks of one shard, each stored (ungated) in the group its id names.
    async fn stored_tasks_of_one_shard(gated: &Gated, keys: &Keys, header: &Header, count: usize) -> Vec<SignatureId> {
        let first = SignatureId::generate();
        let shard = shard_of(group_of(&first));
        let mut ids = vec![first];
        while ids.len() < count {
            let id = SignatureId::generate();
            if shard_of(group_of(&id)) == shard {
                ids.push(id);
            }
        }
        for id in &ids {
            gated
                .store
                .eval(Script::engine(), keys.of_group(group_of(id)), store_task(header, group_of(id), id))
                .await
                .unwrap();
        }
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_calls_of_a_shard_go_out_at_once_and_the_calls_after_them_together_when_one_returns() {
        // a store that takes two calls at once, as Redis does
        let gated = Gated::closed_taking(2);
        let keys = Keys::new("two".into());
        let header = Header::new(&keys, (60, 60), 60);
        let ids = stored_tasks_of_one_shard(&gated, &keys, &header, 4).await;
        let batcher = Arc::new(Batcher::new(gated.clone(), keys, header));
        // the first two go out from their own tasks, and both reach the store before either returns
        let leads: Vec<_> = ids[..2].iter().map(|id| tokio::spawn(begin(batcher.clone(), id.clone()))).collect();
        tokio::time::timeout(WAIT, async {
            while gated.calls.load(Ordering::SeqCst) < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("two calls under way at once");
        // the next two queue
        let queued: Vec<_> = ids[2..].iter().map(|id| tokio::spawn(begin(batcher.clone(), id.clone()))).collect();
        let shard = shard_of(group_of(&ids[0]));
        while batcher.inner.queues[shard].lock().unwrap().pending.len() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(batcher.inner.queues[shard].lock().unwrap().in_flight, 2);
        assert_eq!(gated.calls.load(Ordering::SeqCst), 2, "the queued calls wait for a call to return");

        gated.permits.add_permits(3);
        for call in leads.into_iter().chain(queued) {
            let transition = tokio::time::timeout(WAIT, call).await.expect("the call returns").unwrap().unwrap();
            assert_eq!(transition.code, Code::Run);
        }
        assert_eq!(gated.calls.load(Ordering::SeqCst), 3, "the two leads alone, then one multi of the two queued");
        tokio::time::timeout(WAIT, async {
            while batcher.inner.queues[shard].lock().unwrap().in_flight > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the shard is free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_dropped_while_it_leads_hands_the_queued_calls_to_a_sender() {
        let gated = Gated::closed();
        let keys = Keys::new("gate".into());
        let header = Header::new(&keys, (60, 60), 60);
        // a stored task that was never dispatched: a renewal of its run answers `lost`
        let id = stored_tasks_of_one_shard(&gated, &keys, &header, 1).await.remove(0);
        let batcher = Arc::new(Batcher::new(gated.clone(), keys, header));
        let renew = |batcher: Arc<Batcher>, id: SignatureId| async move {
            let args = vec![id.to_string(), "1".into(), "1000".into()];
            batcher.call(Op::Renew, &id, &args, Duration::from_secs(1)).await
        };

        // the first call goes out from its own task and waits at the gate; the second queues behind it
        let lead = tokio::spawn(renew(batcher.clone(), id.clone()));
        tokio::time::timeout(WAIT, gated.arrived.notified()).await.expect("the first call reaches the store");
        let queued = tokio::spawn(renew(batcher.clone(), id.clone()));
        let shard = shard_of(group_of(&id));
        while batcher.inner.queues[shard].lock().unwrap().pending.is_empty() {
            tokio::task::yield_now().await;
        }

        // the leading call is dropped mid-flight: the queued one still goes out, from a sender task
        lead.abort();
        assert!(lead.await.unwrap_err().is_cancelled());
        gated.permits.add_permits(1);
        let transition = tokio::time::timeout(WAIT, queued).await.expect("the queued call is sent").unwrap().unwrap();
        assert_eq!(transition.code, Code::Lost);
        assert_eq!(gated.calls.load(Ordering::SeqCst), 2, "the dropped call and the queued one, each sent once");

        // and the shard is free again: the next call leads
        gated.permits.add_permits(1);
        let next = tokio::time::timeout(WAIT, renew(batcher.clone(), id.clone())).await.expect("the shard is free");
        assert_eq!(next.unwrap().code, Code::Lost);
        assert_eq!(gated.calls.load(Ordering::SeqCst), 3);
        assert_eq!(batcher.inner.queues[shard].lock().unwrap().in_flight, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batched_call_whose_signature_lives_elsewhere_is_made_again_alone_and_follows_its_pointer() {
        let gated = Gated::closed();
        let keys = Keys::new("moved".into());
        let header = Header::new(&keys, (60, 60), 60);
        // a task stored in the group `elsewhere`, not the one its id names, with its pointer to it
        let id = SignatureId::generate();
        gated
            .store
            .eval(Script::engine(), keys.of_group("elsewhere"), store_task(&header, "elsewhere", &id))
            .await
            .unwrap();
        let mut point = header.args(Op::Point, "elsewhere", Duration::from_secs(1));
        point.push("60".into());
        gated.store.eval(Script::engine(), vec![keys.pointer(&id)], point).await.unwrap();

        let batcher = Arc::new(Batcher::new(gated.clone(), keys, header));
        let ids = [id.clone(), id.clone(), id];
        for transition in lead_and_queue(&gated, &batcher, &ids, 5).await {
            let transition = transition.unwrap();
            assert_eq!(transition.code, Code::Moved);
            assert_eq!(transition.extra, ["elsewhere"]);
        }
        let calls = gated.calls.load(Ordering::SeqCst);
        assert_eq!(calls, 5, "the lead without its pointer and with it, one multi, each queued call again alone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_runs_a_multi_begins_hold_leases_and_the_mark_that_made_the_set_a_skiplist_is_gone() {
        let gated = Gated::closed();
        let keys = Keys::new("marked".into());
        let header = Header::new(&keys, (60, 60), 60);
        let ids = stored_tasks_of_one_shard(&gated, &keys, &header, 3).await;

        let batcher = Arc::new(Batcher::new(gated.clone(), keys.clone(), header));
        // a stored task that was never dispatched has no token: a begin with none runs it
        for transition in lead_and_queue(&gated, &batcher, &ids, 2).await {
            assert_eq!(transition.unwrap().code, Code::Run);
        }
        assert_eq!(gated.calls.load(Ordering::SeqCst), 2, "the lead, then one multi");

        let leases = keys.of_group(group_of(&ids[0]))[2].clone();
        let members = Script::new("return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf')");
        let Reply::Array(members) = gated.store.eval(&members, vec![leases], vec![]).await.unwrap() else {
            panic!("ZRANGEBYSCORE answers a list");
        };
        let mut members: Vec<String> = members
            .into_iter()
            .map(|member| if let Reply::Text(text) = member { text } else { panic!("{member:?}") })
            .collect();
        members.sort();
        let mut expected: Vec<String> = ids.iter().map(|id| format!("{}|{id}", group_of(id))).collect();
        expected.sort();
        assert_eq!(members, expected, "each run holds a lease, and nothing else is in the set");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sub_operation_that_raises_answers_its_error_and_the_others_their_own_transitions() {
        let gated = Gated::closed();
        let keys = Keys::new("raising".into());
        let header = Header::new(&keys, (60, 60), 60);
        // four tasks of one shard; the third's head says its earlier attempts were `x`, which `begin` cannot count
        let ids = stored_tasks_of_one_shard(&gated, &keys, &header, 4).await;
        let bad = &ids[2];
        // the HEAD fields kind, status, parent, token, prev, attempt, base, ..., created, finished, task
        let head = "task pending     x       1  noop";
        let write = Script::new("return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])");
        let field = format!("{bad}|h");
        gated.store.eval(&write, vec![keys.group(group_of(bad))], vec![field, head.into()]).await.unwrap();

        let batcher = Arc::new(Batcher::new(gated.clone(), keys, header));
        let results = lead_and_queue(&gated, &batcher, &ids, 2).await;
        assert_eq!(gated.calls.load(Ordering::SeqCst), 2, "the lead, then one multi of three");
        let codes: Vec<Option<Code>> = results.iter().map(|r| r.as_ref().ok().map(|t| t.code)).collect();
        assert_eq!(codes, [Some(Code::Run), Some(Code::Run), None, Some(Code::Run)]);
        let error = results[2].as_ref().unwrap_err().to_string();
        assert!(error.contains("arithmetic"), "the script's own error: {error}");
        for result in [&results[1], &results[3]] {
            let transition = result.as_ref().unwrap();
            assert_eq!((transition.due.len(), transition.extra.as_slice()), (0, ["1".to_owned()].as_slice()));
        }
    }
}
