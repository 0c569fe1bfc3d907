-- mageflow's state machine: every transition of a flow is one call of this script, so it is atomic and costs one
-- round trip. The same script runs in Redis (EVALSHA) and in the embedded MemoryStore (an in-process Lua 5.1 over
-- an in-memory keyspace), so both stores share one implementation of the semantics.
--
-- ARGV[1] operation, ARGV[2] key prefix, ARGV[3..8] TTLs in seconds (task active, task done, chain active, chain
-- done, swarm active, swarm done), ARGV[9] the caller's clock (ms since the epoch), ARGV[10] the length of a run's
-- lease (ms), ARGV[11..] the operation's arguments. The caller's clock spares a TIME call: every redis.call costs, and timestamps only order the outbox
-- (against a grace of seconds) and date signatures.
--
-- Keys (P = prefix):
--   P:sig:<id>            hash: one signature (fields below)
--   P:sig:<id>:children   list: a chain's steps or a swarm's items, in position order
--   P:sig:<id>:queue      list: a swarm's items not started yet (FIFO)
--   P:sig:<id>:results    hash: a swarm's item outcomes by position (and `swarm`: the swarm's id)
--   P:outbox              sorted set: tasks dispatched but not begun, scored by dispatch time (ms)
--   P:leases              sorted set: task runs under way, scored by the expiry of their lease (ms)
--   P:journal:<id>        list: the ids a task run created, in order, replayed to its retries
-- Signature fields: kind, task (name), status, prev (status before the last change), parent, pos, on_ok / on_err
-- (space-separated callback ids), args (bound arguments: JSON objects, one per line, later lines winning), rf
-- (return field), msg / route (the message it was started with, and whether that message goes to its return
-- field), token (dispatch counter), attempt (the last attempt that began, counting lost ones), base (the attempts
-- that earlier, lost dispatches used), lease (when the lease of the run under way expires, ms), ref (the backend's
-- reference of the run), result / error (JSON),
-- created / finished (s), next (the flow a task continued with, also its only child). Chains add step; swarms add
-- maxc, stop_after, max_items, closed, started, n (items), running, ok_n, fail_n, and raw=1 when their result
-- lists the items' outputs themselves instead of outcomes. Items of a swarm that hold a running slot have slot=1.
--
-- Operations: batch (create, run, add items, update arguments, close: see "batches" below), begin, renew, succeed,
-- fail, continue, suspend, interrupt, resume, cancel, recover.
--
-- Runs and leases: a run that begins holds a lease, which its worker renews while the handler runs. While the lease
-- holds, another delivery of the same dispatch is busy and does not run: one execution at a time per run. When the
-- lease expires (its process died or was cut off), recover dispatches the run again with a new token, so that a late
-- report of the lost execution is stale; the lost attempt counts (base), and the worker fails a run whose attempts
-- are used up with the kind `lost`.
--
-- Every operation returns {code, dispatches, interrupts, extra}: dispatches are tasks to hand to the backend, each
-- {id, token, task, msg, route, rf, args...} with the bound arguments of the task and of each of its ancestors,
-- nearest first; interrupts are running tasks to abort, each {id, ref} with the backend's reference of the run
-- (the field `ref`, recorded when the run began); extra is operation-specific.

local OP = ARGV[1]
local P = ARGV[2]
local TTL = {
  task = { tonumber(ARGV[3]), tonumber(ARGV[4]) },
  chain = { tonumber(ARGV[5]), tonumber(ARGV[6]) },
  swarm = { tonumber(ARGV[7]), tonumber(ARGV[8]) },
}
local NOW_MS = tonumber(ARGV[9])
-- signatures keep seconds: a 32-bit integer is smaller in a Redis hash than milliseconds
local NOW_S = math.floor(NOW_MS / 1000)
local LEASE_MS = tonumber(ARGV[10])
local A = 11
local OUTBOX = P .. ':outbox'
local LEASES = P .. ':leases'

local dispatches = {}
local interrupts = {}

local function key(id) return P .. ':sig:' .. id end

-- A running task to abort: its id and the backend's reference of its run (empty when unknown).
local function runnable(s) return s == 'pending' or s == 'active' end
local function stopped(s) return s == 'suspended' or s == 'interrupted' end
local function finished(s) return s == 'done' or s == 'failed' or s == 'canceled' end

local function result(code, extra)
  if #dispatches > 0 then redis.call('PEXPIRE', OUTBOX, TTL.task[1] * 1000) end
  return { code, dispatches, interrupts, extra or {} }
end

local function lookup(id)
  return unpack(redis.call('HMGET', key(id), 'kind', 'status'))
end

-- The runs' own operations come first: they are the most frequent, and the functions defined after them are not
-- built for them.

-- ---- runs ----------------------------------------------------------------------------------------------------

if OP == 'begin' then
  -- id, token, attempt (as the backend counts it), the backend's reference of the run, the run's creation journal
  -- (or ''): may this delivery run? Replies {attempt} with the attempt counting lost ones, then, for a retry, the
  -- ids its earlier attempts created.
  local id, token, attempt, ref, journal = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3], ARGV[A + 4]
  local k = key(id)
  local kind, status, current, begun, base, lease, continued =
    unpack(redis.call('HMGET', k, 'kind', 'status', 'token', 'attempt', 'base', 'lease', 'next'))
  if not kind then return result('missing') end
  if current ~= token then return result('stale', { status }) end
  redis.call('ZREM', OUTBOX, id)
  if finished(status) then return result('finished', { status }) end
  if continued then return result('continued', { status }) end
  attempt = tonumber(attempt) + tonumber(base or 0)
  if (status == 'active' or status == 'suspended') and tonumber(lease or 0) > NOW_MS
    and attempt <= tonumber(begun or 0) then
    -- this attempt (or a later one) is under way elsewhere, and its lease holds
    return result('busy', { status })
  end
  if stopped(status) then
    -- an earlier attempt's lease, if any, ended with that attempt
    redis.call('HSET', k, 'prev', 'active')
    if lease then
      redis.call('HDEL', k, 'lease')
      redis.call('ZREM', LEASES, id)
    end
    return result('stopped', { status })
  end
  local expiry = NOW_MS + LEASE_MS
  local writes = { 'status', 'active', 'attempt', attempt, 'lease', expiry }
  if ref and ref ~= '' then
    writes[#writes + 1] = 'ref'
    writes[#writes + 1] = ref
  end
  if status ~= 'active' then
    writes[#writes + 1] = 'prev'
    writes[#writes + 1] = status
  end
  redis.call('HSET', k, unpack(writes))
  redis.call('ZADD', LEASES, expiry, id)
  if journal and journal ~= '' and attempt > 1 then
    local replay = redis.call('LRANGE', journal, 0, -1)
    table.insert(replay, 1, tostring(attempt))
    return result('run', replay)
  end
  return result('run', { tostring(attempt) })
end

if OP == 'renew' then
  -- id, token, lease length (ms): the run of this dispatch is still under way; replies `lost` when it no longer
  -- holds the signature (a newer dispatch replaced it, or the signature finished or was interrupted)
  local id, token, length = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
  local k = key(id)
  local status, current, continued = unpack(redis.call('HMGET', k, 'status', 'token', 'next'))
  if current ~= token or continued or not (status == 'active' or status == 'suspended') then
    return result('lost', { status or 'missing' })
  end
  local expiry = NOW_MS + length
  redis.call('HSET', k, 'lease', expiry)
  redis.call('ZADD', LEASES, expiry, id)
  return result('ok')
end

-- ---- the engine ----------------------------------------------------------------------------------------------

local function interrupt(id)
  interrupts[#interrupts + 1] = { id, redis.call('HGET', key(id), 'ref') or '' }
end

local function split(text)
  local out = {}
  if text then
    for word in string.gmatch(text, '%S+') do out[#out + 1] = word end
  end
  return out
end

local function json_string(text)
  local escaped = string.gsub(text, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return string.format('\\u%04x', string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

-- A failure report (the JSON of `Failure`) for failures the script decides itself.
local function failure_json(id, kind, message)
  local name, msg, attempt = unpack(redis.call('HMGET', key(id), 'task', 'msg', 'attempt'))
  return '{"task":' .. json_string(name or '') .. ',"signature_id":' .. json_string(id) ..
    ',"input":' .. (msg or 'null') .. ',"error":{"kind":"' .. kind .. '","message":' .. json_string(message) ..
    ',"attempt":' .. (attempt or '0') .. '}}'
end

local KINDS = { task = true, chain = true, swarm = true }
local STATUSES = { pending = true, active = true, done = true, failed = true, suspended = true, interrupted = true,
                   canceled = true }

-- What makes a stored record unusable, or nil: it is missing (expired or deleted), or a field the engine relies on
-- holds something it never writes.
local function damage(kind, status, token)
  if not kind then return 'missing (it expired or was deleted)' end
  if not KINDS[kind] then return 'damaged (kind = ' .. kind .. ')' end
  if not STATUSES[status or ''] then return 'damaged (status = ' .. tostring(status) .. ')' end
  if token and not tonumber(token) then return 'damaged (token = ' .. token .. ')' end
  return nil
end

-- The failure a flow ends with when the record of one of its parts (`role`, e.g. "step 2 of chain X") is unusable.
local function damaged_json(id, role, problem, msg)
  return '{"task":"","signature_id":' .. json_string(id) .. ',"input":' .. (msg or 'null') ..
    ',"error":{"kind":"damaged","message":' ..
    json_string('the stored record of ' .. role .. ', signature ' .. id .. ', is ' .. problem ..
      ', so the flow cannot go on') .. ',"attempt":0}}'
end

local function set_ttl(id, kind, ttl, continued)
  local k = key(id)
  redis.call('EXPIRE', k, ttl)
  if kind ~= 'task' or continued then
    redis.call('EXPIRE', k .. ':children', ttl)
    if kind == 'swarm' then
      redis.call('EXPIRE', k .. ':queue', ttl)
      redis.call('EXPIRE', k .. ':results', ttl)
    end
  end
end

local function publish(id, status)
  redis.call('PUBLISH', P .. ':finished:' .. id, status)
end

-- Hands a task to the backend: a new dispatch token (older deliveries become stale), an outbox entry (removed when
-- the run begins), and the bound arguments of the task and its ancestors. `token`, `task`, `rf`, `args` and
-- `parent` are the task's stored fields; `writes` are more fields to store with the new token; `parent_fields`, when
-- given, are the parent's args and parent, already read.
local function send(id, token, msg, route, task, rf, args, parent, writes, parent_fields)
  token = tonumber(token or 0) + 1
  writes[#writes + 1] = 'token'
  writes[#writes + 1] = token
  redis.call('HSET', key(id), unpack(writes))
  local entry = { id, tostring(token), task or '', msg or 'null', route or '0', rf or '' }
  if args then entry[#entry + 1] = args end
  local depth = 0
  while parent and parent ~= '' and depth < 100 do
    local parent_args, grandparent
    if depth == 0 and parent_fields then
      parent_args, grandparent = parent_fields[1], parent_fields[2]
    else
      parent_args, grandparent = unpack(redis.call('HMGET', key(parent), 'args', 'parent'))
    end
    if parent_args then entry[#entry + 1] = parent_args end
    parent = grandparent
    depth = depth + 1
  end
  redis.call('ZADD', OUTBOX, NOW_MS, id)
  dispatches[#dispatches + 1] = entry
end

-- Dispatches a stored task again with the message it keeps (resume, recovery).
local function dispatch(id)
  local token, task, msg, route, rf, args, parent =
    unpack(redis.call('HMGET', key(id), 'token', 'task', 'msg', 'route', 'rf', 'args', 'parent'))
  send(id, token, msg, route, task, rf, args, parent, {})
end

local start, complete, report, fill, terminate

-- Ends a signature and everything under it that has not finished: status canceled, done TTL, running tasks listed
-- for the backend to abort, callbacks dropped. Finished nodes keep their status.
terminate = function(id)
  local k = key(id)
  local kind, status, on_ok, on_err, continued =
    unpack(redis.call('HMGET', k, 'kind', 'status', 'on_ok', 'on_err', 'next'))
  if not kind or finished(status) then return end
  if kind == 'task' and not continued and (status == 'active' or stopped(status)) then interrupt(id) end
  redis.call('HSET', k, 'status', 'canceled', 'prev', status, 'finished', NOW_S)
  redis.call('HDEL', k, 'slot')
  redis.call('ZREM', OUTBOX, id)
  if kind == 'task' then redis.call('ZREM', LEASES, id) end
  set_ttl(id, kind, TTL[kind][2], continued)
  publish(id, 'canceled')
  if kind ~= 'task' or continued then
    for _, child in ipairs(redis.call('LRANGE', k .. ':children', 0, -1)) do terminate(child) end
    if kind == 'swarm' then redis.call('DEL', k .. ':queue') end
  end
  for _, callback in ipairs(split(on_ok)) do terminate(callback) end
  for _, callback in ipairs(split(on_err)) do terminate(callback) end
end

-- A signature receives the message it runs with. Tasks are dispatched, chains start their first step, swarms
-- fill their running slots. A stopped (suspended or interrupted) signature keeps the message and is marked due
-- (prev = active), so that resume starts it. `slot` marks a swarm item that takes a running slot; `parent_fields`
-- are its parent's args and parent, when the caller has read them. Returns the signature's kind; or false if it could
-- not start, with what is wrong with its record when it is missing or damaged. A chain whose first step is missing
-- or damaged fails.
start = function(id, msg, route, slot, parent_fields)
  local k = key(id)
  local kind, status, token, task, rf, args, parent =
    unpack(redis.call('HMGET', k, 'kind', 'status', 'token', 'task', 'rf', 'args', 'parent'))
  local problem = damage(kind, status, token)
  if problem then return false, problem end
  local is_stopped = stopped(status)
  if status ~= 'pending' and not is_stopped then return false end
  local writes = { 'msg', msg, 'route', route }
  if slot then
    writes[#writes + 1] = 'slot'
    writes[#writes + 1] = 1
  end
  if is_stopped then
    writes[#writes + 1] = 'prev'
    writes[#writes + 1] = 'active'
  end
  if kind == 'task' then
    if is_stopped then
      redis.call('HSET', k, unpack(writes))
    else
      send(id, token, msg, route, task, rf, args, parent, writes, parent_fields)
    end
    return kind
  end
  if not is_stopped then
    for _, v in ipairs({ 'status', 'active', 'prev', 'pending' }) do writes[#writes + 1] = v end
  end
  if kind == 'chain' then
    writes[#writes + 1] = 'step'
    writes[#writes + 1] = 0
    redis.call('HSET', k, unpack(writes))
    local first = redis.call('LINDEX', k .. ':children', 0)
    if first then
      local _, problem = start(first, msg, route)
      if problem then complete(id, false, damaged_json(first, 'step 1 of chain ' .. id, problem, msg)) end
    end
  else
    writes[#writes + 1] = 'started'
    writes[#writes + 1] = 1
    redis.call('HSET', k, unpack(writes))
    fill(id)
  end
  return kind
end

-- Completes a swarm that is closed, started and has an outcome for every item: its result is the list of item
-- outcomes in position order.
-- `known`, when given, is {status, closed, started, n, ok_n, fail_n}, already read.
local function check_complete(sid, known)
  local k = key(sid)
  local status, closed, started, n, ok_n, fail_n =
    unpack(known or redis.call('HMGET', k, 'status', 'closed', 'started', 'n', 'ok_n', 'fail_n'))
  if status ~= 'active' or closed ~= '1' or started ~= '1' then return end
  n = tonumber(n or 0)
  if tonumber(ok_n or 0) + tonumber(fail_n or 0) < n then return end
  local by_position = {}
  local flat = redis.call('HGETALL', k .. ':results')
  for i = 1, #flat, 2 do
    local position = tonumber(flat[i])
    if position then by_position[position + 1] = flat[i + 1] end
  end
  local parts = {}
  for i = 1, n do parts[i] = by_position[i] or 'null' end
  complete(sid, true, '[' .. table.concat(parts, ',') .. ']')
end

-- Starts queued swarm items while running slots are free (max_concurrency 0 means no limit), then checks
-- completion. Reads the counters from the store on every turn, since starting an item may complete it at once.
fill = function(sid)
  local k = key(sid)
  local status, started, maxc, running, msg, route, args, parent, closed, n, ok_n, fail_n = unpack(redis.call(
    'HMGET', k, 'status', 'started', 'maxc', 'running', 'msg', 'route', 'args', 'parent', 'closed', 'n', 'ok_n',
    'fail_n'))
  if status ~= 'active' or started ~= '1' then return end
  maxc = tonumber(maxc or 0)
  running = tonumber(running or 0)
  local nested = false
  while maxc == 0 or running < maxc do
    local item = redis.call('LPOP', k .. ':queue')
    if not item then break end
    running = redis.call('HINCRBY', k, 'running', 1)
    local kind, problem = start(item, msg or 'null', route or '0', true, { args, parent })
    if problem then
      -- the item fails in its position (items leave the queue in position order); report fills on
      local pos = tonumber(n or 0) - redis.call('LLEN', k .. ':queue') - 1
      report(sid, item, false, damaged_json(item, 'item ' .. (pos + 1) .. ' of swarm ' .. sid, problem, msg), pos, '1')
      return
    elseif not kind then
      -- the item ended before it could start (canceled while queued): it holds no slot
      running = redis.call('HINCRBY', k, 'running', -1)
      redis.call('HDEL', key(item), 'slot')
    elseif kind ~= 'task' then
      -- a chain or swarm item may have finished at once and changed this swarm: read it again
      nested = true
      local now_status, now_running = unpack(redis.call('HMGET', k, 'status', 'running'))
      if now_status ~= 'active' then return end
      running = tonumber(now_running or 0)
    end
  end
  -- starting tasks changes none of the fields completion depends on
  check_complete(sid, (not nested) and { status, closed, started, n, ok_n, fail_n } or nil)
end

-- A child of a container finished: a chain starts its next step or ends; a swarm records the outcome at the item's
-- position, frees the item's slot, stops at its failure threshold, or fills and checks completion.
-- `pos` and `slot` are the child's position and whether it held a running slot.
report = function(pid, cid, ok, payload, pos, slot)
  local pk = key(pid)
  local kind, status, raw, stop_after = unpack(redis.call('HMGET', pk, 'kind', 'status', 'raw', 'stop_after'))
  if not kind or finished(status) then return end
  if kind == 'task' then
    -- the flow a task continued with finished: the task finishes with its outcome
    complete(pid, ok, payload)
    return
  end
  if kind == 'chain' then
    if not ok then
      complete(pid, false, payload)
      return
    end
    local next_pos = tonumber(pos or 0) + 1
    local next_step = redis.call('LINDEX', pk .. ':children', next_pos)
    if next_step then
      redis.call('HSET', pk, 'step', next_pos)
      local _, problem = start(next_step, payload, '1')
      if problem then
        complete(pid, false, damaged_json(next_step, 'step ' .. (next_pos + 1) .. ' of chain ' .. pid, problem, payload))
      end
    else
      complete(pid, true, payload)
    end
    return
  end
  local results = pk .. ':results'
  local outcome
  if not ok then
    outcome = '{"failed":' .. payload .. '}'
  elseif raw == '1' then
    outcome = payload
  else
    outcome = '{"ok":' .. payload .. '}'
  end
  redis.call('HSET', results, pos or 0, outcome)
  if slot == '1' then redis.call('HINCRBY', pk, 'running', -1) end
  if ok then
    redis.call('HINCRBY', pk, 'ok_n', 1)
  else
    local failures = redis.call('HINCRBY', pk, 'fail_n', 1)
    local limit = tonumber(stop_after or 0)
    if limit > 0 and failures >= limit then
      complete(pid, false, failure_json(pid, 'swarm_failed',
        failures .. ' items failed, which reached stop_after_failures = ' .. limit))
      return
    end
  end
  fill(pid)
end

-- A signature finished with an outcome: record it, give it (and whatever of it will never run) the done TTL,
-- notify waiters, start the callbacks of the outcome and drop the others, and tell the parent.
local COMPLETE_FIELDS = { 'kind', 'status', 'parent', 'on_ok', 'on_err', 'next', 'pos', 'slot', 'token' }

-- `fields`, when given, are the signature's COMPLETE_FIELDS, already read.
complete = function(id, ok, payload, fields)
  local k = key(id)
  local kind, status, parent, on_ok, on_err, continued, pos, slot =
    unpack(fields or redis.call('HMGET', k, unpack(COMPLETE_FIELDS)))
  if not kind or finished(status) then return end
  local fire, drop = split(on_ok), split(on_err)
  if ok then
    -- a success callback that cannot run fails the signature instead, loudly
    for _, callback in ipairs(fire) do
      local problem = damage(unpack(redis.call('HMGET', key(callback), 'kind', 'status', 'token')))
      if problem then
        ok, payload = false, damaged_json(callback, 'the success callback of ' .. id, problem, payload)
        break
      end
    end
  end
  if not ok then fire, drop = drop, fire end
  local new_status = ok and 'done' or 'failed'
  local writes = { 'status', new_status, 'prev', status, ok and 'result' or 'error', payload, 'finished', NOW_S }
  if slot == '1' then
    -- the slot goes back to the parent in report, below
    writes[#writes + 1] = 'slot'
    writes[#writes + 1] = 0
  end
  redis.call('HSET', k, unpack(writes))
  if kind == 'task' and not continued then redis.call('ZREM', LEASES, id) end
  if kind == 'chain' or (kind == 'swarm' and not ok) then
    for _, child in ipairs(redis.call('LRANGE', k .. ':children', 0, -1)) do terminate(child) end
  end
  set_ttl(id, kind, TTL[kind][2], continued)
  publish(id, new_status)
  for _, callback in ipairs(drop) do terminate(callback) end
  for _, callback in ipairs(fire) do start(callback, payload, '1') end
  if parent and parent ~= '' then report(parent, id, ok, payload, pos, slot) end
end

if OP == 'succeed' or OP == 'fail' then
  -- id, token, payload (the result, or the failure report), the run's creation journal to drop (or '')
  local id, token, payload, journal = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
  local fields = redis.call('HMGET', key(id), unpack(COMPLETE_FIELDS))
  local kind, status = fields[1], fields[2]
  if not kind then return result('missing') end
  -- a run that a newer dispatch replaced (its lease was lost) reports nothing
  if fields[9] ~= token then return result('stale', { status }) end
  if not (runnable(status) or status == 'suspended') then return result('ignored', { status }) end
  complete(id, OP == 'succeed', payload, fields)
  if journal and journal ~= '' then redis.call('DEL', journal) end
  return result('ok')
end

-- ---- lifecycle -----------------------------------------------------------------------------------------------

-- Stops a signature and everything under it that has not finished. A task that was dispatched but has not begun
-- is marked due (prev = active) so that resume dispatches it again; interrupting lists running tasks to abort.
local function stop(id, mode)
  local k = key(id)
  local kind, status, continued = unpack(redis.call('HMGET', k, 'kind', 'status', 'next'))
  if not kind or finished(status) then return end
  local running_task = kind == 'task' and not continued
  if runnable(status) then
    local prev = status
    if kind == 'task' and status == 'pending' and redis.call('ZSCORE', OUTBOX, id) then prev = 'active' end
    redis.call('HSET', k, 'status', mode, 'prev', prev)
    if running_task and status == 'active' and mode == 'interrupted' then interrupt(id) end
  elseif status ~= mode and mode == 'interrupted' then
    redis.call('HSET', k, 'status', mode)
    if running_task then interrupt(id) end
  end
  if running_task and mode == 'interrupted' then
    -- the run is aborted: it holds no lease, and resume dispatches it again
    redis.call('HDEL', k, 'lease')
    redis.call('ZREM', LEASES, id)
  end
  if not running_task then
    for _, child in ipairs(redis.call('LRANGE', k .. ':children', 0, -1)) do stop(child, mode) end
  end
end

-- Resumes what stop stopped: due tasks are dispatched again, the rest returns to its previous status, and swarms
-- fill their free slots.
local function resume(id)
  local k = key(id)
  local kind, status, prev, continued = unpack(redis.call('HMGET', k, 'kind', 'status', 'prev', 'next'))
  if not kind or not stopped(status) then return end
  if kind == 'task' and not continued then
    if prev == 'active' and status == 'suspended' and tonumber(redis.call('HGET', k, 'lease') or 0) > NOW_MS then
      -- suspended while it ran, and its run is still under way (its lease holds): it goes on and reports
      redis.call('HSET', k, 'status', 'active', 'prev', status)
    elseif prev == 'active' then
      redis.call('HSET', k, 'status', 'pending', 'prev', status)
      dispatch(id)
    else
      redis.call('HSET', k, 'status', prev or 'pending', 'prev', status)
    end
    return
  end
  redis.call('HSET', k, 'status', prev or 'pending', 'prev', status)
  for _, child in ipairs(redis.call('LRANGE', k .. ':children', 0, -1)) do resume(child) end
  if kind == 'swarm' then fill(id) end
end

-- Walks signature records in ARGV from index i: a count, then per record id, kind, field count, field/value
-- pairs, child count, child ids. Calls visit(id, kind, first field index, field count, first child index, child
-- count) for each, and returns the index after the records.
if OP == 'suspend' or OP == 'interrupt' or OP == 'resume' or OP == 'cancel' then
  local id = ARGV[A]
  local kind, status = lookup(id)
  if not kind then return result('missing') end
  if finished(status) then return result('finished', { status }) end
  if OP == 'suspend' then
    stop(id, 'suspended')
  elseif OP == 'interrupt' then
    stop(id, 'interrupted')
  elseif OP == 'resume' then
    resume(id)
  else
    local parent, pos, slot = unpack(redis.call('HMGET', key(id), 'parent', 'pos', 'slot'))
    local failure = failure_json(id, 'canceled', 'canceled by request')
    terminate(id)
    if parent and parent ~= '' then report(parent, id, false, failure, pos, slot) end
  end
  return result('ok')
end

-- ---- creation ------------------------------------------------------------------------------------------------

local function scan_records(i, visit)
  local count = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, count do
    local id, kind, nfields = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    local fields_at = i + 3
    local nchildren = tonumber(ARGV[fields_at + 2 * nfields])
    local children_at = fields_at + 2 * nfields + 1
    visit(id, kind, fields_at, nfields, children_at, nchildren)
    i = children_at + nchildren
  end
  return i
end

local function field_of(fields_at, nfields, name)
  for j = 0, nfields - 1 do
    if ARGV[fields_at + 2 * j] == name then return ARGV[fields_at + 2 * j + 1] end
  end
  return nil
end

-- What a batch knows of the signatures it touches (see "batches" below).
local plan = {}

-- Creates the records at index i. Existing records are left as they are, so a re-sent creation changes nothing.
-- Swarm children are also queued. Returns the index after the records.
local function create_records(i)
  return scan_records(i, function(id, kind, fields_at, nfields, children_at, nchildren)
    local k = key(id)
    local planned_record = plan[id]
    if planned_record and planned_record.fresh then
      planned_record.fresh = false
    elseif redis.call('EXISTS', k) == 1 then
      return
    end
    local fields = { 'kind', kind, 'status', 'pending', 'created', NOW_S }
    for j = 0, 2 * nfields - 1 do fields[#fields + 1] = ARGV[fields_at + j] end
    redis.call('HSET', k, unpack(fields))
    redis.call('EXPIRE', k, TTL[kind][1])
    if kind == 'swarm' then
      -- the results hash exists from the start, with its TTL, so that recording an outcome is one command
      redis.call('HSET', k .. ':results', 'swarm', id)
      redis.call('EXPIRE', k .. ':results', TTL[kind][1])
    end
    if nchildren == 0 then return end
    local lists = { k .. ':children' }
    if kind == 'swarm' then
      lists[2] = k .. ':queue'
      redis.call('HSET', k, 'n', nchildren)
    end
    for _, list in ipairs(lists) do
      for from = children_at, children_at + nchildren - 1, 1000 do
        redis.call('RPUSH', list, unpack(ARGV, from, math.min(from + 999, children_at + nchildren - 1)))
      end
      redis.call('EXPIRE', list, TTL[kind][1])
    end
  end)
end

if OP == 'continue' then
  -- task id, token, the records of the flow it continues with (its root a child of the task), the root's id, its
  -- message, the run's creation journal to drop (or '')
  local id, token = ARGV[A], ARGV[A + 1]
  local k = key(id)
  local kind, status, continued, current = unpack(redis.call('HMGET', k, 'kind', 'status', 'next', 'token'))
  if not kind then return result('missing') end
  if current ~= token then return result('stale', { status }) end
  if continued or not (runnable(status) or status == 'suspended') then return result('ignored', { status }) end
  local i = create_records(A + 2)
  local next_id, msg, journal = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  -- the run ended: its lease with it
  redis.call('ZREM', LEASES, id)
  redis.call('HDEL', k, 'lease')
  redis.call('HSET', k, 'next', next_id)
  redis.call('RPUSH', k .. ':children', next_id)
  redis.call('EXPIRE', k .. ':children', TTL.task[1])
  if status == 'suspended' then stop(next_id, 'suspended') end
  start(next_id, msg, '0')
  if journal and journal ~= '' then redis.call('DEL', journal) end
  return result('ok')
end

-- ---- batches --------------------------------------------------------------------------------------------------
-- A batch is a list of sub-operations applied in one atomic call, all or nothing: every sub-operation is checked
-- first, against the store and against what the earlier sub-operations of the batch will have done (the plan);
-- only when all pass is anything written. The single operations that create or change flows are batches of one.
--   create   records                          store signatures
--   run      records, id, message             store signatures and start one with a message
--   add      swarm, close flag, n, ids, records   add items to a swarm (closing it, when asked or full)
--   update   id, arguments                    add a layer of bound arguments (a JSON object) to a signature
--   close    swarm                            close a swarm
--   journal  key, n, ids                      append ids to a task run's creation journal


-- What the batch knows of a signature: its state in the store, updated by the sub-operations checked so far.
local function planned(id)
  if plan[id] == nil then
    local kind, status, closed, n, max_items, token =
      unpack(redis.call('HMGET', key(id), 'kind', 'status', 'closed', 'n', 'max_items', 'token'))
    if kind then
      plan[id] = { kind = kind, status = status, closed = closed == '1', n = tonumber(n or 0),
                   max = tonumber(max_items or 0), problem = damage(kind, status, token) }
    else
      plan[id] = false
    end
  end
  return plan[id]
end

-- Plans records; an existing record must be the same signature (a creation replayed on retry), else the problem.
local function plan_records(i)
  local problem
  local after = scan_records(i, function(id, kind, fields_at, nfields, _, nchildren)
    local name = field_of(fields_at, nfields, 'task')
    local existing_kind, existing_name = unpack(redis.call('HMGET', key(id), 'kind', 'task'))
    if existing_kind then
      if not problem and (existing_kind ~= kind or existing_name ~= name) then
        problem = { 'mismatch', id, existing_kind .. ' ' .. (existing_name or ''), kind .. ' ' .. (name or '') }
      end
      planned(id)
    elseif plan[id] == nil or plan[id] == false then
      plan[id] = { kind = kind, status = 'pending', fresh = true, closed = field_of(fields_at, nfields, 'closed') == '1',
                   n = kind == 'swarm' and nchildren or 0,
                   max = tonumber(field_of(fields_at, nfields, 'max_items') or 0) }
    end
  end)
  return after, problem
end

-- Reads one sub-operation at index i: its description and the index after it.
local function parse_sub(i)
  local name = ARGV[i]
  i = i + 1
  if name == 'create' then
    return { op = name, at = i }, scan_records(i, function() end)
  elseif name == 'run' then
    local j = scan_records(i, function() end)
    return { op = name, at = i, id = ARGV[j], msg = ARGV[j + 1] }, j + 2
  elseif name == 'add' then
    local count = tonumber(ARGV[i + 2])
    local sub = { op = name, sid = ARGV[i], close = ARGV[i + 1] == '1', items_at = i + 3, count = count,
                  at = i + 3 + count }
    return sub, scan_records(sub.at, function() end)
  elseif name == 'update' then
    return { op = name, id = ARGV[i], layer = ARGV[i + 1] }, i + 2
  elseif name == 'close' then
    return { op = name, sid = ARGV[i] }, i + 1
  elseif name == 'journal' then
    local count = tonumber(ARGV[i + 1])
    return { op = name, journal = ARGV[i], at = i + 2, count = count }, i + 2 + count
  end
  error('mageflow: unknown batch operation ' .. tostring(name))
end

-- Checks one sub-operation against the plan and updates the plan; returns a problem, or nil.
local function check_sub(sub)
  if sub.op == 'create' then
    local _, problem = plan_records(sub.at)
    return problem
  elseif sub.op == 'run' then
    local _, problem = plan_records(sub.at)
    if problem then return problem end
    local target = planned(sub.id)
    if not target then return { 'missing', sub.id } end
    if target.problem then return { 'damaged', sub.id, target.problem } end
    if target.status ~= 'pending' and not stopped(target.status) then return { 'not_pending', sub.id, target.status } end
    target.status = 'active'
  elseif sub.op == 'add' then
    local swarm = planned(sub.sid)
    if not swarm then return { 'missing', sub.sid } end
    if swarm.kind ~= 'swarm' then return { 'wrong_kind', sub.sid, swarm.kind } end
    local new = {}
    for j = 0, sub.count - 1 do
      local item = ARGV[sub.items_at + j]
      -- an item already in the swarm (a re-sent call) is not added again
      if redis.call('HGET', key(item), 'parent') ~= sub.sid then new[#new + 1] = item end
    end
    sub.items = new
    if #new == 0 then return nil end
    if finished(swarm.status) then return { 'finished', sub.sid, swarm.status } end
    if swarm.closed then return { 'closed', sub.sid } end
    if swarm.max > 0 and swarm.n + #new > swarm.max then
      return { 'too_many', sub.sid, tostring(swarm.n), tostring(swarm.max) }
    end
    local _, problem = plan_records(sub.at)
    if problem then return problem end
    swarm.n = swarm.n + #new
    if sub.close or (swarm.max > 0 and swarm.n >= swarm.max) then swarm.closed = true end
  elseif sub.op == 'update' then
    local target = planned(sub.id)
    if not target then return { 'missing', sub.id } end
    if finished(target.status) then return { 'finished', sub.id, target.status } end
  elseif sub.op == 'close' then
    local swarm = planned(sub.sid)
    if not swarm then return { 'missing', sub.sid } end
    if swarm.kind ~= 'swarm' then return { 'wrong_kind', sub.sid, swarm.kind } end
    swarm.closed = true
  end
  return nil
end

local function apply_sub(sub)
  if sub.op == 'create' then
    create_records(sub.at)
  elseif sub.op == 'run' then
    create_records(sub.at)
    start(sub.id, sub.msg, '0')
  elseif sub.op == 'add' then
    if #sub.items == 0 then return end
    create_records(sub.at)
    local k = key(sub.sid)
    local n, max_items = unpack(redis.call('HMGET', k, 'n', 'max_items'))
    n = tonumber(n or 0)
    max_items = tonumber(max_items or 0)
    for j, item in ipairs(sub.items) do
      redis.call('HSET', key(item), 'parent', sub.sid, 'pos', n + j - 1)
    end
    for from = 1, #sub.items, 1000 do
      local last = math.min(from + 999, #sub.items)
      redis.call('RPUSH', k .. ':children', unpack(sub.items, from, last))
      redis.call('RPUSH', k .. ':queue', unpack(sub.items, from, last))
    end
    local ttl = redis.call('TTL', k)
    if ttl > 0 then
      redis.call('EXPIRE', k .. ':children', ttl)
      redis.call('EXPIRE', k .. ':queue', ttl)
    end
    redis.call('HSET', k, 'n', n + #sub.items)
    if sub.close or (max_items > 0 and n + #sub.items >= max_items) then redis.call('HSET', k, 'closed', 1) end
    fill(sub.sid)
  elseif sub.op == 'update' then
    -- layers are compact JSON, which never holds a raw newline
    local k = key(sub.id)
    local args = redis.call('HGET', k, 'args')
    redis.call('HSET', k, 'args', args and (args .. '\n' .. sub.layer) or sub.layer)
  elseif sub.op == 'close' then
    redis.call('HSET', key(sub.sid), 'closed', 1)
    if redis.call('HGET', key(sub.sid), 'status') == 'active' then fill(sub.sid) end
  elseif sub.op == 'journal' then
    if sub.count == 0 then return end
    redis.call('RPUSH', sub.journal, unpack(ARGV, sub.at, sub.at + sub.count - 1))
    redis.call('EXPIRE', sub.journal, TTL.task[1])
  end
end

if OP == 'batch' then
  -- a count, then the sub-operations, each its name followed by its arguments
  local count = tonumber(ARGV[A])
  local subs, i = {}, A + 1
  for n = 1, count do
    subs[n], i = parse_sub(i)
  end
  for n, sub in ipairs(subs) do
    local problem = check_sub(sub)
    if problem then
      table.insert(problem, 1, tostring(n))
      return result('refused', problem)
    end
  end
  for _, sub in ipairs(subs) do apply_sub(sub) end
  return result('ok')
end

if OP == 'recover' then
  -- grace in ms, limit: dispatch again the tasks dispatched longer ago than the grace that never began, and the runs
  -- whose lease expired (their process died or was cut off). Replies {runs whose lease was lost}.
  local grace, limit = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', OUTBOX, '-inf', NOW_MS - grace, 'LIMIT', 0, limit)) do
    local kind, status = lookup(id)
    if kind == 'task' and status == 'pending' then
      dispatch(id)
    else
      redis.call('ZREM', OUTBOX, id)
    end
  end
  local lost = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', NOW_MS, 'LIMIT', 0, limit)) do
    local k = key(id)
    local kind, status, lease, begun, continued =
      unpack(redis.call('HMGET', k, 'kind', 'status', 'lease', 'attempt', 'next'))
    redis.call('ZREM', LEASES, id)
    if kind == 'task' and not continued and lease and tonumber(lease) <= NOW_MS then
      if status == 'active' then
        -- the lost attempt counts: the next delivery's attempts follow it
        redis.call('HSET', k, 'status', 'pending', 'prev', 'active', 'base', begun or 0)
        redis.call('HDEL', k, 'lease')
        dispatch(id)
        lost = lost + 1
      elseif stopped(status) then
        -- prev is active: resume dispatches it again
        redis.call('HDEL', k, 'lease')
      end
    elseif kind == 'task' and lease and (status == 'active' or status == 'suspended') then
      -- renewed since it was indexed: keep it indexed at its expiry
      redis.call('ZADD', LEASES, lease, id)
    end
  end
  return result('ok', { tostring(lost) })
end

return redis.error_reply('mageflow: unknown operation ' .. tostring(OP))
