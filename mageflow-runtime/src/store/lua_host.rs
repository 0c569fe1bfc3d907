//! Runs Redis scripts in an embedded Lua 5.1 (the version Redis embeds) against a [`Keyspace`]: the `redis` table
//! (`call`, `pcall`, `error_reply`, `status_reply`, `log`), `ARGV` and `KEYS`, and Redis's conversions between Lua
//! values and replies.

use std::collections::HashMap;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::keyspace::{Keyspace, Resp};
use super::{Reply, Script, StoreError};

/// A Lua state with the `redis` API over its own keyspace, and the scripts it has loaded.
pub(crate) struct LuaHost {
    lua: Lua,
    scripts: HashMap<String, Function>,
}

fn lua_error(error: mlua::Error) -> StoreError {
    StoreError::script(error.to_string()).caused_by(error)
}

/// Turns the arguments of `redis.call` into command words, as Redis does (strings and numbers only).
fn command_words(lua: &Lua, args: MultiValue) -> mlua::Result<Vec<String>> {
    let mut words = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            Value::String(_) | Value::Number(_) | Value::Integer(_) => {
                let text = lua.coerce_string(arg)?.ok_or_else(|| {
                    mlua::Error::RuntimeError("Lua redis lib command arguments must be strings or integers".into())
                })?;
                words.push(String::from_utf8_lossy(&text.as_bytes()).into_owned());
            }
            _ => {
                return Err(mlua::Error::RuntimeError(
                    "Lua redis lib command arguments must be strings or integers".into(),
                ));
            }
        }
    }
    Ok(words)
}

/// A reply as a Lua value: integers become numbers, nil bulk strings `false`, statuses `{ok=...}`.
fn reply_to_lua(lua: &Lua, reply: Resp) -> mlua::Result<Value> {
    Ok(match reply {
        Resp::Nil => Value::Boolean(false),
        Resp::Int(number) => Value::Number(number as f64),
        Resp::Bulk(text) => Value::String(lua.create_string(&text)?),
        Resp::Error(text) => {
            let table = lua.create_table()?;
            table.set("err", text)?;
            Value::Table(table)
        }
        Resp::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (index, item) in items.into_iter().enumerate() {
                table.raw_set(index + 1, reply_to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
    })
}

/// A script's return value as a reply, with Redis's rules: numbers are truncated, `false` is nil, a table is an
/// array up to its first nil, `{err=...}` is an error and `{ok=...}` a status.
fn lua_to_reply(value: Value) -> Result<Reply, StoreError> {
    Ok(match value {
        Value::Nil | Value::Boolean(false) => Reply::Nil,
        Value::Boolean(true) => Reply::Int(1),
        Value::Integer(number) => Reply::Int(number),
        Value::Number(number) => Reply::Int(number as i64),
        Value::String(text) => Reply::Text(String::from_utf8_lossy(&text.as_bytes()).into_owned()),
        Value::Table(table) => {
            if let Ok(Value::String(error)) = table.raw_get::<Value>("err") {
                return Err(StoreError::script(String::from_utf8_lossy(&error.as_bytes()).into_owned()));
            }
            if let Ok(Value::String(status)) = table.raw_get::<Value>("ok") {
                return Ok(Reply::Text(String::from_utf8_lossy(&status.as_bytes()).into_owned()));
            }
            let mut items = Vec::new();
            for index in 1.. {
                let item: Value = table.raw_get(index).map_err(lua_error)?;
                if item.is_nil() {
                    break;
                }
                items.push(lua_to_reply(item)?);
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    })
}

fn redis_call(lua: &Lua, args: MultiValue, protected: bool) -> mlua::Result<Value> {
    let words = command_words(lua, args)?;
    let reply = {
        let mut keyspace = lua
            .app_data_mut::<Keyspace>()
            .ok_or_else(|| mlua::Error::RuntimeError("the memory store's keyspace is missing".into()))?;
        keyspace.command(&words)
    };
    match reply {
        Resp::Error(message) if !protected => Err(mlua::Error::RuntimeError(message)),
        reply => reply_to_lua(lua, reply),
    }
}

fn install_redis_api(lua: &Lua) -> mlua::Result<()> {
    let redis: Table = lua.create_table()?;
    redis.set("call", lua.create_function(|lua, args: MultiValue| redis_call(lua, args, false))?)?;
    redis.set("pcall", lua.create_function(|lua, args: MultiValue| redis_call(lua, args, true))?)?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, message: String| {
            let table = lua.create_table()?;
            table.set("err", message)?;
            Ok(table)
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, message: String| {
            let table = lua.create_table()?;
            table.set("ok", message)?;
            Ok(table)
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, (_level, message): (Value, String)| {
            tracing::debug!(target: "mageflow::store::memory", "{message}");
            Ok(())
        })?,
    )?;
    for (index, name) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].into_iter().enumerate() {
        redis.set(name, index)?;
    }
    lua.globals().set("redis", redis)
}

impl LuaHost {
    pub(crate) fn new() -> Result<Self, StoreError> {
        let lua = Lua::new();
        install_redis_api(&lua).map_err(lua_error)?;
        lua.set_app_data(Keyspace::default());
        Ok(LuaHost { lua, scripts: HashMap::new() })
    }

    /// Runs a script with these `KEYS` and `ARGV`, atomically (the host is used by one caller at a time). Returns the
    /// reply and the channels published to.
    pub(crate) fn eval(
        &mut self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<(Reply, Vec<String>), StoreError> {
        let function = match self.scripts.get(script.sha1()) {
            Some(function) => function.clone(),
            None => {
                let function = match script.as_library() {
                    // a library is loaded once, as Redis loads a Function library: running its chunk yields the
                    // entry point, called with KEYS and ARGV as arguments
                    Some(library) => self
                        .lua
                        .load(library.chunk)
                        .set_name(format!("@user_function:{}", library.name))
                        .call::<Function>(())
                        .map_err(lua_error)?,
                    None => self
                        .lua
                        .load(script.source())
                        .set_name(format!("@user_script:{}", &script.sha1()[..8]))
                        .into_function()
                        .map_err(lua_error)?,
                };
                self.scripts.insert(script.sha1().to_owned(), function.clone());
                function
            }
        };
        let slots: std::collections::HashSet<u16> = keys.iter().map(|key| super::slot_of(key)).collect();
        if slots.len() > 1 {
            return Err(StoreError::protocol(format!(
                "CROSSSLOT: the keys {keys:?} of one script call hash to {} slots of a Redis Cluster",
                slots.len()
            )));
        }
        let declared = keys.iter().cloned().collect();
        self.with_keyspace(|keyspace| keyspace.declare(Some(declared)));
        let argv = self.lua.create_sequence_from(args).map_err(lua_error)?;
        let keys = self.lua.create_sequence_from(keys).map_err(lua_error)?;
        let outcome = if script.as_library().is_some() {
            function.call::<Value>((keys, argv))
        } else {
            let globals = self.lua.globals();
            globals.set("ARGV", argv).map_err(lua_error)?;
            globals.set("KEYS", keys).map_err(lua_error)?;
            function.call::<Value>(())
        };
        let outcome = outcome.map_err(lua_error).and_then(lua_to_reply);
        self.with_keyspace(|keyspace| keyspace.declare(None));
        let published = self.with_keyspace(|keyspace| keyspace.take_published());
        outcome.map(|reply| (reply, published))
    }

    /// Gives access to the keyspace outside scripts (reads, task definitions, scans).
    pub(crate) fn with_keyspace<T>(&mut self, f: impl FnOnce(&mut Keyspace) -> T) -> T {
        match self.lua.app_data_mut::<Keyspace>() {
            Some(mut keyspace) => f(&mut keyspace),
            None => f(&mut Keyspace::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(host: &mut LuaHost, source: &'static str, args: &[&str]) -> Result<Reply, StoreError> {
        host.eval(&Script::new(source), vec!["h".to_owned()], args.iter().map(|a| a.to_string()).collect())
            .map(|(reply, _)| reply)
    }

    #[test]
    fn scripts_touch_only_declared_keys_of_one_slot() {
        let mut host = LuaHost::new().unwrap();
        let error = eval(&mut host, "return redis.call('HGET', 'elsewhere', 'f')", &[]).unwrap_err();
        assert!(error.to_string().contains("`elsewhere` without declaring it"), "{error}");
        let script = Script::new("return 1");
        let spread = host.eval(&script, vec!["a".into(), "b".into()], Vec::new()).unwrap_err();
        assert!(spread.to_string().contains("CROSSSLOT"), "{spread}");
        let tagged = host.eval(&script, vec!["p:{7}:a".into(), "p:{7}:b".into()], Vec::new()).unwrap();
        assert_eq!(tagged.0, Reply::Int(1));
        // outside scripts, any key goes
        assert_eq!(host.with_keyspace(|keyspace| keyspace.command(&["GET".into(), "x".into()])), Resp::Nil);
    }

    #[test]
    fn conversions_match_redis() {
        let mut host = LuaHost::new().unwrap();
        assert_eq!(eval(&mut host, "return 3.7", &[]).unwrap(), Reply::Int(3));
        assert_eq!(eval(&mut host, "return false", &[]).unwrap(), Reply::Nil);
        assert_eq!(
            eval(&mut host, "return {1, 'a', {}, nil, 'lost'}", &[]).unwrap(),
            Reply::Array(vec![Reply::Int(1), Reply::Text("a".into()), Reply::Array(vec![])])
        );
        assert_eq!(
            eval(&mut host, "redis.call('HSET', 'h', 'n', 41) return redis.call('HINCRBY', 'h', 'n', ARGV[1])", &["1"])
                .unwrap(),
            Reply::Int(42)
        );
        assert_eq!(eval(&mut host, "return redis.call('HGET', 'h', 'missing')", &[]).unwrap(), Reply::Nil);
        let error = eval(&mut host, "return redis.call('LPOP', 'h')", &[]).unwrap_err();
        assert!(error.to_string().contains("WRONGTYPE"), "{error}");
        let error = eval(&mut host, "return redis.error_reply('boom')", &[]).unwrap_err();
        assert!(error.to_string().contains("boom"), "{error}");
        assert_eq!(eval(&mut host, "return redis.pcall('LPOP', 'h')['err'] ~= nil", &[]).unwrap(), Reply::Int(1));
    }

    #[test]
    fn publishes_are_reported() {
        let mut host = LuaHost::new().unwrap();
        let (_, published) =
            host.eval(&Script::new("redis.call('PUBLISH', 'chan', 'x') return 1"), Vec::new(), Vec::new()).unwrap();
        assert_eq!(published, vec!["chan".to_owned()]);
    }
}
