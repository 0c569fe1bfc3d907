//! What a store holds, for tests that check where state lives or damage it on purpose: the signatures stored under
//! a client's prefix, and ways to delete or corrupt a signature's record as an expiry or a stray write would.

use crate::client::Mageflow;
use crate::engine::protocol::{field, group_of};
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::SignatureId;
use crate::store::{Reply, Script};

/// The ids of every signature stored under the client's key prefix (in any group), sorted.
pub async fn stored_signatures(client: &Mageflow) -> Result<Vec<SignatureId>> {
    let engine = client.engine();
    let mut ids = Vec::new();
    let script = Script::new("return redis.call('HKEYS', KEYS[1])");
    for key in engine.store.scan(&format!("{}:", engine.keys.prefix())).await? {
        if !key.key.contains(":g:") {
            continue;
        }
        let fields = engine.store.eval(&script, vec![key.key], Vec::new()).await?;
        let fields = fields.as_array().unwrap_or_default().iter().filter_map(Reply::as_text);
        ids.extend(fields.filter_map(|field| field.strip_suffix("|h")).filter_map(SignatureId::parse));
    }
    ids.sort();
    Ok(ids)
}

/// The stored fields of signature `id`, by name, as the transition script keeps them.
pub async fn stored_record(client: &Mageflow, id: &SignatureId) -> Result<HashMap<String, String>> {
    let records = client.engine().read(id, false).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
    Ok(records.into_iter().next().map(|record| record.fields).unwrap_or_default())
}

/// Deletes the record of signature `id` (stored in the group its id names), as an expiry or a stray `HDEL` would.
/// Returns how many fields it removed.
pub async fn delete_record(client: &Mageflow, id: &SignatureId) -> Result<usize> {
    const DELETE: &str = "local gone = 0
        for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
          if string.sub(field, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
            gone = gone + redis.call('HDEL', KEYS[1], field)
          end
        end
        return gone";
    let engine = client.engine();
    let key = engine.keys.group(group_of(id));
    let reply = engine.store.eval(&Script::new(DELETE), vec![key], vec![id.to_string()]).await?;
    Ok(match reply {
        Reply::Int(n) => n.max(0) as usize,
        _ => 0,
    })
}

/// Overwrites one field of the record of signature `id` (stored in the group its id names), as a stray write would:
/// a field of its head (see `field::HEAD`) within the head, any other as the hash field `<id>|<field>`.
pub async fn corrupt_field(client: &Mageflow, id: &SignatureId, field: &str, value: &str) -> Result<()> {
    const IN_HEAD: &str = "local name = ARGV[1] .. '|h'
        local rest = redis.call('HGET', KEYS[1], name)
        if not rest then return redis.error_reply('signature ' .. ARGV[1] .. ' has no head') end
        local parts, count = {}, tonumber(ARGV[3])
        for i = 1, count - 1 do parts[i], rest = string.match(rest, '^(%S*) (.*)$') end
        parts[count] = rest
        parts[tonumber(ARGV[2])] = ARGV[4]
        return redis.call('HSET', KEYS[1], name, table.concat(parts, ' '))";
    let engine = client.engine();
    let key = engine.keys.group(group_of(id));
    let (script, args) = match field::HEAD.iter().position(|name| *name == field) {
        Some(at) => {
            let args = [id.to_string(), (at + 1).to_string(), field::HEAD.len().to_string(), value.to_owned()];
            (Script::new(IN_HEAD), args.to_vec())
        }
        None => {
            let script = Script::new("return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])");
            (script, vec![format!("{id}|{field}"), value.to_owned()])
        }
    };
    engine.store.eval(&script, vec![key], args).await?;
    Ok(())
}
