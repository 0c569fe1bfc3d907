-- Task definitions, as operators' tools read them (the `mageflow` CLI, its MCP server).
--
-- Every client that registers tasks publishes their definitions when it is built. All of them live in ONE hash,
-- KEYS[1] = `<prefix>:tasks` (field: the task's name, value: its definition as JSON), so that listing them is one
-- call on one key, and a Redis Cluster runs the script on the slot of that key. The hash never expires (task
-- definitions are the only state without a TTL). This script is apart from the transition script (engine.lua): it
-- touches no flow state.
--
-- ARGV[1] is the operation:
--   publish name json [name json ...]  writes these definitions (a task published again is replaced);
--                                      replies the number of definitions written
--   list                               replies the hash as a flat list: name, json, name, json, ...
--   get name                           replies the definition of one task, or nil
local op = ARGV[1]
if op == 'publish' then
  if #ARGV % 2 == 0 then
    return redis.error_reply('definitions.lua: publish takes pairs of name and definition')
  end
  local written = 0
  for i = 2, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    written = written + 1
  end
  return written
elseif op == 'list' then
  return redis.call('HGETALL', KEYS[1])
elseif op == 'get' then
  return redis.call('HGET', KEYS[1], ARGV[2])
end
return redis.error_reply('definitions.lua: unknown operation ' .. tostring(op))
