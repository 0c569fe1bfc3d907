//! The engine: turns requests and task outcomes into calls of the transition script, and the dispatches those
//! calls return into runs for the backend.

pub(crate) mod batch;
mod batcher;
pub(crate) mod checks;
pub(crate) mod index;
pub(crate) mod protocol;
pub(crate) mod session;
pub(crate) mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::{Dispatcher, Run};
use crate::config::TtlConfig;
use crate::error::{Error, Result};
use crate::flow::Node;
use crate::model::{ErrorKind, ErrorReport, Failure, SignatureId};
use crate::run::input;
use crate::run::registry::Registry;
use crate::store::{Reply, Script, Store, StoreError};
use crate::trace;

pub(crate) use protocol::{Code, DueRuns, IndexEntry, Keys, Lifecycle, Op, StoredRecord, Sub, Transition};
use protocol::{Due, Header, ReadReply, Record, SHARDS, encode_batch, encode_records, group_of, records, shard_of};

/// How long a run holds its signature without renewing its lease, unless configured.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Builds a due task's input; on failure, the reason.
fn build_input(due: &Due) -> std::result::Result<Value, String> {
    let message: Value =
        serde_json::from_str(&due.message).map_err(|error| format!("the stored message is not JSON ({error})"))?;
    let mut layers = Vec::with_capacity(due.args.len());
    for args in &due.args {
        layers.push(input::merged_layers(args)?);
    }
    input::build(message, due.route, due.return_field.as_deref(), &layers)
}

/// The engine of one client: its store, key prefix, TTLs, known tasks and backend.
pub(crate) struct Engine {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    /// The TTLs and prefix every call's header carries.
    header: Header,
    /// Coalesces the begins and outcomes of runs under load.
    batcher: batcher::Batcher,
    /// The largest active and done TTLs (s): a group's hash lives by them.
    ttl_max: (u64, u64),
    pub registry: Arc<Registry>,
    /// The dispatching side of the backend.
    pub backend: Arc<dyn Dispatcher>,
    /// How long transitions after a task run are retried while the store is unreachable.
    pub store_retry: Duration,
    /// Whether runs of tasks with retries journal what they create (see `scope`).
    pub idempotent_creation: bool,
    /// How long a run that began holds its signature without renewing its lease.
    pub lease: Duration,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        prefix: String,
        ttl: &TtlConfig,
        registry: Arc<Registry>,
        backend: Arc<dyn Dispatcher>,
    ) -> Self {
        let keys = Keys::new(prefix);
        let header = Header::new(&keys, ttl.largest(), ttl.of(crate::model::Kind::Task).0.as_secs());
        Engine {
            batcher: batcher::Batcher::new(store.clone(), keys.clone(), header.clone()),
            store,
            header,
            keys,
            ttl_max: ttl.largest(),
            registry,
            backend,
            store_retry: Duration::from_secs(60),
            idempotent_creation: true,
            lease: DEFAULT_LEASE,
        }
    }

    /// Calls the script once with these keys; `group` is the group it works on (or the one pointers name).
    async fn eval(&self, op: Op, group: &str, keys: Vec<String>, op_args: Vec<String>) -> Result<Reply> {
        let mut args = self.header.args(op, group, self.lease);
        args.extend(op_args);
        Ok(self.store.eval(Script::engine(), keys, args).await?)
    }

    /// The keys of a call on `group`: the group's own, and the pointers of `ids` that live in the group's shard (so
    /// that the script can tell where a signature it lacks went).
    fn group_keys(&self, group: &str, ids: &[&SignatureId]) -> Vec<String> {
        let mut keys = self.keys.of_group(group);
        let shard = shard_of(group);
        keys.extend(ids.iter().filter(|id| shard_of(group_of(id)) == shard).map(|id| self.keys.pointer(id)));
        keys
    }

    /// Calls the transition script once on a group.
    async fn call_at(&self, op: Op, group: &str, ids: &[&SignatureId], op_args: Vec<String>) -> Result<Transition> {
        Transition::parse(self.eval(op, group, self.group_keys(group, ids), op_args).await?)
    }

    /// Calls the transition script on signature `id`, wherever it is stored: in the group its id names, or the
    /// one its pointer names.
    pub async fn call(&self, op: Op, id: &SignatureId, op_args: &[String]) -> Result<Transition> {
        let mut moved_to = None;
        if op.batchable() {
            // in the group its id names, with other calls of its shard under load
            let transition = self.batcher.call(op, id, op_args, self.lease).await?;
            match (transition.code, transition.extra.first()) {
                (Code::Moved, Some(moved)) => moved_to = Some(moved.clone()),
                _ => return Ok(transition),
            }
        }
        let mut group = moved_to.unwrap_or_else(|| group_of(id).to_owned());
        for _ in 0..3 {
            let transition = self.call_at(op, &group, &[id], op_args.to_vec()).await?;
            match (transition.code, transition.extra.first()) {
                (Code::Moved, Some(moved)) => group = moved.clone(),
                _ => return Ok(transition),
            }
        }
        Err(protocol_error(format!("the pointers of {id} lead in a circle")))
    }

    /// Calls the transition script on signature `id`, retrying while the store is unreachable (every operation is
    /// idempotent, so a call that did apply before the connection broke is harmless to send again).
    pub async fn call_retrying(&self, op: Op, id: &SignatureId, op_args: Vec<String>) -> Result<Transition> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.call(op, id, &op_args).await {
                Err(Error::Store(StoreError::Unavailable { detail, .. })) if started.elapsed() < self.store_retry => {
                    let op = op.as_str();
                    tracing::warn!(op, %detail, "the store is unreachable; retrying the transition in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// Reads signature `id` (with `whole`, the whole tree under it: children and callbacks, recursively);
    /// `None` when it does not exist. The signature comes first.
    pub async fn read(&self, id: &SignatureId, whole: bool) -> Result<Option<Vec<StoredRecord>>> {
        self.read_as(id, whole, false).await
    }

    /// Reads signature `id`'s fields, without its children, for a waiter that subscribed to its channel (see
    /// [`Keys::finished_channel`]): counts the waiter in the signature's record, so that its end is published (the
    /// script publishes only the ends of signatures someone waits for).
    pub async fn read_watching(&self, id: &SignatureId) -> Result<Option<Vec<StoredRecord>>> {
        self.read_as(id, false, true).await
    }

    /// A read of `id` (see [`read`](Self::read)); a waiter's (`watch`) reads its fields only.
    async fn read_as(&self, id: &SignatureId, whole: bool, watch: bool) -> Result<Option<Vec<StoredRecord>>> {
        let mut group = group_of(id).to_owned();
        for _ in 0..3 {
            let args = vec![id.to_string(), flag(whole), flag(watch), flag(watch)];
            let reply = self.eval(Op::Read, &group, self.group_keys(&group, &[id]), args).await?;
            match ReadReply::parse(reply)? {
                ReadReply::Records(records) => return Ok(Some(records)),
                ReadReply::Missing => return Ok(None),
                ReadReply::Moved(moved) => group = moved,
            }
        }
        Err(protocol_error(format!("the pointers of {id} lead in a circle")))
    }

    /// Writes pointers for the nodes of `trees` whose id names another group than `group`, where they are stored,
    /// so that by-id calls find them: one call per shard.
    async fn point(&self, group: &str, trees: &[&Node]) -> Result<()> {
        let mut by_shard: HashMap<usize, Vec<String>> = HashMap::new();
        for tree in trees {
            tree.walk(&mut |node| {
                if group_of(&node.id) != group {
                    by_shard.entry(shard_of(group_of(&node.id))).or_default().push(self.keys.pointer(&node.id));
                }
            });
        }
        let ttl = (self.ttl_max.0 + self.ttl_max.1).to_string();
        for (_, pointers) in by_shard {
            self.eval(Op::Point, group, pointers, vec![ttl.clone()]).await?;
        }
        Ok(())
    }

    /// The records of a tree, with the return field of every task from the registry.
    pub fn records(&self, root: &Node, place: Option<(&SignatureId, u64)>) -> Vec<Record> {
        let registry = &self.registry;
        // the return field of the task before it, kept: a swarm's thousand items are mostly one task
        let last: std::cell::RefCell<Option<(String, Option<String>)>> = std::cell::RefCell::new(None);
        records(root, place, &|task| {
            let mut last = last.borrow_mut();
            if let Some((name, field)) = last.as_ref()
                && name == task
            {
                return field.clone();
            }
            let field = registry.definition(task).and_then(|d| d.return_field.clone());
            *last = Some((task.to_owned(), field.clone()));
            field
        })
    }

    /// Hands a transition's due tasks to the backend and its interrupts to the backend; a due task whose input
    /// cannot be built fails (its error callbacks run), which may make further tasks due.
    pub async fn apply(&self, transition: Transition) -> Result<()> {
        let mut pending = vec![transition];
        while let Some(transition) = pending.pop() {
            let mut runs = Vec::with_capacity(transition.due.len());
            let mut broken = Vec::new();
            for due in transition.due {
                match build_input(&due) {
                    Ok(input) => runs.push(due.into_run(input)),
                    Err(problem) => broken.push((due, problem)),
                }
            }
            if !runs.is_empty() {
                self.backend.dispatch(runs).await?;
            }
            if !transition.interrupts.is_empty() {
                self.backend.interrupt(&transition.interrupts).await?;
            }
            for (due, problem) in broken {
                tracing::error!(task = %due.task, signature = %due.id, %problem, "cannot build the input of a run");
                let failure = Failure {
                    task: due.task.clone(),
                    signature_id: due.id.clone(),
                    input: serde_json::from_str(&due.message).unwrap_or(Value::Null),
                    error: ErrorReport { kind: ErrorKind::InvalidInput, message: problem, attempt: 0 },
                };
                pending.push(self.fail(&failure, due.token, false).await?);
            }
        }
        Ok(())
    }

    /// Records the final failure of the run of dispatch `token`, dropping the run's creation journal when it keeps
    /// one. A run that a newer dispatch replaced records nothing (code `stale`).
    pub async fn fail(&self, failure: &Failure, token: u64, journaled: bool) -> Result<Transition> {
        self.fail_claiming(failure, token, journaled, false).await
    }

    /// [`fail`](Self::fail); with `claim`, the first task the failure dispatches is begun at once, for this process
    /// to run (see [`Transition::claimed`] and [`take_claimed`](Self::take_claimed)).
    pub async fn fail_claiming(
        &self,
        failure: &Failure,
        token: u64,
        journaled: bool,
        claim: bool,
    ) -> Result<Transition> {
        let payload = serde_json::to_string(failure)
            .map_err(|source| Error::Serialize { what: "a failure report".into(), source })?;
        let id = &failure.signature_id;
        let args = vec![id.to_string(), token.to_string(), payload, flag(claim), flag(journaled), trace::current_arg()];
        self.call_retrying(Op::Fail, id, without_empty_tail(args, 3)).await
    }

    /// Records the success of the run of dispatch `token`, dropping the run's creation journal when it keeps one.
    /// A run that a newer dispatch replaced records nothing (code `stale`).
    /// With `claim`, the first task the success dispatches is begun at once, for this process to run (see
    /// [`take_claimed`](Self::take_claimed)).
    pub async fn succeed(
        &self,
        id: &SignatureId,
        token: u64,
        output: &Value,
        journaled: bool,
        claim: bool,
    ) -> Result<Transition> {
        let args = vec![
            id.to_string(),
            token.to_string(),
            output.to_string(),
            flag(claim),
            flag(journaled),
            trace::current_arg(),
        ];
        self.call_retrying(Op::Succeed, id, without_empty_tail(args, 3)).await
    }

    /// Takes the task an outcome claimed out of its transition, as a run that began (with its attempt) for this
    /// process to run without dispatching it. `None` when it claimed none, or when its input cannot be built (it
    /// then stays in the transition, and [`apply`](Self::apply) fails it).
    pub fn take_claimed(&self, transition: &mut Transition) -> Option<(Run, u32)> {
        let (id, attempt) = transition.claimed()?;
        let index = transition.due.iter().position(|due| due.id == id)?;
        let input = build_input(&transition.due[index]).ok()?;
        Some((transition.due.remove(index).into_run(input), attempt))
    }

    /// Renews the lease of the run of dispatch `token` for `length`; `false` when the run no longer holds its
    /// signature (a newer dispatch replaced it, or the signature finished or was interrupted).
    pub async fn renew(&self, id: &SignatureId, token: u64, length: Duration) -> Result<bool> {
        let args = vec![id.to_string(), token.to_string(), length.as_millis().to_string()];
        Ok(self.call(Op::Renew, id, &args).await?.code == Code::Ok)
    }

    /// Applies sub-operations: all of them, or (code `refused`, with the failing sub-operation's 1-based index and
    /// its problem in `extra`) none. Sub-operations on one group are one atomic call. A batch that spans groups is
    /// split into one part per group: every part is checked first, then the parts are applied in order, each
    /// atomically; a part refused after earlier parts were applied (a change that raced the batch) is
    /// [`Error::BatchPartlyApplied`].
    pub async fn batch(&self, subs: &[Sub]) -> Result<Transition> {
        // where the signatures the batch stores will be: in the group of the tree's root, or the swarm's; only a
        // sub-operation with a target reads it, so the trees after the last of those are not walked (a swarm of
        // 1,000 items walked for nothing cost creating it an eighth of its instructions in the process)
        let mut located: HashMap<SignatureId, String> = HashMap::new();
        let last_target = subs.iter().rposition(|sub| sub.target().is_some());
        loop {
            let mut parts: Vec<(String, Vec<usize>)> = Vec::new();
            for (index, sub) in subs.iter().enumerate() {
                let group = sub.target().and_then(|id| located.get(id)).map_or(sub.group(), String::as_str);
                match parts.iter_mut().find(|(known, _)| known == group) {
                    Some((_, indexes)) => indexes.push(index),
                    None => parts.push((group.to_owned(), vec![index])),
                }
                if last_target.is_none_or(|last| index >= last) {
                    continue;
                }
                let group = group.to_owned();
                for tree in sub.trees() {
                    tree.walk(&mut |node| {
                        located.entry(node.id.clone()).or_insert_with(|| group.clone());
                    });
                }
            }
            if parts.len() > 1 {
                let mut moved = false;
                for (group, indexes) in &parts {
                    let checked = self.part(Op::Check, group, subs, indexes).await?;
                    if checked.code != Code::Refused {
                        continue;
                    }
                    match moved_refusal(&checked) {
                        Some((id, to)) => {
                            located.insert(id, to);
                            moved = true;
                            break;
                        }
                        None => return Ok(checked),
                    }
                }
                if moved {
                    continue;
                }
            }
            let mut applied = Transition::empty(Code::Ok);
            let mut moved = false;
            for (done, (group, indexes)) in parts.iter().enumerate() {
                let trees: Vec<&Node> = indexes.iter().flat_map(|&index| subs[index].trees()).collect();
                self.point(group, &trees).await?;
                let transition = self.part(Op::Batch, group, subs, indexes).await?;
                if transition.code != Code::Refused {
                    applied.absorb(transition);
                    continue;
                }
                if done == 0
                    && let Some((id, to)) = moved_refusal(&transition)
                {
                    located.insert(id, to);
                    moved = true;
                    break;
                }
                if done == 0 {
                    return Ok(transition);
                }
                // the earlier parts' runs are due: dispatch them before reporting
                self.apply(applied).await?;
                return Err(Error::BatchPartlyApplied {
                    applied: parts[..done].iter().map(|(_, indexes)| indexes.len()).sum(),
                    total: subs.len(),
                    refusal: transition.extra.join(" "),
                });
            }
            if !moved {
                return Ok(applied);
            }
        }
    }

    /// Checks or applies the sub-operations at `indexes` on one group; a refusal names the sub-operation by its
    /// index in `subs`.
    async fn part(&self, op: Op, group: &str, subs: &[Sub], indexes: &[usize]) -> Result<Transition> {
        let targets: Vec<&SignatureId> = indexes.iter().filter_map(|&index| subs[index].target()).collect();
        let mut args = encode_batch(indexes.iter().map(|&index| &subs[index]), &|root| self.records(root, None));
        args.push(trace::current_arg());
        let mut transition = self.call_at(op, group, &targets, args).await?;
        if transition.code == Code::Refused
            && let Some(local) = transition.extra.first().and_then(|n| n.parse::<usize>().ok())
            && let Some(index) = local.checked_sub(1).and_then(|local| indexes.get(local))
        {
            transition.extra[0] = (index + 1).to_string();
        }
        Ok(transition)
    }

    /// Splices a flow into a running task's place: the flow becomes the task's child and starts with `message`;
    /// the task finishes with the flow's outcome. Drops the run's creation journal when it keeps one. The flow is
    /// stored in the task's group.
    pub async fn continue_with(
        &self,
        task: &SignatureId,
        token: u64,
        flow: &Node,
        message: &Value,
        journaled: bool,
    ) -> Result<Transition> {
        let mut args = vec![task.to_string(), token.to_string()];
        encode_records(self.records(flow, Some((task, 0))), &mut args);
        args.push(flow.id.to_string());
        args.push(message.to_string());
        args.push(flag(journaled));
        args.push(trace::current_arg());
        let mut group = group_of(task).to_owned();
        for _ in 0..3 {
            self.point(&group, &[flow]).await?;
            let transition = self.call_at(Op::Continue, &group, &[task], args.clone()).await?;
            match (transition.code, transition.extra.first()) {
                (Code::Moved, Some(moved)) => group = moved.clone(),
                _ => return Ok(transition),
            }
        }
        Err(protocol_error(format!("the pointers of {task} lead in a circle")))
    }

    /// Runs a lifecycle operation (`suspend`, `interrupt`, `resume`, `cancel`) on a signature and what it contains.
    pub async fn lifecycle(&self, op: Lifecycle, id: &SignatureId) -> Result<Transition> {
        let transition = self.call(op.into(), id, &[id.to_string(), trace::current_arg()]).await?;
        if transition.code == Code::Missing {
            return Err(Error::NotFound(id.clone()));
        }
        Ok(transition)
    }

    /// Each shard's runs dispatched more than `grace` ago that never began, and runs whose lease expired (at most
    /// `limit` of each per shard).
    pub async fn due(&self, grace: Duration, limit: usize) -> Result<DueRuns> {
        let mut all = DueRuns { unbegun: Vec::new(), expired: Vec::new() };
        for shard in 0..SHARDS {
            let [outbox, leases, ..] = self.keys.of_shard(shard);
            let args = vec![grace.as_millis().to_string(), limit.to_string()];
            let due = DueRuns::parse(self.eval(Op::Due, "", vec![outbox, leases], args).await?)?;
            all.unbegun.extend(due.unbegun);
            all.expired.extend(due.expired);
        }
        Ok(all)
    }

    /// Dispatches again tasks that were dispatched more than `grace` ago and never began, and runs whose lease
    /// expired. Returns how many runs it dispatched.
    pub async fn recover(&self, grace: Duration, limit: usize) -> Result<usize> {
        let due = self.due(grace, limit).await?;
        let mut groups: Vec<(String, Vec<SignatureId>, Vec<SignatureId>)> = Vec::new();
        for (member, expired) in
            due.unbegun.into_iter().map(|m| (m, false)).chain(due.expired.into_iter().map(|m| (m, true)))
        {
            let index = match groups.iter().position(|(group, ..)| *group == member.group) {
                Some(index) => index,
                None => {
                    groups.push((member.group.clone(), Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
            let (_, unbegun, lost) = &mut groups[index];
            if expired { lost.push(member.id) } else { unbegun.push(member.id) }
        }
        let (mut count, mut lost) = (0, 0);
        for (group, unbegun, expired) in groups {
            let mut args = vec![grace.as_millis().to_string(), unbegun.len().to_string()];
            args.extend(unbegun.iter().map(ToString::to_string));
            args.push(expired.len().to_string());
            args.extend(expired.iter().map(ToString::to_string));
            let transition = self.call_at(Op::Recover, &group, &[], args).await?;
            count += transition.dispatch_count();
            lost += transition.extra.first().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            self.apply(transition).await?;
        }
        if lost > 0 {
            tracing::warn!(lost, "runs lost their lease (their worker died or was cut off); dispatching them again");
        }
        Ok(count)
    }

    /// The root flows of every shard that match `query`, newest first (ties: by `<group>|<id>`, descending).
    pub async fn flows(&self, query: &FlowQuery) -> Result<Vec<IndexEntry>> {
        let statuses: Vec<&str> = query.statuses.iter().map(|status| status.as_str()).collect();
        // the cursor's time is inclusive (its member breaks ties); `before_ms` is exclusive
        let (before, cursor) = match (&query.cursor, query.before_ms) {
            (Some((ms, _)), Some(before)) if before <= *ms => (format!("({before}"), String::new()),
            (Some((ms, member)), _) => (ms.to_string(), member.clone()),
            (None, Some(before)) => (format!("({before}"), String::new()),
            (None, None) => ("+inf".to_owned(), String::new()),
        };
        let args = vec![
            before,
            cursor,
            query.after_ms.map_or("-inf".to_owned(), |ms| ms.to_string()),
            query.limit.to_string(),
            statuses.join(" "),
            query.name.clone().unwrap_or_default(),
        ];
        let calls = (0..SHARDS).map(|shard| {
            let [_, _, flows, index] = self.keys.of_shard(shard);
            self.eval(Op::Flows, "", vec![flows, index], args.clone())
        });
        let mut entries = Vec::new();
        for reply in futures::future::join_all(calls).await {
            entries.extend(IndexEntry::parse_all(reply?)?);
        }
        entries.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| b.member().cmp(&a.member())));
        entries.truncate(query.limit);
        Ok(entries)
    }

    /// Asks whether a delivery may run, recording the backend's reference of the run. A retry of a run that keeps a
    /// creation journal gets the journal's ids back in `extra`.
    pub async fn begin(&self, run: &Run, attempt: u32, run_ref: Option<&str>, journaled: bool) -> Result<Transition> {
        let args = vec![
            run.signature_id.to_string(),
            run.token.to_string(),
            attempt.to_string(),
            run_ref.unwrap_or_default().to_owned(),
            flag(journaled),
        ];
        self.call_retrying(Op::Begin, &run.signature_id, without_empty_tail(args, 3)).await
    }
}

/// A boolean argument of the script.
fn flag(on: bool) -> String {
    if on { "1" } else { "" }.to_owned()
}

/// The arguments without the empty ones at their end, keeping the first `required`: the script reads a missing
/// argument as empty, and each argument costs Redis about 1,100 instructions.
fn without_empty_tail(mut args: Vec<String>, required: usize) -> Vec<String> {
    while args.len() > required && args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    args
}

fn protocol_error(detail: String) -> Error {
    Error::Store(StoreError::protocol(detail))
}

/// The signature a `moved` refusal names and the group it moved to.
fn moved_refusal(transition: &Transition) -> Option<(SignatureId, String)> {
    let extra = &transition.extra;
    if extra.get(1).map(String::as_str) != Some("moved") {
        return None;
    }
    Some((SignatureId::parse(extra.get(2)?)?, extra.get(3)?.clone()))
}

/// What [`Engine::flows`] looks for.
pub(crate) struct FlowQuery {
    pub statuses: Vec<crate::model::Status>,
    pub name: Option<String>,
    /// Where the previous page ended: its last entry's creation (ms) and `<group>|<id>`.
    pub cursor: Option<(u64, String)>,
    /// Created at or after this (ms since the epoch).
    pub after_ms: Option<u64>,
    /// Created before this (ms since the epoch).
    pub before_ms: Option<u64>,
    pub limit: usize,
}
