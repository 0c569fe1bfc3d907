//! The transition script's protocol, typed: its operations and their arguments, the keys and signature fields it
//! works on, the records it creates, and its replies. This is the only Rust code that knows them; the other side
//! is `store/engine.lua`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::Interrupt;
use crate::error::{Error, Result};
use crate::flow::{Body, Node};
use crate::model::{Kind, SignatureId};
use crate::store::{Reply, StoreError};
use crate::trace::TraceContext;

/// An operation of the transition script (its `ARGV[1]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Sub-operations applied all or none: creations, starts, item additions, argument updates, closes.
    Batch,
    /// May a delivery run? Takes the run's lease.
    Begin,
    /// The run is still under way: extend its lease.
    Renew,
    /// Record a run's success and start what follows.
    Succeed,
    /// Record a run's final failure and start what follows.
    Fail,
    /// Splice the flow a run handed over to into the task's place.
    Continue,
    /// Stop what has not started.
    Suspend,
    /// Stop what has not started and abort what runs.
    Interrupt,
    /// Start again what was stopped.
    Resume,
    /// End a flow for good.
    Cancel,
    /// Dispatch again what was dispatched but never began, and runs whose lease expired.
    Recover,
    /// Check a batch without applying it (the parts of a batch that spans groups).
    Check,
    /// Read a signature, or the tree under it.
    Read,
    /// A shard's runs dispatched long ago that never began, and its expired leases.
    Due,
    /// A shard's root flows, newest first.
    Flows,
    /// Write pointers from ids to the group their signatures are stored in.
    Point,
    /// Several begins and outcomes of runs of one shard in one call, each its own transition.
    Multi,
}

impl Op {
    /// The operation's name in the script.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Batch => "batch",
            Op::Begin => "begin",
            Op::Renew => "renew",
            Op::Succeed => "succeed",
            Op::Fail => "fail",
            Op::Continue => "continue",
            Op::Suspend => "suspend",
            Op::Interrupt => "interrupt",
            Op::Resume => "resume",
            Op::Cancel => "cancel",
            Op::Recover => "recover",
            Op::Check => "check",
            Op::Read => "read",
            Op::Due => "due",
            Op::Flows => "flows",
            Op::Point => "point",
            Op::Multi => "multi",
        }
    }

    /// Whether `multi` may carry the operation: the begins and outcomes of runs, the most frequent calls.
    pub fn batchable(self) -> bool {
        matches!(self, Op::Begin | Op::Succeed | Op::Fail)
    }
}

/// A lifecycle operation on a signature and what it contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Suspend,
    Interrupt,
    Resume,
    Cancel,
}

impl From<Lifecycle> for Op {
    fn from(lifecycle: Lifecycle) -> Op {
        match lifecycle {
            Lifecycle::Suspend => Op::Suspend,
            Lifecycle::Interrupt => Op::Interrupt,
            Lifecycle::Resume => Op::Resume,
            Lifecycle::Cancel => Op::Cancel,
        }
    }
}

/// What an operation answered (the first element of its reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// Done as asked.
    Ok,
    /// `begin`: the delivery may run; it holds the run's lease.
    Run,
    /// The signature does not exist.
    Missing,
    /// A newer dispatch replaced this run: it may neither begin nor report.
    Stale,
    /// The signature has finished.
    Finished,
    /// `begin`: the run already handed over to a flow.
    Continued,
    /// `begin`: another delivery of the run is under way and its lease holds.
    Busy,
    /// `begin`: the signature is suspended or interrupted; the run is due again on resume.
    Stopped,
    /// `succeed` / `fail` / `continue`: nothing to record (the signature is not running).
    Ignored,
    /// `batch`: a sub-operation could not apply, so none did (see [`Refusal`]).
    Refused,
    /// `renew`: the run no longer holds its signature.
    Lost,
    /// A by-id operation met a signature stored in another group (`extra`: that group).
    Moved,
}

impl Code {
    fn parse(text: &str) -> Option<Code> {
        Some(match text {
            "ok" => Code::Ok,
            "run" => Code::Run,
            "missing" => Code::Missing,
            "stale" => Code::Stale,
            "finished" => Code::Finished,
            "continued" => Code::Continued,
            "busy" => Code::Busy,
            "stopped" => Code::Stopped,
            "ignored" => Code::Ignored,
            "refused" => Code::Refused,
            "lost" => Code::Lost,
            "moved" => Code::Moved,
            _ => return None,
        })
    }
}

/// Why a batch was refused: the `extra` of a [`Code::Refused`] reply is the 1-based index of the sub-operation,
/// the refusal, the signature id, then details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The signature does not exist.
    Missing,
    /// Items were added to something that is not a swarm (details: its kind).
    WrongKind,
    /// The swarm is closed.
    Closed,
    /// The signature finished (details: its status).
    Finished,
    /// The swarm would exceed its `max_items` (details: its item count, its limit).
    TooMany,
    /// A start of a signature that already started.
    NotPending,
    /// A replayed creation met a different stored signature (details: stored and new kind and name).
    Mismatch,
    /// The stored record is unusable (details: what is wrong).
    Damaged,
    /// The signature is stored in another group (details: that group).
    Moved,
}

impl Refusal {
    pub fn parse(text: &str) -> Option<Refusal> {
        Some(match text {
            "missing" => Refusal::Missing,
            "wrong_kind" => Refusal::WrongKind,
            "closed" => Refusal::Closed,
            "finished" => Refusal::Finished,
            "too_many" => Refusal::TooMany,
            "not_pending" => Refusal::NotPending,
            "mismatch" => Refusal::Mismatch,
            "damaged" => Refusal::Damaged,
            "moved" => Refusal::Moved,
            _ => return None,
        })
    }
}

/// The fields of a stored signature (a Redis hash), as the script writes them.
pub(crate) mod field {
    pub const KIND: &str = "kind";
    pub const TASK: &str = "task";
    pub const STATUS: &str = "status";
    pub const PREV: &str = "prev";
    pub const PARENT: &str = "parent";
    pub const POS: &str = "pos";
    pub const ON_OK: &str = "on_ok";
    pub const ON_ERR: &str = "on_err";
    pub const ARGS: &str = "args";
    pub const RETURN_FIELD: &str = "rf";
    pub const MESSAGE: &str = "msg";
    pub const TOKEN: &str = "token";
    pub const ATTEMPT: &str = "attempt";
    pub const RESULT: &str = "result";
    pub const ERROR: &str = "error";
    pub const CREATED: &str = "created";
    pub const FINISHED: &str = "finished";
    pub const MAX_CONCURRENCY: &str = "maxc";
    pub const STOP_AFTER: &str = "stop_after";
    pub const MAX_ITEMS: &str = "max_items";
    pub const RAW: &str = "raw";
    pub const CLOSED: &str = "closed";
    pub const ITEMS: &str = "n";
    pub const RUNNING: &str = "running";
    pub const SUCCEEDED: &str = "ok_n";
    pub const FAILED: &str = "fail_n";
    /// On the root of a stored flow: the flow index lists it.
    pub const ROOT: &str = "root";

    /// The fields packed into a signature's head, the hash field `<id>|h`, in their order there (separated by single
    /// spaces; the last one takes the rest of the text). `engine.lua` packs them (its `HEAD`); `read` gives them as
    /// fields like the others, so only code that touches the stored hash itself needs this.
    pub const HEAD: [&str; 16] = [
        "kind", "status", "parent", "token", "prev", "attempt", "base", "lease", "slot", "root", "w", "pos", "next",
        "created", "finished", "task",
    ];
}

/// How many virtual shards the keys of a prefix are spread over. Each shard is one hash tag, so one slot of a
/// Redis Cluster; a group (and the flows stored in it) lives in one shard. Part of the layout: changing it moves
/// every key.
pub(crate) const SHARDS: usize = 16;

/// The version of the stored layout, in the name of every key of a shard (`<prefix>:{<tag>}:v2:...`). A version of
/// mageflow that stores records differently names its keys with another layout version, so that processes of two
/// versions that share a prefix (a rolling deploy) never misread, recover or expire each other's state: each runs its
/// own flows to their end. Version 2 packs a signature's small fields into its head (see `engine.lua`).
pub(crate) const LAYOUT: &str = "v2";

/// The leading characters of a signature id that name its group (see [`SignatureId::generate`]).
pub(crate) const GROUP_LEN: usize = 10;

/// The group a signature id names: its first [`GROUP_LEN`] characters (the whole id when it is shorter).
pub(crate) fn group_of(id: &SignatureId) -> &str {
    let id = id.as_str();
    &id[..id.len().min(GROUP_LEN)]
}

/// The shard of a group: FNV-1a of its name.
pub(crate) fn shard_of(group: &str) -> usize {
    let hash = group.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ byte as u32).wrapping_mul(0x0100_0193));
    hash as usize % SHARDS
}

/// The hash tag of each shard: shard `k`'s tag hashes to a slot in the `k`-th sixteenth of Redis Cluster's slots,
/// so that the shards spread evenly over the primaries, whichever way the slots are split.
fn shard_tags() -> &'static [String; SHARDS] {
    static TAGS: std::sync::OnceLock<[String; SHARDS]> = std::sync::OnceLock::new();
    TAGS.get_or_init(|| {
        std::array::from_fn(|shard| {
            let span = crate::store::SLOTS / SHARDS as u16;
            (0..)
                .map(|n| format!("{shard}.{n}"))
                .find(|tag| crate::store::slot_of(tag) / span == shard as u16)
                .unwrap_or_default()
        })
    })
}

/// The names of the keys under a prefix (see `docs/architecture.md`, "The key layout").
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
    /// Each shard's `<prefix>:{<tag>}:` and its outbox, leases, flow list and flow index, made once: every call
    /// names them.
    shards: Arc<[ShardKeys; SHARDS]>,
}

#[derive(Debug)]
struct ShardKeys {
    head: String,
    keys: [String; 4],
}

impl Keys {
    pub fn new(prefix: String) -> Self {
        let shards = std::array::from_fn(|shard| {
            let head = format!("{prefix}:{{{}}}:{LAYOUT}:", shard_tags()[shard]);
            let keys = ["outbox", "leases", "flows", "index"].map(|name| format!("{head}{name}"));
            ShardKeys { head, keys }
        });
        Keys { prefix, shards: Arc::new(shards) }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>:{<tag of the shard>}:<layout>:<a>:<b>`.
    fn shard_key(&self, shard: usize, a: &str, b: &str) -> String {
        let head = &self.shards[shard].head;
        let mut key = String::with_capacity(head.len() + a.len() + 1 + b.len());
        key.push_str(head);
        key.push_str(a);
        key.push(':');
        key.push_str(b);
        key
    }

    /// The hash that holds every signature of a group.
    pub fn group(&self, group: &str) -> String {
        self.shard_key(shard_of(group), "g", group)
    }

    /// The keys a call on a group declares: the group's hash, then its shard's outbox, leases, flow list and flow
    /// index.
    pub fn of_group(&self, group: &str) -> Vec<String> {
        let shard = shard_of(group);
        let mut keys = Vec::with_capacity(6);
        keys.push(self.shard_key(shard, "g", group));
        keys.extend(self.shards[shard].keys.iter().cloned());
        keys
    }

    /// A shard's outbox, leases, flow list and flow index.
    pub fn of_shard(&self, shard: usize) -> [String; 4] {
        self.shards[shard].keys.clone()
    }

    /// The pointer from a signature id to the group it is stored in, when that is not the group the id names; in
    /// the shard of the group the id names.
    pub fn pointer(&self, id: &SignatureId) -> String {
        self.shard_key(shard_of(group_of(id)), "ptr", id.as_str())
    }

    /// The channel the script publishes a signature's new status on when it finishes, if someone waits for it: a
    /// waiter subscribes, then reads the signature with `Engine::read_watching`, which counts it.
    pub fn finished_channel(&self, id: &SignatureId) -> String {
        format!("{}:finished:{id}", self.prefix)
    }
}

/// What every call's header says besides the operation, the group and the clock: the key prefix and the TTLs, as
/// texts ready for the script to write (see `engine.lua`, ARGV[3]).
#[derive(Clone, Debug)]
pub(crate) struct Header {
    /// `<active> <done> <keep> <outbox ms> <prefix>`, one argument (see `engine.lua`, ARGV[3]).
    settings: String,
}

impl Header {
    /// `largest`: the largest active and done TTLs (s); `task_active`: the active TTL of tasks (s), the outbox's.
    pub fn new(keys: &Keys, largest: (u64, u64), task_active: u64) -> Header {
        let (active, done) = largest;
        let outbox_ms = task_active.max(1) * 1000;
        Header { settings: format!("{active} {done} {} {outbox_ms} {}", active + done, keys.prefix) }
    }

    /// The arguments every call starts with: the operation, the group it works on (or the one pointers name), the
    /// TTLs and the key prefix, the caller's clock (ms and s since the epoch) and when a lease taken now expires (ms).
    pub fn args(&self, op: Op, group: &str, lease: Duration) -> Vec<String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let now_ms = now.as_millis();
        let mut args = Vec::with_capacity(12);
        args.push(op.as_str().to_owned());
        args.push(group.to_owned());
        args.push(self.settings.clone());
        args.push(now_ms.to_string());
        args.push(now.as_secs().to_string());
        args.push((now_ms + lease.as_millis()).to_string());
        args
    }
}

/// One signature as the transition script creates it.
pub(crate) struct Record {
    pub id: SignatureId,
    pub kind: Kind,
    pub fields: Vec<(&'static str, String)>,
    pub children: Vec<SignatureId>,
}

impl Record {
    /// The task's name when the record is a task with nothing else: no other field, no children.
    fn plain_task(&self) -> Option<&str> {
        match (self.kind, self.fields.as_slice()) {
            (Kind::Task, [(name, task)]) if *name == field::TASK && self.children.is_empty() => Some(task),
            _ => None,
        }
    }
}

fn ids(nodes: &[Node]) -> String {
    nodes.iter().map(|node| node.id.as_str()).collect::<Vec<_>>().join(" ")
}

/// Turns a tree into records, each container before its children. `return_field` gives each task's return field. The
/// root gets `parent` / `pos` only when `place` says so; a child takes its place from its container's list of
/// children (the script places it: four arguments less per child).
pub(crate) fn records(
    root: &Node,
    place: Option<(&SignatureId, u64)>,
    return_field: &dyn Fn(&str) -> Option<String>,
) -> Vec<Record> {
    let mut out = Vec::new();
    push_records(root, place, return_field, &mut out);
    out
}

fn push_records(
    node: &Node,
    place: Option<(&SignatureId, u64)>,
    return_field: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<Record>,
) {
    let mut fields: Vec<(&'static str, String)> = vec![(field::TASK, node.name())];
    if let Some((parent, pos)) = place {
        fields.push((field::PARENT, parent.to_string()));
        fields.push((field::POS, pos.to_string()));
    }
    if !node.on_success.is_empty() {
        fields.push((field::ON_OK, ids(&node.on_success)));
    }
    if !node.on_error.is_empty() {
        fields.push((field::ON_ERR, ids(&node.on_error)));
    }
    if !node.args.is_empty() {
        fields.push((field::ARGS, Value::Object(node.args.clone()).to_string()));
    }
    let children: &[Node] = match &node.body {
        Body::Task { name } => {
            if let Some(name) = return_field(name) {
                fields.push((field::RETURN_FIELD, name));
            }
            &[]
        }
        Body::Chain { steps, .. } => steps,
        Body::Swarm { items, config, closed, .. } => {
            fields.push((field::MAX_CONCURRENCY, config.max_concurrency.to_string()));
            if let Some(limit) = config.stop_after_failures {
                fields.push((field::STOP_AFTER, limit.to_string()));
            }
            if let Some(max) = config.max_items {
                fields.push((field::MAX_ITEMS, max.to_string()));
            }
            if config.outputs_only {
                fields.push((field::RAW, "1".to_owned()));
            }
            let full = config.max_items.is_some_and(|max| items.len() as u64 >= max);
            if *closed || full {
                fields.push((field::CLOSED, "1".to_owned()));
            }
            items
        }
    };
    out.push(Record {
        id: node.id.clone(),
        kind: node.kind(),
        fields,
        children: children.iter().map(|child| child.id.clone()).collect(),
    });
    for child in children {
        push_records(child, None, return_field, out);
    }
    for callback in node.on_success.iter().chain(&node.on_error) {
        push_records(callback, None, return_field, out);
    }
}

/// Appends records to the script's arguments: their count and the number of arguments after it that they take (so
/// that the script finds their end without walking them), then per record its id, kind, task name, other fields and
/// children; tasks with nothing but a name (a container's plain items) go in runs of the same task: an empty id,
/// the task, how many, and their ids.
pub(crate) fn encode_records(records: Vec<Record>, args: &mut Vec<String>) {
    args.push(records.len().to_string());
    let span_at = args.len();
    args.push(String::new());
    // (the records are used up: their ids and values move into the arguments)
    let mut records = records.into_iter().peekable();
    while let Some(record) = records.next() {
        if let Some(task) = record.plain_task() {
            let task = task.to_owned();
            args.push(String::new());
            args.push(task.clone());
            let count_at = args.len();
            args.push(String::new());
            args.push(record.id.into_string());
            let mut run = 1;
            while let Some(next) = records.next_if(|other| other.plain_task() == Some(task.as_str())) {
                args.push(next.id.into_string());
                run += 1;
            }
            args[count_at] = run.to_string();
            continue;
        }
        let Record { id, kind, fields, children } = record;
        args.push(id.into_string());
        args.push(kind.as_str().to_owned());
        let mut task = None;
        let mut others = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            if name != field::TASK {
                others.push((name, value));
            } else if task.is_none() {
                task = Some(value);
            }
        }
        args.push(task.unwrap_or_default());
        args.push(others.len().to_string());
        for (name, value) in others {
            args.push(name.to_owned());
            args.push(value);
        }
        args.push(children.len().to_string());
        args.extend(children.into_iter().map(SignatureId::into_string));
    }
    args[span_at] = (args.len() - span_at - 1).to_string();
}

/// One part of an atomic batch (see the script's "batches").
pub(crate) enum Sub {
    /// Store a tree.
    Create(Node),
    /// Store a tree and start its root with a message.
    Run(Node, Value),
    /// Start a stored signature with a message.
    Start(SignatureId, Value),
    /// Add items to a swarm, closing it if asked.
    Add { swarm: SignatureId, close: bool, items: Vec<Node> },
    /// Add a layer of bound arguments to a signature.
    Update(SignatureId, serde_json::Map<String, Value>),
    /// Close a swarm.
    Close(SignatureId),
    /// Append ids to a task run's creation journal (kept on the task).
    Journal(SignatureId, Vec<SignatureId>),
}

impl Sub {
    /// The stored signature the sub-operation works on, if any (the root of a new flow is not stored yet).
    pub fn target(&self) -> Option<&SignatureId> {
        match self {
            Sub::Create(_) | Sub::Run(..) => None,
            Sub::Start(id, _) | Sub::Update(id, _) | Sub::Close(id) | Sub::Journal(id, _) => Some(id),
            Sub::Add { swarm, .. } => Some(swarm),
        }
    }

    /// The group the sub-operation writes to, unless its target was found elsewhere: a new flow's root names it.
    pub fn group(&self) -> &str {
        match self {
            Sub::Create(root) | Sub::Run(root, _) => group_of(&root.id),
            _ => self.target().map(group_of).unwrap_or_default(),
        }
    }

    /// The trees the sub-operation stores.
    pub fn trees(&self) -> &[Node] {
        match self {
            Sub::Create(root) | Sub::Run(root, _) => std::slice::from_ref(root),
            Sub::Add { items, .. } => items,
            _ => &[],
        }
    }
}

/// Marks the first record (a flow's root) as the root of a stored flow, which the flow index lists.
fn rooted(mut records: Vec<Record>) -> Vec<Record> {
    if let Some(root) = records.first_mut() {
        root.fields.push((field::ROOT, "1".to_owned()));
    }
    records
}

/// The arguments of a `batch` (or `check`): a count, then each sub-operation's name and arguments. `records` turns a
/// tree into its records.
pub(crate) fn encode_batch<'a>(
    subs: impl ExactSizeIterator<Item = &'a Sub>,
    records: &dyn Fn(&Node) -> Vec<Record>,
) -> Vec<String> {
    let mut args = vec![subs.len().to_string()];
    for sub in subs {
        match sub {
            Sub::Create(root) => {
                args.push("create".into());
                encode_records(rooted(records(root)), &mut args);
            }
            Sub::Run(root, message) => {
                args.push("run".into());
                encode_records(rooted(records(root)), &mut args);
                args.push(root.id.to_string());
                args.push(message.to_string());
            }
            Sub::Start(id, message) => {
                // no records: a count and a span of 0
                args.extend(["run".into(), "0".into(), "0".into(), id.to_string(), message.to_string()]);
            }
            Sub::Add { swarm, close, items } => {
                args.extend(["add".into(), swarm.to_string(), if *close { "1" } else { "0" }.into()]);
                args.push(items.len().to_string());
                args.extend(items.iter().map(|item| item.id.to_string()));
                let all: Vec<Record> = items.iter().flat_map(records).collect();
                encode_records(all, &mut args);
            }
            Sub::Update(id, layer) => {
                args.extend(["update".into(), id.to_string(), Value::Object(layer.clone()).to_string()]);
            }
            Sub::Close(swarm) => args.extend(["close".into(), swarm.to_string()]),
            Sub::Journal(task, ids) => {
                args.extend(["journal".into(), task.to_string(), ids.len().to_string()]);
                args.extend(ids.iter().map(ToString::to_string));
            }
        }
    }
    args
}

/// A task the script says is due, before its input is built: `{id, token, task, message, route, return field,
/// trace context, bound arguments of the task and its ancestors, nearest first}`.
#[derive(Debug)]
pub(crate) struct Due {
    pub id: SignatureId,
    pub token: u64,
    pub task: String,
    pub message: String,
    pub route: bool,
    pub return_field: Option<String>,
    /// The trace context of the span that dispatched it (stored in its `tp` field).
    pub trace: Option<TraceContext>,
    pub args: Vec<String>,
}

impl Due {
    /// The run of this due task, with its input built.
    pub fn into_run(self, input: Value) -> crate::backend::Run {
        crate::backend::Run { signature_id: self.id, token: self.token, task: self.task, input, trace: self.trace }
    }

    /// Decodes a dispatch entry's elements: `<id> <token> <task>`, then the message and, in full, the route, the
    /// return field, the trace context and the bound arguments.
    fn parse(mut words: Vec<String>) -> Result<Due> {
        // the short form: route 0, and no return field, trace context or bound arguments
        let short = words.len() == 2;
        if !short && words.len() < 5 {
            return Err(protocol(format!("a dispatch entry with {} elements", words.len())));
        }
        let args = if short { Vec::new() } else { words.split_off(5) };
        let mut first = words[0].splitn(3, ' ');
        let (Some(id), Some(token), Some(task)) = (first.next(), first.next(), first.next()) else {
            let first = &words[0];
            return Err(protocol(format!("a dispatch entry that does not start `<id> <token> <task>`: `{first}`")));
        };
        let id = SignatureId::parse(id).ok_or_else(|| protocol(format!("bad id `{id}`")))?;
        let token = token.parse().map_err(|_| protocol(format!("bad token `{token}`")))?;
        let task = task.to_owned();
        let (trace, return_field, route) = match short {
            true => (None, None, false),
            false => (
                TraceContext::decode(&words[4]),
                (!words[3].is_empty()).then(|| std::mem::take(&mut words[3])),
                words[2] == "1",
            ),
        };
        let message = std::mem::take(&mut words[1]);
        Ok(Due { id, token, task, message, route, return_field, trace, args })
    }
}

/// What one call of the script decided: `{code, dispatches, interrupts, extra}`.
#[derive(Debug)]
pub(crate) struct Transition {
    pub code: Code,
    pub due: Vec<Due>,
    pub interrupts: Vec<Interrupt>,
    pub extra: Vec<String>,
}

fn protocol(detail: impl Into<String>) -> Error {
    Error::Store(StoreError::protocol(detail))
}

/// A count in a flat reply (an integer; a text of one is taken too).
fn count(reply: Option<Reply>, what: &str) -> Result<usize> {
    let n = match reply {
        Some(Reply::Int(n)) => usize::try_from(n).ok(),
        Some(Reply::Text(text)) => text.parse().ok(),
        _ => None,
    };
    n.ok_or_else(|| protocol(format!("a transition's reply lacks the number of its {what}")))
}

/// A transition's summary, `<code> <entries> <extra elements>`: the code and the two counts.
fn summary(reply: Option<Reply>) -> Result<(String, usize, usize)> {
    let text = match reply {
        Some(Reply::Text(text)) => text,
        other => return Err(protocol(format!("a transition's reply without its summary: {other:?}"))),
    };
    let mut words = text.split(' ');
    let (Some(code), Some(entries), Some(extras), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(protocol(format!("a transition's summary `{text}` is not `<code> <entries> <extra elements>`")));
    };
    match (entries.parse(), extras.parse()) {
        (Ok(entries), Ok(extras)) => Ok((code.to_owned(), entries, extras)),
        _ => Err(protocol(format!("a transition's summary `{text}` does not count its entries and extra"))),
    }
}

/// An element of a flat reply as text (a number as its digits, nil as empty).
fn text_of(reply: Reply) -> String {
    match reply {
        Reply::Text(text) => text,
        Reply::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

fn texts(reply: Option<&Reply>) -> Vec<String> {
    reply
        .and_then(Reply::as_array)
        .map(|items| items.iter().filter_map(|item| item.as_text().map(str::to_owned)).collect())
        .unwrap_or_default()
}

impl Transition {
    /// A transition that decided nothing.
    pub fn empty(code: Code) -> Transition {
        Transition { code, due: Vec::new(), interrupts: Vec::new(), extra: Vec::new() }
    }

    /// Adds what another transition made due and interrupted.
    pub fn absorb(&mut self, other: Transition) {
        self.due.extend(other.due);
        self.interrupts.extend(other.interrupts);
    }

    /// Decodes a transition's reply (flat: its summary, `<code> <entries> <extra elements>`, each entry as its length
    /// and elements, then extra; a dispatch's length is positive, its id, token and task as one text, then its other
    /// fields in full or, for a message alone, that message; an interrupt's is negative, its id and run reference),
    /// moving its texts out of it (a `multi` of 50 outcomes carries hundreds).
    pub fn parse(reply: Reply) -> Result<Transition> {
        match reply {
            Reply::Array(parts) => {
                let mut parts = parts.into_iter();
                let (code, entries, extras) = summary(parts.next())?;
                Transition::parse_body(&code, entries, extras, &mut parts)
            }
            other => Err(protocol(format!("the transition script returned {other:?}"))),
        }
    }

    /// Decodes what follows a transition's summary: `entries` entries, then `extras` elements of extra.
    fn parse_body(code: &str, entries: usize, extras: usize, parts: &mut impl Iterator<Item = Reply>) -> Result<Self> {
        let code = Code::parse(code).ok_or_else(|| protocol(format!("the transition script answered `{code}`")))?;
        let mut due = Vec::new();
        let mut interrupts = Vec::new();
        for _ in 0..entries {
            let length = match parts.next() {
                Some(Reply::Int(length)) => length,
                other => return Err(protocol(format!("an entry of a transition's reply without a length: {other:?}"))),
            };
            if length < 0 {
                let mut words = parts.by_ref().take(length.unsigned_abs() as usize).map(text_of);
                let Some(signature_id) = words.next().and_then(|id| SignatureId::parse(&id)) else {
                    return Err(protocol("an interrupt entry without a signature id"));
                };
                let run_ref = words.next().filter(|r| !r.is_empty());
                interrupts.push(Interrupt { signature_id, run_ref });
                continue;
            }
            due.push(Due::parse(parts.by_ref().take(length as usize).map(text_of).collect())?);
        }
        let extra: Vec<String> = parts.take(extras).map(text_of).collect();
        if extra.len() < extras {
            return Err(protocol(format!("a transition's reply with {} of its {extras} extra elements", extra.len())));
        }
        Ok(Transition { code, due, interrupts, extra })
    }

    /// How many tasks the transition made due.
    pub fn dispatch_count(&self) -> usize {
        self.due.len()
    }

    /// The task an outcome asked to claim and began at once (`succeed` / `fail` with the claim flag): its id and
    /// attempt (the first). `extra` says which of the transition's dispatches it is (1 for the first).
    pub fn claimed(&self) -> Option<(SignatureId, u32)> {
        if self.code != Code::Ok {
            return None;
        }
        let at: usize = self.extra.first()?.parse().ok()?;
        Some((self.due.get(at.checked_sub(1)?)?.id.clone(), 1))
    }

    /// Decodes the reply of `multi`: one transition, or the error it raised, per sub-operation (flat: `ok`, the
    /// count, then each sub-operation's reply, whose summary counts its elements).
    pub fn parse_multi(reply: Reply, expected: usize) -> Result<Vec<Result<Transition>>> {
        let mut parts = match reply {
            Reply::Array(parts) => parts.into_iter(),
            other => return Err(protocol(format!("`multi` returned {other:?}"))),
        };
        let ok = matches!(parts.next(), Some(Reply::Text(code)) if code == "ok");
        let answered = count(parts.next(), "`multi` replies")?;
        if !ok || answered != expected {
            return Err(protocol(format!("`multi` answered {answered} replies for {expected} calls")));
        }
        let mut results = Vec::with_capacity(expected);
        for _ in 0..expected {
            let (code, entries, extras) = summary(parts.next())?;
            if code == "error" {
                let message = parts.by_ref().take(extras).map(text_of).collect::<Vec<_>>().join(" ");
                results.push(Err(Error::Store(StoreError::script(message))));
            } else {
                results.push(Transition::parse_body(&code, entries, extras, &mut parts));
            }
        }
        Ok(results)
    }
}

/// One run's begin or outcome, as `multi` carries it.
pub(crate) struct MultiCall<'a> {
    pub op: Op,
    pub group: &'a str,
    /// (moved into the call's arguments)
    pub args: Vec<String>,
}

/// The keys and arguments of a `multi` call on one shard: KEYS are the first group's hash, the shard's keys, then the
/// other groups' hashes. Each sub-operation is its descriptor, `<operation> <index in KEYS of its group's hash>
/// <argument count> <group>` (one argument: the script reads each descriptor once and remembers it), then its
/// arguments. No pointer is declared (a signature stored away from the group its id names is rare): a
/// sub-operation that finds its signature missing is made again alone, with its pointer.
pub(crate) fn encode_multi(keys: &Keys, calls: Vec<MultiCall>) -> (Vec<String>, Vec<String>) {
    let mut groups: Vec<&str> = Vec::new();
    for call in &calls {
        if !groups.contains(&call.group) {
            groups.push(call.group);
        }
    }
    let mut declared = keys.of_group(groups[0]);
    let first_other = declared.len();
    declared.extend(groups[1..].iter().map(|group| keys.group(group)));
    let mut args = Vec::with_capacity(1 + calls.iter().map(|call| 1 + call.args.len()).sum::<usize>());
    args.push(calls.len().to_string());
    for call in calls {
        let at = groups.iter().position(|group| *group == call.group).unwrap_or(0);
        let key_at = if at == 0 { 1 } else { first_other + at };
        args.push(format!("{} {key_at} {} {}", call.op.as_str(), call.args.len(), call.group));
        args.extend(call.args);
    }
    (declared, args)
}

/// A stored signature, as `read` returns it: its fields by name and its children in position order.
#[derive(Debug)]
pub(crate) struct StoredRecord {
    pub id: SignatureId,
    pub fields: std::collections::HashMap<String, String>,
    pub children: Vec<SignatureId>,
}

/// What `read` answered.
pub(crate) enum ReadReply {
    /// The signature (first) and, for a whole tree, everything under it.
    Records(Vec<StoredRecord>),
    /// The signature is stored in this other group.
    Moved(String),
    /// No such signature.
    Missing,
}

impl ReadReply {
    pub fn parse(reply: Reply) -> Result<ReadReply> {
        let parts = reply.as_array().ok_or_else(|| protocol(format!("`read` returned {reply:?}")))?;
        match parts.first().and_then(Reply::as_text) {
            Some("missing") => return Ok(ReadReply::Missing),
            Some("moved") => {
                let group =
                    texts(parts.get(1)).into_iter().next().ok_or_else(|| protocol("`moved` without a group"))?;
                return Ok(ReadReply::Moved(group));
            }
            Some("ok") => {}
            other => return Err(protocol(format!("`read` answered {other:?}"))),
        }
        let mut records = Vec::new();
        for entry in parts.get(1).and_then(Reply::as_array).unwrap_or_default() {
            let entry = entry.as_array().unwrap_or_default();
            let id = entry.first().and_then(Reply::as_text).and_then(SignatureId::parse);
            let id = id.ok_or_else(|| protocol(format!("a record without an id: {entry:?}")))?;
            let flat = texts(entry.get(1));
            let fields = flat.chunks(2).filter(|pair| pair.len() == 2).map(|pair| (pair[0].clone(), pair[1].clone()));
            let children = texts(entry.get(2)).iter().filter_map(|child| SignatureId::parse(child)).collect();
            records.push(StoredRecord { id, fields: fields.collect(), children });
        }
        Ok(ReadReply::Records(records))
    }
}

/// An entry of a shard's outbox or leases: `<group>|<id>` and its score (ms).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    pub group: String,
    pub id: SignatureId,
    pub score: f64,
}

fn members(reply: Option<&Reply>) -> Vec<Member> {
    texts(reply)
        .chunks(2)
        .filter_map(|pair| {
            let (group, id) = pair.first()?.split_once('|')?;
            Some(Member { group: group.to_owned(), id: SignatureId::parse(id)?, score: pair.get(1)?.parse().ok()? })
        })
        .collect()
}

/// What `due` answered: runs dispatched long ago that never began, and runs whose lease expired.
pub(crate) struct DueRuns {
    pub unbegun: Vec<Member>,
    pub expired: Vec<Member>,
}

impl DueRuns {
    pub fn parse(reply: Reply) -> Result<DueRuns> {
        let parts = reply.as_array().ok_or_else(|| protocol(format!("`due` returned {reply:?}")))?;
        Ok(DueRuns { unbegun: members(parts.get(1)), expired: members(parts.get(2)) })
    }
}

/// An entry of a shard's flow index.
#[derive(Clone, Debug)]
pub(crate) struct IndexEntry {
    pub group: String,
    pub id: SignatureId,
    pub created_ms: u64,
    pub status: String,
    pub finished_s: u64,
    pub name: String,
}

impl IndexEntry {
    /// The entry's member in the shard's flow list.
    pub fn member(&self) -> String {
        format!("{}|{}", self.group, self.id)
    }

    pub fn parse_all(reply: Reply) -> Result<Vec<IndexEntry>> {
        let parts = reply.as_array().ok_or_else(|| protocol(format!("`flows` returned {reply:?}")))?;
        let mut out = Vec::new();
        for entry in parts.get(1).and_then(Reply::as_array).unwrap_or_default() {
            let words = texts(Some(entry));
            let parsed = (|| {
                let (group, id) = words.first()?.split_once('|')?;
                Some(IndexEntry {
                    group: group.to_owned(),
                    id: SignatureId::parse(id)?,
                    created_ms: words.get(1)?.parse::<f64>().ok()? as u64,
                    status: words.get(2)?.clone(),
                    finished_s: words.get(3)?.parse().ok()?,
                    name: words.get(4).cloned().unwrap_or_default(),
                })
            })();
            out.push(parsed.ok_or_else(|| protocol(format!("a bad flow index entry {words:?}")))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_fields_are_those_the_script_packs() {
        let source = include_str!("../store/engine.lua");
        let start = source.find("local HEAD = {").expect("engine.lua defines HEAD");
        let list = &source[start..start + source[start..].find('}').unwrap()];
        let names: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
        assert_eq!(names, field::HEAD);
    }

    #[test]
    fn plain_tasks_go_in_runs_of_the_same_task_and_other_records_in_full() {
        let id = |text: &str| SignatureId::parse(text).unwrap();
        let task = |name: &str, task: &str| Record {
            id: id(name),
            kind: Kind::Task,
            fields: vec![(field::TASK, task.to_owned())],
            children: Vec::new(),
        };
        let swarm = Record {
            id: id("s"),
            kind: Kind::Swarm,
            fields: vec![(field::TASK, "fan".to_owned()), (field::MAX_CONCURRENCY, "2".to_owned())],
            children: ["a", "b", "c", "d"].map(id).to_vec(),
        };
        let mut bound = task("c", "add");
        bound.fields.push((field::ARGS, "{\"n\":1}".to_owned()));
        let records = vec![swarm, task("a", "add"), task("b", "add"), bound, task("d", "mul")];
        let mut args = vec!["before".to_owned()];
        encode_records(records, &mut args);
        let expected = [
            "before",
            "5",
            "27", // the count of records, then the span: the arguments after it
            "s",
            "swarm",
            "fan",
            "1",
            "maxc",
            "2",
            "4",
            "a",
            "b",
            "c",
            "d", // a container in full
            "",
            "add",
            "2",
            "a",
            "b", // a run of two plain `add`s
            "c",
            "task",
            "add",
            "1",
            "args",
            "{\"n\":1}",
            "0", // a task with a bound argument, in full
            "",
            "mul",
            "1",
            "d", // a run of one
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn replies_decode_into_typed_transitions() {
        let text = |t: &str| Reply::Text(t.to_owned());
        // three entries: a dispatch in full, one in the short form, an interrupt; then extra
        let mut parts = vec![text("run 3 1"), Reply::Int(6)];
        parts.extend(
            [
                "abc 3 send an email",
                "{\"n\":1}",
                "1",
                "order",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "{\"template\":\"x\"}",
            ]
            .map(text),
        );
        parts.extend([Reply::Int(2), text("ghi 1 noop"), text("null")]);
        parts.extend([Reply::Int(-2), text("def"), text("run-7"), text("2")]);
        let transition = Transition::parse(Reply::Array(parts)).unwrap();
        assert_eq!(transition.code, Code::Run);
        let due = &transition.due[0];
        assert_eq!((due.id.as_str(), due.token, due.task.as_str(), due.route), ("abc", 3, "send an email", true));
        assert_eq!((due.return_field.as_deref(), due.args.len()), (Some("order"), 1));
        assert_eq!(due.trace.as_ref().map(|t| t.parent_span_id()), Some("b7ad6b7169203331"));
        let short = &transition.due[1];
        assert_eq!(
            (short.id.as_str(), short.token, short.task.as_str(), short.message.as_str()),
            ("ghi", 1, "noop", "null")
        );
        assert!(!short.route && short.return_field.is_none() && short.trace.is_none() && short.args.is_empty());
        assert_eq!(transition.interrupts[0].signature_id.as_str(), "def");
        assert_eq!(transition.interrupts[0].run_ref.as_deref(), Some("run-7"));
        assert_eq!(transition.extra, ["2"]);
        assert_eq!(transition.claimed(), None, "only an outcome (`ok`) claims");
        let claimed = Transition { code: Code::Ok, ..transition };
        assert_eq!(claimed.claimed().map(|(id, attempt)| (id.to_string(), attempt)), Some(("ghi".to_owned(), 1)));
    }

    #[test]
    fn a_multi_reply_decodes_into_one_transition_or_error_per_call() {
        let text = |t: &str| Reply::Text(t.to_owned());
        let reply = Reply::Array(vec![
            text("ok"),
            Reply::Int(2),
            text("stale 0 3"),
            text("done"),
            text("x"),
            text("-"),
            text("error 0 1"),
            text("boom"),
        ]);
        let results = Transition::parse_multi(reply, 2).unwrap();
        let first = results[0].as_ref().unwrap();
        assert_eq!(first.code, Code::Stale);
        assert_eq!(first.extra, ["done", "x", "-"]);
        assert!(results[1].as_ref().unwrap_err().to_string().contains("boom"));
    }

    #[test]
    fn unknown_codes_and_short_entries_are_protocol_errors() {
        let text = |t: &str| Reply::Text(t.to_owned());
        let unknown = Transition::parse(Reply::Array(vec![text("maybe 0 0")])).unwrap_err();
        assert!(unknown.to_string().contains("`maybe`"), "{unknown}");
        let short = Reply::Array(vec![text("ok 1 0"), Reply::Int(1), text("abc 1 noop")]);
        assert!(Transition::parse(short).unwrap_err().to_string().contains("with 1 elements"));
        let headless = Reply::Array(vec![text("ok 1 0"), Reply::Int(2), text("abc 1"), text("null")]);
        assert!(Transition::parse(headless).unwrap_err().to_string().contains("does not start"));
        let uncounted = Reply::Array(vec![text("ok"), text("abc")]);
        assert!(Transition::parse(uncounted).unwrap_err().to_string().contains("is not `<code>"));
        let cut = Reply::Array(vec![text("ok 0 2"), text("1")]);
        assert!(Transition::parse(cut).unwrap_err().to_string().contains("1 of its 2 extra"));
    }
}
