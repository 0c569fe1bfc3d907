//! An in-memory keyspace that answers the Redis commands mageflow's scripts use, with Redis's semantics (types,
//! TTLs, empty collections removed, integer replies), so that [`MemoryStore`](super::MemoryStore) runs the very same
//! transition script as Redis.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A reply, as Redis sends it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Resp {
    Nil,
    Int(i64),
    Bulk(String),
    Array(Vec<Resp>),
    Error(String),
}

enum Value {
    Text(String),
    Hash(HashMap<String, String>),
    List(VecDeque<String>),
    SortedSet(HashMap<String, f64>),
}

struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

/// The keys, their values and TTLs, and the messages published while a script ran.
#[derive(Default)]
pub(crate) struct Keyspace {
    entries: HashMap<String, Entry>,
    expiries: BinaryHeap<Reverse<(Instant, String)>>,
    published: Vec<String>,
    /// While a script runs: the keys it declared, the only ones it may touch (as on Redis Cluster, Dragonfly).
    declared: Option<std::collections::HashSet<String>>,
}

const WRONG_TYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn wrong_args(command: &str) -> Resp {
    Resp::Error(format!("ERR wrong number of arguments for '{}' command", command.to_lowercase()))
}

fn not_integer() -> Resp {
    Resp::Error("ERR value is not an integer or out of range".to_owned())
}

/// A score bound: its value, and whether it is exclusive (`(5`).
fn parse_score(text: &str) -> Option<(f64, bool)> {
    let (text, exclusive) = match text.strip_prefix('(') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let score = match text {
        "-inf" => f64::NEG_INFINITY,
        "+inf" | "inf" => f64::INFINITY,
        _ => text.parse().ok()?,
    };
    Some((score, exclusive))
}

fn within(score: f64, (bound, exclusive): (f64, bool), above: bool) -> bool {
    match (above, exclusive) {
        (true, false) => score >= bound,
        (true, true) => score > bound,
        (false, false) => score <= bound,
        (false, true) => score < bound,
    }
}

fn format_score(score: f64) -> String {
    if score.fract() == 0.0 && score.abs() < 1e17 { format!("{}", score as i64) } else { format!("{score}") }
}

/// Resolves Redis's list indexes (negative from the end) into a clamped inclusive range.
fn list_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

impl Keyspace {
    /// Removes keys whose TTL has passed.
    pub(crate) fn purge_expired(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.expiries.pop() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|entry| entry.expires_at == Some(at)) {
                self.entries.remove(&key);
            }
        }
    }

    /// The messages published since the last call, as channel names.
    pub(crate) fn take_published(&mut self) -> Vec<String> {
        std::mem::take(&mut self.published)
    }

    /// Every live key starting with `prefix`, with its TTL.
    pub(crate) fn scan(&mut self, prefix: &str) -> Vec<(String, Option<Duration>)> {
        self.purge_expired();
        let now = Instant::now();
        self.entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, entry)| (key.clone(), entry.expires_at.map(|at| at.saturating_duration_since(now))))
            .collect()
    }

    fn live(&mut self, key: &str) -> Option<&mut Entry> {
        let expired = self.entries.get(key)?.expires_at.is_some_and(|at| at <= Instant::now());
        if expired {
            self.entries.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    fn set_expiry(&mut self, key: &str, at: Option<Instant>) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.expires_at = at;
            if let Some(at) = at {
                self.expiries.push(Reverse((at, key.to_owned())));
            }
        }
    }

    fn hash(&mut self, key: &str) -> Result<Option<&mut HashMap<String, String>>, Resp> {
        match self.live(key) {
            None => Ok(None),
            Some(Entry { value: Value::Hash(hash), .. }) => Ok(Some(hash)),
            Some(_) => Err(Resp::Error(WRONG_TYPE.to_owned())),
        }
    }

    fn hash_or_create(&mut self, key: &str) -> Result<&mut HashMap<String, String>, Resp> {
        if self.hash(key)?.is_none() {
            self.entries.insert(key.to_owned(), Entry { value: Value::Hash(HashMap::new()), expires_at: None });
        }
        match self.entries.get_mut(key) {
            Some(Entry { value: Value::Hash(hash), .. }) => Ok(hash),
            _ => Err(Resp::Error(WRONG_TYPE.to_owned())),
        }
    }

    fn list(&mut self, key: &str) -> Result<Option<&mut VecDeque<String>>, Resp> {
        match self.live(key) {
            None => Ok(None),
            Some(Entry { value: Value::List(list), .. }) => Ok(Some(list)),
            Some(_) => Err(Resp::Error(WRONG_TYPE.to_owned())),
        }
    }

    fn sorted_set(&mut self, key: &str) -> Result<Option<&mut HashMap<String, f64>>, Resp> {
        match self.live(key) {
            None => Ok(None),
            Some(Entry { value: Value::SortedSet(set), .. }) => Ok(Some(set)),
            Some(_) => Err(Resp::Error(WRONG_TYPE.to_owned())),
        }
    }

    /// Drops a key whose collection became empty, as Redis does.
    fn drop_if_empty(&mut self, key: &str) {
        let empty = match self.entries.get(key).map(|entry| &entry.value) {
            Some(Value::Hash(hash)) => hash.is_empty(),
            Some(Value::List(list)) => list.is_empty(),
            Some(Value::SortedSet(set)) => set.is_empty(),
            Some(Value::Text(_)) | None => false,
        };
        if empty {
            self.entries.remove(key);
        }
    }

    /// While a script runs, only `keys` may be touched; `None` lifts the rule (commands outside scripts).
    pub(crate) fn declare(&mut self, keys: Option<std::collections::HashSet<String>>) {
        self.declared = keys;
    }

    /// Runs one command and returns its reply.
    pub(crate) fn command(&mut self, args: &[String]) -> Resp {
        let Some(name) = args.first() else {
            return Resp::Error("ERR empty command".to_owned());
        };
        let name = name.to_ascii_uppercase();
        if let Some(declared) = &self.declared {
            let keys = match name.as_str() {
                "PUBLISH" | "TIME" => &[][..],
                "DEL" | "EXISTS" => &args[1..],
                _ => &args[1..args.len().min(2)],
            };
            if let Some(key) = keys.iter().find(|key| !declared.contains(*key)) {
                return Resp::Error(format!(
                    "ERR the script touched the key `{key}` without declaring it in KEYS (a Redis Cluster refuses that)"
                ));
            }
        }
        match self.run(&name, &args[1..]) {
            Ok(reply) | Err(reply) => reply,
        }
    }

    fn run(&mut self, name: &str, args: &[String]) -> Result<Resp, Resp> {
        let arity = |min: usize| {
            if args.len() < min { Err(wrong_args(name)) } else { Ok(()) }
        };
        let int = |text: &str| text.parse::<i64>().map_err(|_| not_integer());
        Ok(match name {
            "TIME" => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                Resp::Array(vec![Resp::Bulk(now.as_secs().to_string()), Resp::Bulk(now.subsec_micros().to_string())])
            }
            "EXISTS" => {
                arity(1)?;
                let mut count = 0;
                for key in args {
                    if self.live(key).is_some() {
                        count += 1;
                    }
                }
                Resp::Int(count)
            }
            "DEL" => {
                arity(1)?;
                let mut count = 0;
                for key in args {
                    if self.live(key).is_some() {
                        self.entries.remove(key);
                        count += 1;
                    }
                }
                Resp::Int(count)
            }
            "EXPIRE" | "PEXPIRE" => {
                arity(2)?;
                let amount = int(&args[1])?;
                let only_if_none = match args.get(2).map(|flag| flag.to_ascii_uppercase()) {
                    None => false,
                    Some(flag) if flag == "NX" => true,
                    Some(_) => return Err(Resp::Error("ERR Unsupported option".to_owned())),
                };
                let key = &args[0];
                let Some(entry) = self.live(key) else {
                    return Ok(Resp::Int(0));
                };
                if only_if_none && entry.expires_at.is_some() {
                    return Ok(Resp::Int(0));
                }
                if amount <= 0 {
                    self.entries.remove(key);
                } else {
                    let amount = amount as u64;
                    let ttl =
                        if name == "EXPIRE" { Duration::from_secs(amount) } else { Duration::from_millis(amount) };
                    self.set_expiry(key, Some(Instant::now() + ttl));
                }
                Resp::Int(1)
            }
            "TTL" => {
                arity(1)?;
                match self.live(&args[0]) {
                    None => Resp::Int(-2),
                    Some(Entry { expires_at: None, .. }) => Resp::Int(-1),
                    Some(Entry { expires_at: Some(at), .. }) => {
                        let left = at.saturating_duration_since(Instant::now());
                        Resp::Int(((left.as_millis() + 500) / 1000) as i64)
                    }
                }
            }
            "HGET" => {
                arity(2)?;
                match self.hash(&args[0])?.and_then(|hash| hash.get(&args[1])) {
                    Some(value) => Resp::Bulk(value.clone()),
                    None => Resp::Nil,
                }
            }
            "HMGET" => {
                arity(2)?;
                let hash = self.hash(&args[0])?;
                let fields = args[1..]
                    .iter()
                    .map(|field| match hash.as_ref().and_then(|hash| hash.get(field)) {
                        Some(value) => Resp::Bulk(value.clone()),
                        None => Resp::Nil,
                    })
                    .collect();
                Resp::Array(fields)
            }
            "HGETALL" => {
                arity(1)?;
                let mut flat = Vec::new();
                if let Some(hash) = self.hash(&args[0])? {
                    for (field, value) in hash.iter() {
                        flat.push(Resp::Bulk(field.clone()));
                        flat.push(Resp::Bulk(value.clone()));
                    }
                }
                Resp::Array(flat)
            }
            "HSET" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(wrong_args(name));
                }
                let hash = self.hash_or_create(&args[0])?;
                let mut added = 0;
                for pair in args[1..].chunks(2) {
                    if hash.insert(pair[0].clone(), pair[1].clone()).is_none() {
                        added += 1;
                    }
                }
                Resp::Int(added)
            }
            "HDEL" => {
                arity(2)?;
                let mut removed = 0;
                if let Some(hash) = self.hash(&args[0])? {
                    for field in &args[1..] {
                        if hash.remove(field).is_some() {
                            removed += 1;
                        }
                    }
                }
                self.drop_if_empty(&args[0]);
                Resp::Int(removed)
            }
            "HINCRBY" => {
                arity(3)?;
                let by = int(&args[2])?;
                let hash = self.hash_or_create(&args[0])?;
                let current = match hash.get(&args[1]) {
                    Some(value) => {
                        value.parse::<i64>().map_err(|_| Resp::Error("ERR hash value is not an integer".to_owned()))?
                    }
                    None => 0,
                };
                let next = current.checked_add(by).ok_or_else(not_integer)?;
                hash.insert(args[1].clone(), next.to_string());
                Resp::Int(next)
            }
            "RPUSH" => {
                arity(2)?;
                if self.list(&args[0])?.is_none() {
                    self.entries
                        .insert(args[0].clone(), Entry { value: Value::List(VecDeque::new()), expires_at: None });
                }
                let list = self.list(&args[0])?.ok_or_else(|| Resp::Error(WRONG_TYPE.to_owned()))?;
                list.extend(args[1..].iter().cloned());
                Resp::Int(list.len() as i64)
            }
            "LPOP" => {
                arity(1)?;
                let popped = self.list(&args[0])?.and_then(|list| list.pop_front());
                self.drop_if_empty(&args[0]);
                popped.map(Resp::Bulk).unwrap_or(Resp::Nil)
            }
            "LINDEX" => {
                arity(2)?;
                let index = int(&args[1])?;
                let Some(list) = self.list(&args[0])? else {
                    return Ok(Resp::Nil);
                };
                let index = if index < 0 { list.len() as i64 + index } else { index };
                match usize::try_from(index).ok().and_then(|index| list.get(index)) {
                    Some(item) => Resp::Bulk(item.clone()),
                    None => Resp::Nil,
                }
            }
            "LRANGE" => {
                arity(3)?;
                let (start, stop) = (int(&args[1])?, int(&args[2])?);
                let Some(list) = self.list(&args[0])? else {
                    return Ok(Resp::Array(Vec::new()));
                };
                match list_range(list.len(), start, stop) {
                    Some((from, to)) => Resp::Array(list.range(from..=to).cloned().map(Resp::Bulk).collect()),
                    None => Resp::Array(Vec::new()),
                }
            }
            "LLEN" => {
                arity(1)?;
                Resp::Int(self.list(&args[0])?.map_or(0, |list| list.len() as i64))
            }
            "ZADD" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(wrong_args(name));
                }
                if self.sorted_set(&args[0])?.is_none() {
                    self.entries
                        .insert(args[0].clone(), Entry { value: Value::SortedSet(HashMap::new()), expires_at: None });
                }
                let set = self.sorted_set(&args[0])?.ok_or_else(|| Resp::Error(WRONG_TYPE.to_owned()))?;
                let mut added = 0;
                for pair in args[1..].chunks(2) {
                    let score = parse_score(&pair[0])
                        .filter(|(_, exclusive)| !exclusive)
                        .map(|(score, _)| score)
                        .ok_or_else(|| Resp::Error("ERR value is not a valid float".to_owned()))?;
                    if set.insert(pair[1].clone(), score).is_none() {
                        added += 1;
                    }
                }
                Resp::Int(added)
            }
            "ZREM" => {
                arity(2)?;
                let mut removed = 0;
                if let Some(set) = self.sorted_set(&args[0])? {
                    for member in &args[1..] {
                        if set.remove(member).is_some() {
                            removed += 1;
                        }
                    }
                }
                self.drop_if_empty(&args[0]);
                Resp::Int(removed)
            }
            "ZSCORE" => {
                arity(2)?;
                match self.sorted_set(&args[0])?.and_then(|set| set.get(&args[1])) {
                    Some(score) => Resp::Bulk(format_score(*score)),
                    None => Resp::Nil,
                }
            }
            "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" => {
                arity(3)?;
                let reverse = name == "ZREVRANGEBYSCORE";
                let bad_range = || Resp::Error("ERR min or max is not a float".to_owned());
                let (low, high) = if reverse { (&args[2], &args[1]) } else { (&args[1], &args[2]) };
                let min = parse_score(low).ok_or_else(bad_range)?;
                let max = parse_score(high).ok_or_else(bad_range)?;
                let mut with_scores = false;
                let (mut offset, mut count) = (0, usize::MAX);
                let mut rest = args[3..].iter();
                while let Some(word) = rest.next() {
                    match word.to_ascii_uppercase().as_str() {
                        "WITHSCORES" => with_scores = true,
                        "LIMIT" => {
                            let syntax = || Resp::Error("ERR syntax error".to_owned());
                            offset = int(rest.next().ok_or_else(syntax)?)?.max(0) as usize;
                            let limit = int(rest.next().ok_or_else(syntax)?)?;
                            count = if limit < 0 { usize::MAX } else { limit as usize };
                        }
                        _ => return Err(Resp::Error("ERR syntax error".to_owned())),
                    }
                }
                let Some(set) = self.sorted_set(&args[0])? else {
                    return Ok(Resp::Array(Vec::new()));
                };
                let mut members: Vec<(&String, f64)> = set
                    .iter()
                    .filter(|(_, score)| within(**score, min, true) && within(**score, max, false))
                    .map(|(m, s)| (m, *s))
                    .collect();
                members.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
                if reverse {
                    members.reverse();
                }
                let mut reply = Vec::new();
                for (member, score) in members.into_iter().skip(offset).take(count) {
                    reply.push(Resp::Bulk(member.clone()));
                    if with_scores {
                        reply.push(Resp::Bulk(format_score(score)));
                    }
                }
                Resp::Array(reply)
            }
            "HKEYS" => {
                arity(1)?;
                let keys = self.hash(&args[0])?.map(|hash| hash.keys().cloned().collect()).unwrap_or_else(Vec::new);
                Resp::Array(keys.into_iter().map(Resp::Bulk).collect())
            }
            "HEXISTS" => {
                arity(2)?;
                Resp::Int(self.hash(&args[0])?.is_some_and(|hash| hash.contains_key(&args[1])) as i64)
            }
            "GET" => {
                arity(1)?;
                match self.live(&args[0]) {
                    None => Resp::Nil,
                    Some(Entry { value: Value::Text(text), .. }) => Resp::Bulk(text.clone()),
                    Some(_) => return Err(Resp::Error(WRONG_TYPE.to_owned())),
                }
            }
            "SET" => {
                arity(2)?;
                let expires_at = match args.get(2).map(|word| word.to_ascii_uppercase()) {
                    None => None,
                    Some(word) if word == "EX" && args.len() == 4 => {
                        Some(Instant::now() + Duration::from_secs(int(&args[3])?.max(0) as u64))
                    }
                    Some(_) => return Err(Resp::Error("ERR syntax error".to_owned())),
                };
                let value = Value::Text(args[1].clone());
                self.entries.insert(args[0].clone(), Entry { value, expires_at: None });
                self.set_expiry(&args[0], expires_at);
                Resp::Bulk("OK".to_owned())
            }
            "PUBLISH" => {
                arity(2)?;
                self.published.push(args[0].clone());
                Resp::Int(0)
            }
            _ => {
                return Err(Resp::Error(format!("ERR unknown command '{name}' in the memory store")));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keyspace: &mut Keyspace, words: &[&str]) -> Resp {
        keyspace.command(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn hashes_lists_and_sorted_sets_behave_like_redis() {
        let mut ks = Keyspace::default();
        assert_eq!(run(&mut ks, &["HSET", "h", "a", "1", "b", "2"]), Resp::Int(2));
        assert_eq!(run(&mut ks, &["HINCRBY", "h", "a", "5"]), Resp::Int(6));
        assert_eq!(run(&mut ks, &["HMGET", "h", "a", "zz"]), Resp::Array(vec![Resp::Bulk("6".into()), Resp::Nil]));
        assert_eq!(run(&mut ks, &["RPUSH", "l", "x", "y", "z"]), Resp::Int(3));
        assert_eq!(run(&mut ks, &["LPOP", "l"]), Resp::Bulk("x".into()));
        assert_eq!(
            run(&mut ks, &["LRANGE", "l", "0", "-1"]),
            Resp::Array(vec![Resp::Bulk("y".into()), Resp::Bulk("z".into())])
        );
        assert_eq!(run(&mut ks, &["LINDEX", "l", "-1"]), Resp::Bulk("z".into()));
        run(&mut ks, &["LPOP", "l"]);
        run(&mut ks, &["LPOP", "l"]);
        assert_eq!(run(&mut ks, &["EXISTS", "l"]), Resp::Int(0), "an emptied list is removed");
        assert!(matches!(run(&mut ks, &["LPOP", "h"]), Resp::Error(e) if e.starts_with("WRONGTYPE")));
        run(&mut ks, &["ZADD", "z", "3", "c", "1", "a", "2", "b"]);
        assert_eq!(
            run(&mut ks, &["ZRANGEBYSCORE", "z", "-inf", "2", "LIMIT", "0", "10"]),
            Resp::Array(vec![Resp::Bulk("a".into()), Resp::Bulk("b".into())])
        );
        assert_eq!(run(&mut ks, &["ZSCORE", "z", "c"]), Resp::Bulk("3".into()));
    }

    #[test]
    fn ttls_follow_redis_rules() {
        let mut ks = Keyspace::default();
        run(&mut ks, &["HSET", "h", "a", "1"]);
        assert_eq!(run(&mut ks, &["TTL", "h"]), Resp::Int(-1));
        assert_eq!(run(&mut ks, &["EXPIRE", "h", "100", "NX"]), Resp::Int(1));
        assert_eq!(run(&mut ks, &["EXPIRE", "h", "5", "NX"]), Resp::Int(0), "NX keeps an existing TTL");
        assert_eq!(run(&mut ks, &["TTL", "h"]), Resp::Int(100));
        assert_eq!(run(&mut ks, &["TTL", "missing"]), Resp::Int(-2));
        run(&mut ks, &["PEXPIRE", "h", "1"]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(run(&mut ks, &["EXISTS", "h"]), Resp::Int(0));
        ks.purge_expired();
        assert!(ks.scan("").is_empty());
    }
}
