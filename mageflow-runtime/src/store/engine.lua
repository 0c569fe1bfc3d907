-- mageflow's state machine: every transition of a flow is one call of this script, so it is atomic and costs one
-- round trip. The same script runs in Redis (EVALSHA) and in the embedded MemoryStore (an in-process Lua 5.1 over
-- an in-memory keyspace), so both stores share one implementation of the semantics.
--
-- Layout (see docs/architecture.md, "The key layout"). Every key a call touches is in its KEYS, and all of them
-- share one hash tag, so that each call runs on one slot of a Redis Cluster:
--   KEYS[1] P:{s}:v2:g:<G>   hash: every signature stored in group G, as fields `<id>|h` (its head), `<id>|<field>`,
--                            `#live` and `#table`
--   KEYS[2] P:{s}:v2:outbox  sorted set: tasks dispatched but not begun, members `<G>|<id>`, scored by dispatch (ms)
--   KEYS[3] P:{s}:v2:leases  sorted set: task runs under way, members `<G>|<id>`, scored by their lease's expiry (ms)
--   KEYS[4] P:{s}:v2:flows   sorted set: root flows, members `<G>|<id>`, scored by creation (ms)
--   KEYS[5] P:{s}:v2:index   hash: root flows, `<G>|<id>` -> "<status> <finished s> <name>"
--   KEYS[6..] P:{s}:v2:ptr:<id>  string: the group a signature is stored in when that is not the group its id names
-- The shard operations (`due`, `flows`, `point`) take their own KEYS, described with them.
--
-- ARGV[1] operation, ARGV[2] the group G, ARGV[3] the caller's settings, "<active> <done> <keep> <outbox> <prefix>":
-- the active and the done TTL of a group (s: the largest of the kinds'), their sum (how long the flow index is kept,
-- s), the outbox's TTL (ms) and the key prefix (for the channels finished signatures are published on); ARGV[4] the
-- caller's clock (ms since the epoch), ARGV[5] the same in seconds, ARGV[6] when a lease taken now expires (ms),
-- ARGV[7..] the operation's arguments. The caller's clock spares a TIME call: timestamps only order the outbox
-- (against a grace of seconds), expire leases and date signatures. The caller sends every number the script writes
-- as text, ready to store.
--
-- The file is a library: it defines the operations and ends with `mageflow_main(KEYS, ARGV)`, the entry point. Redis
-- 7 and later load it once as a Function library (FUNCTION LOAD, then FCALL), so its functions and tables are built
-- once; older servers run it with EVALSHA behind a line that calls the entry point; MemoryStore loads it once too.
--
-- Signature fields: kind, task (name), status, prev (status before the last change), parent, pos, on_ok / on_err
-- (space-separated callback ids), args (bound arguments: JSON objects, one per line, later lines winning), rf (return
-- field), msg / route (the message it was started with, and whether that message goes to its return field; a task that
-- is a swarm's item or a chain's step after the first keeps none: see `started_with`), token (dispatch counter),
-- attempt (the last attempt that began, counting lost ones), base (the attempts that earlier, lost dispatches used),
-- lease (when the lease of the run under way expires, ms), ref (the backend's reference of the run), result / error
-- (JSON), created / finished (s), root=1 on the root of a stored flow, jrn (the ids a task run created,
-- space-separated, replayed to its retries), next (the flow a task continued with), tp (the W3C trace context of the
-- span that first dispatched the task: `traceparent[ tracestate]`). n and c0, c1, ... list children in position order
-- (a chain's steps, a swarm's items, a continued task's flow); plain=1 marks a chain or swarm whose children have no
-- fields of their own (see `create_records`). Swarms add maxc, stop_after, max_items, closed, started,
-- running, ok_n, fail_n, qh (the position of the first item not started yet: the queue is positions qh to n-1), r0, r1,
-- ... (item outcomes by position), and raw=1 when their result lists the items' outputs themselves instead of outcomes.
-- Items of a swarm that took a running slot have slot=1 (it stays when they finish: report gives the slot back). w
-- counts the waiters of a signature (see `publish`).
--
-- The small fields are packed into one hash field per signature, its head `<id>|h` (see HEAD, below: kind, status,
-- parent, token, prev, attempt, base, lease, slot, root, w, pos, next, created, finished, task); every other field is
-- the hash field `<id>|<name>`. The engine reads and writes fields by name through `get` and `set`, which know which
-- is which.
--
-- A group's hash has the largest active TTL while any of its parentless signatures (flows and callbacks; `#live`
-- counts them) has not finished, and the largest done TTL once all have.
--
-- Runs and leases: a run that begins holds a lease, which its worker renews while the handler runs. While the lease
-- holds, another delivery of the same dispatch is busy and does not run: one execution at a time per run. When the
-- lease expires (its process died or was cut off), recover dispatches the run again with a new token, so that a late
-- report of the lost execution is stale; the lost attempt counts (base), and the worker fails a run whose attempts
-- are used up with the kind `lost`.
--
-- Every transition returns one flat list: its summary, "<code> <number of entries> <number of extra elements>", each
-- entry as its length followed by its elements, then extra. A dispatch's length is positive: {"<id> <token> <task>",
-- msg, route, rf, tp, args...}, or {"<id> <token> <task>", msg} alone when route is '0' and the rest is empty; an
-- interrupt's is negative: {id, ref}. Dispatches are tasks to hand to the backend, with the run's trace context (empty
-- when none) and the bound arguments of the task and of each of its ancestors, nearest first; interrupts are running
-- tasks to abort, with the backend's reference of the run (the field `ref`, recorded when the run began); extra is
-- operation-specific. The list is flat and short because Redis converts every table of a reply with lookups of its
-- special fields (`err`, `ok` and others) before its elements, about 1,300 instructions, and each element for about 700
-- (measured with FCALLs of test functions). A by-id operation on a signature that its group lacks but whose pointer
-- names another group answers `moved` with that group in extra.

-- Per-call state, set by `main` from its keys and arguments before an operation runs. The functions below are
-- built once (when Redis loads the library, or once per EVAL) and read these upvalues.
local KEYS, ARGV
-- `redis.call` and functions of Lua's libraries as locals (upvalues), since naming a global looks it up in the
-- globals table every time. They are taken when the first call runs: Redis loads a Function library in a context
-- without them. (`library_functions` comes before the locals, so that the names in it are the globals.)
local function library_functions()
  return redis.call, unpack, tonumber, tostring, type, ipairs, pairs, next, table.concat, string.match, string.format,
    math.min
end
local call, unpack, tonumber, tostring, type, ipairs, pairs, next, concat, match, format, min
local OP, GROUP, PREFIX
local ACTIVE_TTL, DONE_TTL, KEEP_TTL, OUTBOX_TTL_MS
local NOW_MS, NOW_MS_TEXT, NOW_S, EXPIRY_MS
-- The trace context of the caller's span (the operations that dispatch take it as their last argument; empty when
-- none): the tasks the call dispatches for the first time store it and carry it.
local TRACE = ''
local A = 7
-- The number of the operation's arguments: a caller leaves out trailing ones that are empty (see `arg`).
local NARGS = 0
local OPS = {}
-- The settings the TTLs and the prefix were read from: a caller's settings stay the same from call to call, so they
-- are split again only when they change (one argument instead of five cost redis-server about 3,500 instructions
-- less per call; Lua compares two strings by identity).
local SETTINGS

-- The header of every call (see the comment at the top). Numbers are converted once, here; the texts the script
-- writes (timestamps, TTLs) come ready from the caller, so that nothing is converted back and forth per write.
local function read_header()
  OP, GROUP = ARGV[1], ARGV[2]
  if ARGV[3] ~= SETTINGS then
    ACTIVE_TTL, DONE_TTL, KEEP_TTL, OUTBOX_TTL_MS, PREFIX = match(ARGV[3], '^(%d+) (%d+) (%d+) (%d+) (.*)$')
    if not PREFIX then error('mageflow: settings that do not parse: ' .. tostring(ARGV[3])) end
    SETTINGS = ARGV[3]
  end
  NOW_MS_TEXT = ARGV[4]
  NOW_MS = tonumber(NOW_MS_TEXT)
  NOW_S = ARGV[5]
  EXPIRY_MS = ARGV[6]
  A = 7
  NARGS = #ARGV - 6
end

-- The operation's argument k (from 0), or nil when the caller left it out: in a `multi`, ARGV goes on with the next
-- sub-operation's.
local function arg(k)
  if k < NARGS then return ARGV[A + k] end
end

-- ---- shard operations ------------------------------------------------------------------------------------------

local function op_due()
  -- KEYS: outbox, leases. grace (ms), limit: the members dispatched longer ago than the grace that never began,
  -- and the runs whose lease expired. Reads only.
  local grace, limit = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
  local unbegun = call('ZRANGEBYSCORE', KEYS[1], '-inf', NOW_MS - grace, 'WITHSCORES', 'LIMIT', 0, limit)
  local expired = call('ZRANGEBYSCORE', KEYS[2], '-inf', NOW_MS, 'WITHSCORES', 'LIMIT', 0, limit)
  return { 'ok', unbegun, expired }
end
OPS['due'] = op_due

local function op_flows()
  -- KEYS: flows, index. before (ms, or '+inf'), the member a page ended with at that ms (or ''), after (ms,
  -- inclusive, or '-inf'), limit, statuses (space-separated, or '' for all), name (exact, or ''): root flows newest
  -- first (ties: members in reverse order, as ZREVRANGEBYSCORE gives them) that come after the cursor, each {member,
  -- created ms, status, finished s, name}. Entries whose group has expired are dropped on the way.
  local before, cursor, after, limit, wanted, name =
    ARGV[A], ARGV[A + 1], ARGV[A + 2], tonumber(ARGV[A + 3]), ARGV[A + 4], ARGV[A + 5]
  local statuses = {}
  for word in string.gmatch(wanted, '%S+') do statuses[word] = true end
  local out = {}
  local offset = 0
  while #out < limit do
    local page = call('ZREVRANGEBYSCORE', KEYS[1], before, after, 'WITHSCORES', 'LIMIT', offset, 200)
    if #page == 0 then break end
    offset = offset + #page / 2
    local members = {}
    for i = 1, #page, 2 do members[#members + 1] = page[i] end
    local entries = call('HMGET', KEYS[2], unpack(members))
    for j, member in ipairs(members) do
      local created = tonumber(page[2 * j])
      local entry = entries[j]
      local status, finished, flow_name
      if entry then status, finished, flow_name = match(entry, '^(%S+) (%d+) ?(.*)$') end
      finished = tonumber(finished or 0)
      local now_s = tonumber(NOW_S)
      local gone = not status
        or (finished > 0 and finished + tonumber(DONE_TTL) < now_s)
        or (finished == 0 and created / 1000 + tonumber(ACTIVE_TTL) < now_s)
      if gone then
        call('ZREM', KEYS[1], member)
        call('HDEL', KEYS[2], member)
        offset = offset - 1
      elseif #out < limit and (wanted == '' or statuses[status]) and (name == '' or name == flow_name)
        and not (cursor ~= '' and page[2 * j] == before and member >= cursor) then
        out[#out + 1] = { member, tostring(created), status, tostring(finished), flow_name }
      end
    end
  end
  return { 'ok', out }
end
OPS['flows'] = op_flows

local function op_point()
  -- KEYS: pointers of one shard. ttl (s): each names the group ARGV[2].
  local ttl = tonumber(ARGV[A])
  for _, pointer in ipairs(KEYS) do call('SET', pointer, GROUP, 'EX', ttl) end
  return { 'ok' }
end
OPS['point'] = op_point

-- ---- a group's signatures --------------------------------------------------------------------------------------

local G, OUTBOX, LEASES, FLOWS, INDEX
-- The reply being built (see the top): its summary (set by `result`) at REPLY_AT, then the dispatches; ENTRIES counts
-- them; and the interrupts, as id, ref pairs (nil while there are none), which `result` appends as entries. In a
-- `multi`, REPLY is the `multi`'s reply, which each sub-operation's reply goes on.
local REPLY, REPLY_AT, ENTRIES, interrupts
-- A run's outcome (in `succeed` / `fail`) may begin the first task it dispatches at once, for a worker that runs it
-- in its own process (the local backend): CLAIM says it may, CLAIMED is {n} once it did, where n counts that
-- dispatch among the call's (its attempt is 1).
local CLAIM, CLAIMED
-- (what CLAIMED is set to: one table, reused, since `result` copies its elements)
local CLAIMED_AT = { '' }
-- Set while `multi` runs sub-operations, which share one PEXPIRE of the outbox at the end; and how many of them
-- follow the one running (0 outside a `multi`).
local IN_MULTI, MULTI_LEFT = false, 0
-- Set once the call put a task in the outbox (a task begun at once never enters it), so that the outbox's TTL is
-- renewed only then.
local OUTBOXED = false

-- Redis keeps a sorted set of up to zset-max-listpack-entries members (128 by default) as a flat list that ZADD and
-- ZREM search from its start: with 50 runs of a swarm under way, searching the leases cost each of its tasks about
-- 15,000 redis-server instructions. A member longer than zset-max-listpack-value (64 bytes by default) makes a set
-- a skiplist at once, and it stays one until it is emptied. So under load (in a `multi`) the first run to enter the
-- leases, and the first dispatch to enter the outbox, enter with this mark, which the `multi` removes before it
-- returns: nothing else ever sees it. A set that holds a few entries at a time (a chain's) stays a listpack.
local SKIPLIST_MARK = '#skiplist: a member longer than zset-max-listpack-value makes a sorted set a skiplist'
-- The sets this `multi` marked, by key.
local MARKED = {}

-- Adds `member` to the sorted set `key` with `score`; in a `multi`, with SKIPLIST_MARK when the set has not got it
-- yet.
local function zadd(key, score, id_member)
  if IN_MULTI and not MARKED[key] then
    MARKED[key] = true
    call('ZADD', key, score, id_member, '+inf', SKIPLIST_MARK)
  else
    call('ZADD', key, score, id_member)
  end
end

-- Binds the keys of a call on a group (see the top) and starts its reply afresh.
local function bind_group()
  G, OUTBOX, LEASES, FLOWS, INDEX = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
  REPLY, REPLY_AT, ENTRIES, interrupts = { '' }, 1, 0, nil
end

-- The pointer key of signature `id` among the call's keys, if the caller declared one. Looked up only for a
-- signature the group lacks. A `multi` declares none: the caller makes a sub-operation that answers `missing`
-- again alone, with its pointer.
local function pointer_of(id)
  local tail = ':ptr:' .. id
  for i = 6, #KEYS do
    local key = KEYS[i]
    if string.sub(key, -#tail) == tail then return key end
  end
end

-- The text of a non-negative integer; nil for other numbers. A number written or joined is otherwise formatted with
-- Lua's "%.14g", whose floating-point conversion cost a swarm of 10,000 items 7,900 redis-server instructions per
-- task (its positions); "%d" formats an integer at a fraction of that, and the texts of small ones are made once.
local TEXT = {}
local function int_text(n)
  local t = TEXT[n]
  if t == nil and n >= 0 and n % 1 == 0 then
    t = format('%d', n)
    if n < 1024 then TEXT[n] = t end
  end
  return t
end

-- The number a text holds (`tonumber`), remembered by text: the counters, positions and tokens the runs' operations
-- read are a few texts, read again and again, and converting one (strtod) cost redis-server about 1,500 instructions,
-- six times per task of a swarm. At most NUMBERS_MAX are remembered; then they are forgotten.
local NUMBERS, NUMBERS_COUNT, NUMBERS_MAX = {}, 0, 4096
local function num(text)
  local n = NUMBERS[text]
  if n ~= nil or text == nil then return n end
  n = tonumber(text)
  if n ~= nil then
    if NUMBERS_COUNT >= NUMBERS_MAX then NUMBERS, NUMBERS_COUNT = {}, 0 end
    NUMBERS[text], NUMBERS_COUNT = n, NUMBERS_COUNT + 1
  end
  return n
end

-- The summaries of replies with fewer than 16 entries and extras, made once, by code and entries * 16 + extras: most
-- replies are one of a few ('ok 1 1' for an outcome that began its successor).
local SUMMARIES = {}

local function result(code, extra)
  if OUTBOXED and not IN_MULTI then call('PEXPIRE', OUTBOX, OUTBOX_TTL_MS) end
  local reply, n = REPLY, #REPLY
  if interrupts then
    -- each an entry of length -2: the reply's number of entries counts them too
    for j = 1, #interrupts, 2 do
      reply[n + 1], reply[n + 2], reply[n + 3] = -2, interrupts[j], interrupts[j + 1]
      n = n + 3
    end
    ENTRIES = ENTRIES + #interrupts / 2
  end
  local extras = 0
  if extra then
    extras = #extra
    for j = 1, extras do reply[n + j] = extra[j] end
  end
  local summaries = SUMMARIES[code]
  if not summaries then
    summaries = {}
    SUMMARIES[code] = summaries
  end
  local small = ENTRIES < 16 and extras < 16
  local summary = small and summaries[ENTRIES * 16 + extras]
  if not summary then
    summary = code .. ' ' .. int_text(ENTRIES) .. ' ' .. int_text(extras)
    if small then summaries[ENTRIES * 16 + extras] = summary end
  end
  reply[REPLY_AT] = summary
  return reply
end

-- A record's small fields are packed into one hash field, its head `<id>|h`: the HEAD fields in this order, separated
-- by single spaces, empty where the record has none; `task` comes last, so it may hold spaces. None of the others
-- ever does (ids, numbers, words). Reading or writing a hash field costs redis-server about 3,000 to 5,000
-- instructions with its name, so a task's run reads and writes its head instead of a dozen fields. The other
-- fields (payloads, lists, a swarm's counters, children) keep a hash field each: `<id>|<name>`.
local HEAD = { 'kind', 'status', 'parent', 'token', 'prev', 'attempt', 'base', 'lease', 'slot', 'root', 'w', 'pos',
               'next', 'created', 'finished', 'task' }
local HEAD_AT = {}
-- (plain Lua: loading a Function library may not call library functions)
for i = 1, #HEAD do HEAD_AT[HEAD[i]] = i end
local HEAD_SIZE = #HEAD
-- HEAD_SIZE - 1 captures of '(%S*) ', then the rest
local HEAD_PATTERN = '^(%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (%S*) (.*)$'
-- The kind a head that does not parse reads as: `damage` names it.
local UNREADABLE = '#unreadable'

-- The heads read or written in this call, by id (a list in HEAD's order, '' where empty; false for a record that
-- has none). Every write of a head changes the list kept here, so that a head is read once per call however many
-- times the call reads and writes it. Forgotten between calls, on an error, and when a `multi` moves to another
-- group.
local HEADS = {}

-- The heads of new, dispatched and begun runs, parsed, by their text: such a head is read next by a call after the one
-- that wrote it (the run's start, begin or outcome), and a text's parse is always the same, so that call takes the
-- list instead of parsing the text (matching HEAD_PATTERN costs redis-server about 14,000 instructions). Taken, not
-- copied: the list leaves the cache with the read that takes it (which may change it), and a later read of the same
-- text parses it (copying the list cost a swarm's task about 3,800 instructions). Two generations of at most
-- PARSED_MAX each: when the newer is full it becomes the older, and the older is forgotten. They last from call to
-- call while the library is loaded (a Function library keeps its state; a script run with EVALSHA starts afresh each
-- call and finds nothing).
local PARSED, PARSED_OLD, PARSED_COUNT, PARSED_MAX = {}, {}, 0, 2048

-- Remembers `head` (a list in HEAD's order, which nothing changes any more) as the parse of `text`.
local function remember(text, head)
  if PARSED_COUNT >= PARSED_MAX then PARSED, PARSED_OLD, PARSED_COUNT = {}, PARSED, 0 end
  PARSED[text] = head
  PARSED_COUNT = PARSED_COUNT + 1
end

local function parse_head(text)
  if not text then return false end
  local known = PARSED[text]
  if known then
    PARSED[text] = nil
    return known
  end
  known = PARSED_OLD[text]
  if known then
    PARSED_OLD[text] = nil
    return known
  end
  local head = { match(text, HEAD_PATTERN) }
  if #head < HEAD_SIZE then
    head = { UNREADABLE }
    for i = 2, HEAD_SIZE do head[i] = '' end
  end
  return head
end

-- The head of signature `id` (false when it has none).
local function head_of(id)
  local head = HEADS[id]
  if head == nil then
    head = parse_head(call('HGET', G, id .. '|h'))
    HEADS[id] = head
  end
  return head
end

-- The first three fields of a head (kind, status, parent), for the lookups that need no more: a capture costs
-- redis-server about 900 instructions, and parsing a whole head about 15,000, as much as reading four fields.
local FRONT = 3
local FRONT_PATTERN = '^(%S*) (%S*) (%S*) '

-- The head of signature `id` read as `text` (false when it has none), parsed up to its first three fields when it
-- parses; a head that does not is parsed whole, kept as unreadable.
local function front_of(id, text)
  if text then
    local kind, status, parent = match(text, FRONT_PATTERN)
    if kind then return { kind, status, parent } end
  end
  local head = parse_head(text)
  HEADS[id] = head
  return head
end

-- The fields of signature `id` named in the list `list`, as a list (false where missing), in one HMGET: its other
-- fields named, and its head when a field of the head is named and this call has not read it yet. A head read for
-- its first three fields only is not kept: a write reads it whole.
local function get_list(id, list)
  local head = HEADS[id]
  local names, slots = {}, {}
  local deepest = 0
  local prefix
  for i = 1, #list do
    local name = list[i]
    local at = HEAD_AT[name]
    if not at then
      prefix = prefix or (id .. '|')
      local j = #names + 1
      names[j] = prefix .. name
      slots[j] = i
    elseif at > deepest then
      deepest = at
    end
  end
  local head_at = (head == nil and deepest > 0) and #names + 1
  if head_at then names[head_at] = id .. '|h' end
  local out = {}
  if #names > 0 then
    local got = call('HMGET', G, unpack(names))
    if head_at then
      if deepest <= FRONT then
        head = front_of(id, got[head_at])
      else
        head = parse_head(got[head_at])
        HEADS[id] = head
      end
    end
    for j, i in pairs(slots) do out[i] = got[j] end
  end
  if deepest > 0 then
    for i = 1, #list do
      local at = HEAD_AT[list[i]]
      if at then
        local value = head and head[at]
        out[i] = value ~= '' and value or false
      end
    end
  end
  return out
end

-- The fields of signature `id`, by name.
local function get(id, ...)
  return unpack(get_list(id, { ... }))
end

-- The message a task was started with, and its route, from its fields msg, route, parent and pos. Two kinds of
-- task keep no copy of their message: a swarm's item starts with its swarm's, and a chain's step after the first
-- with the result of the step before it (its route is 1: the result goes to its return field).
local function started_with(msg, route, parent, pos)
  if msg or not parent or parent == '' then return msg, route end
  local kind, parent_msg, parent_route = get(parent, 'kind', 'msg', 'route')
  if kind == 'swarm' then return parent_msg, parent_route end
  local at = kind == 'chain' and tonumber(pos)
  local before = at and at >= 1 and at % 1 == 0 and call('HGET', G, parent .. '|c' .. format('%d', at - 1))
  if before then
    local result = call('HGET', G, before .. '|result')
    if result then return result, '1' end
  end
  return msg, route
end

-- A counter of a swarm as `counted` read it: an integer, as HINCRBY insists, so that a damaged counter stops the
-- script with an error instead of counting on from a fraction or a text.
local function counter(value)
  if type(value) == 'number' and value % 1 == 0 then return value end
  error('mageflow: a swarm counter is not an integer: ' .. tostring(value))
end

-- The REPORT_FIELDS (below) of the swarms whose items reported in this call, by swarm, kept up to date by `report`
-- and `fill`, which write them: the items of one swarm that report in one `multi` read their swarm once. Any other
-- write of a swarm's fields (`set`, `drop`, `incr`) forgets what was read of it.
local SWARM_KNOWN = {}

-- Writes field/value pairs (a list) of signature `id`: those of its head in one write of the head, the others a
-- thousand at a time (Lua's stack bounds `unpack`). The list is used up: it is rewritten in place into the hash's
-- fields. Writing '' to a field of the head drops it.
local function set(id, writes)
  if SWARM_KNOWN[id] then SWARM_KNOWN[id] = nil end
  local prefix = id .. '|'
  local head
  local j = 0
  for i = 1, #writes, 2 do
    local name, value = writes[i], writes[i + 1]
    local at = HEAD_AT[name]
    if at then
      if not head then
        head = head_of(id)
        if not head then
          head = {}
          for k = 1, HEAD_SIZE do head[k] = '' end
          HEADS[id] = head
        end
      end
      if type(value) == 'number' then value = int_text(value) or tostring(value) end
      head[at] = value
    else
      writes[j + 1] = prefix .. name
      writes[j + 2] = value
      j = j + 2
    end
  end
  if head then
    writes[j + 1] = prefix .. 'h'
    writes[j + 2] = concat(head, ' ')
    j = j + 2
  end
  for from = 1, j, 2000 do
    call('HSET', G, unpack(writes, from, min(from + 1999, j)))
  end
end

local function drop(id, ...)
  local names = { ... }
  local writes, gone = {}, {}
  for i = 1, #names do
    if HEAD_AT[names[i]] then
      writes[#writes + 1] = names[i]
      writes[#writes + 1] = ''
    else
      gone[#gone + 1] = id .. '|' .. names[i]
    end
  end
  if #writes > 0 then set(id, writes) end
  if #gone > 0 then
    if SWARM_KNOWN[id] then SWARM_KNOWN[id] = nil end
    call('HDEL', G, unpack(gone))
  end
end

local function incr(id, name, by)
  if SWARM_KNOWN[id] then SWARM_KNOWN[id] = nil end
  if HEAD_AT[name] then
    local n = tonumber(get(id, name) or 0) + by
    set(id, { name, n })
    return n
  end
  return call('HINCRBY', G, id .. '|' .. name, by)
end

-- The positions of the HEAD fields, for the runs' own operations (begin, start, dispatch, outcomes), which read and
-- write a head directly: through `get` and `set`, whose loops over field names cost redis-server more than the
-- fields the head spares, they ran slower than with a field each.
local H_KIND, H_STATUS, H_PARENT, H_TOKEN, H_PREV, H_ATTEMPT, H_BASE, H_LEASE = 1, 2, 3, 4, 5, 6, 7, 8
local H_SLOT, H_ROOT, H_W, H_POS, H_NEXT, H_FINISHED, H_TASK = 9, 10, 11, 12, 13, 15, 16

-- A head's field as `get` gives it: nil when empty.
local function present(value)
  if value ~= '' then return value end
end

-- Writes the head `head` of signature `id` (kept in HEADS), with the pairs of hash fields and values in `writes`
-- (used up). `handed_off` when the head is a run's, dispatched or begun, and its caller changes it no more: the
-- next call reads it (see PARSED).
local function write_head(id, head, writes, handed_off)
  if SWARM_KNOWN[id] then SWARM_KNOWN[id] = nil end
  local n = #writes
  writes[n + 1] = id .. '|h'
  local text = concat(head, ' ')
  writes[n + 2] = text
  call('HSET', G, unpack(writes, 1, n + 2))
  if handed_off then
    -- (what reads this head again, in this call or a later one, takes this list from PARSED: its caller is done
    -- with it)
    remember(text, head)
    HEADS[id] = nil
  end
end

-- A signature's entry in the outbox, the leases and the flow index.
local function member(id) return GROUP .. '|' .. id end

-- The child at a position (false when there is none).
local function child(id, pos) return call('HGET', G, id .. '|c' .. pos) end

-- Fields `<id>|<name><pos>` for positions from..to, a thousand per HMGET; false where missing.
local function numbered(id, name, from, to)
  local out, k = {}, 0
  local prefix = id .. '|' .. name
  for first = from, to, 1000 do
    local names, count = {}, 0
    for p = first, min(first + 999, to) do
      count = count + 1
      names[count] = prefix .. (TEXT[p] or int_text(p))
    end
    local got = call('HMGET', G, unpack(names))
    for j = 1, count do out[k + j] = got[j] end
    k = k + count
  end
  return out
end

local function children(id)
  return numbered(id, 'c', 0, tonumber(call('HGET', G, id .. '|n') or 0) - 1)
end

local function runnable(s) return s == 'pending' or s == 'active' end
local function stopped(s) return s == 'suspended' or s == 'interrupted' end
local function finished(s) return s == 'done' or s == 'failed' or s == 'canceled' end

-- The other group that the pointer of a signature this group lacks names, if the caller declared it.
local function moved_to(id)
  local pointer = pointer_of(id)
  local group = pointer and call('GET', pointer)
  if group and group ~= GROUP then return group end
end

-- The answer to a by-id operation on a signature this group lacks: `moved` to the group its pointer names, or
-- `missing`.
local function absent(id)
  local group = moved_to(id)
  if group then return result('moved', { group }) end
  return result('missing')
end

-- A running task to abort: its id and the backend's reference of its run (empty when unknown).
local function interrupt(id)
  interrupts = interrupts or {}
  local n = #interrupts
  interrupts[n + 1], interrupts[n + 2] = id, call('HGET', G, id .. '|ref') or ''
end

-- An empty list that is only read (never added to).
local NONE = {}

local function split(text)
  local out = {}
  if text then
    for word in string.gmatch(text, '%S+') do out[#out + 1] = word end
  end
  return out
end

-- The flow index's entry of a root flow: its status, when it finished, its name.
local function index(id, status, finished_s)
  call('HSET', INDEX, member(id), status .. ' ' .. (finished_s or 0) .. ' ' .. (get(id, 'task') or ''))
end

-- Updates the flow index when `id` is a root flow.
local function touch(id)
  local root, status = get(id, 'root', 'status')
  if root and status then index(id, status) end
end

-- A signature finished: when it has no parent (a flow or a callback), the group counts one live signature less and,
-- with none left, gets the done TTL; a root flow's index entry follows.
local function ended(id, parent, status)
  if parent and parent ~= '' then return end
  if get(id, 'root') then
    index(id, status, NOW_S)
    call('EXPIRE', FLOWS, KEEP_TTL)
    call('EXPIRE', INDEX, KEEP_TTL)
  end
  if call('HINCRBY', G, '#live', -1) <= 0 then call('EXPIRE', G, DONE_TTL) end
end

-- Tells the waiters of a signature that it finished. Only signatures someone waits for are published: a waiter
-- counts itself in the field `w` (with `read`'s watch flag) after subscribing and before reading the status.
local function publish(id, status)
  call('PUBLISH', PREFIX .. ':finished:' .. id, status)
end

-- The runs' own operations come first: they are the most frequent, and the functions defined after them are not
-- built for them.

-- ---- runs ----------------------------------------------------------------------------------------------------

-- Fails the flow of a dispatched task whose record is damaged, and says whether it was (see the engine, below).
local fail_if_damaged

local function op_begin()
  -- id, token, attempt (as the backend counts it), the backend's reference of the run, '1' when the run keeps a
  -- creation journal (the last two may be left out when empty): may this delivery run? Replies {attempt} with the
  -- attempt counting lost ones, then, for a retry, the ids its earlier attempts created.
  local id, token, attempt, ref, journaled = ARGV[A], ARGV[A + 1], ARGV[A + 2], arg(3), arg(4)
  local head = head_of(id)
  if not head then return absent(id) end
  if fail_if_damaged(id, head) then return result('finished', { 'failed' }) end
  local status, current, begun, base, lease, continued, root = head[H_STATUS], head[H_TOKEN], present(head[H_ATTEMPT]),
    present(head[H_BASE]), present(head[H_LEASE]), present(head[H_NEXT]), present(head[H_ROOT])
  if current ~= token then return result('stale', { status }) end
  call('ZREM', OUTBOX, member(id))
  if finished(status) then return result('finished', { status }) end
  if continued then return result('continued', { status }) end
  attempt = num(attempt) + num(base or 0)
  if (status == 'active' or status == 'suspended') and tonumber(lease or 0) > NOW_MS
    and attempt <= num(begun or 0) then
    -- this attempt (or a later one) is under way elsewhere, and its lease holds
    return result('busy', { status })
  end
  if stopped(status) then
    -- an earlier attempt's lease, if any, ended with that attempt
    set(id, { 'prev', 'active' })
    if lease then
      drop(id, 'lease')
      call('ZREM', LEASES, member(id))
    end
    return result('stopped', { status })
  end
  local expiry = EXPIRY_MS
  head[H_STATUS], head[H_ATTEMPT], head[H_LEASE] = 'active', int_text(attempt) or tostring(attempt), expiry
  if status ~= 'active' then head[H_PREV] = status end
  write_head(id, head, (ref and ref ~= '') and { id .. '|ref', ref } or {}, true)
  zadd(LEASES, expiry, member(id))
  if root and status ~= 'active' then index(id, 'active') end
  local journal = journaled == '1' and attempt > 1 and get(id, 'jrn')
  if journal then
    local replay = split(journal)
    table.insert(replay, 1, tostring(attempt))
    return result('run', replay)
  end
  return result('run', { tostring(attempt) })
end
OPS['begin'] = op_begin

local function op_renew()
  -- id, token, lease length (ms): the run of this dispatch is still under way; replies `lost` when it no longer
  -- holds the signature (a newer dispatch replaced it, or the signature finished or was interrupted)
  local id, token, length = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
  local kind, status, current, continued = get(id, 'kind', 'status', 'token', 'next')
  if not kind then return absent(id) end
  if current ~= token or continued or not (status == 'active' or status == 'suspended') then
    return result('lost', { status or 'missing' })
  end
  local expiry = NOW_MS + length
  set(id, { 'lease', expiry })
  call('ZADD', LEASES, expiry, member(id))
  return result('ok')
end
OPS['renew'] = op_renew

-- ---- the engine ----------------------------------------------------------------------------------------------

local function json_string(text)
  local escaped = string.gsub(text, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return format('\\u%04x', string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

-- A failure report (the JSON of `Failure`) for failures the script decides itself.
local function failure_json(id, kind, message)
  local name, msg, attempt, parent, pos = get(id, 'task', 'msg', 'attempt', 'parent', 'pos')
  msg = started_with(msg, '0', parent, pos)
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
  if kind == UNREADABLE then return 'damaged (its head, the field `<id>|h`, does not parse)' end
  if not KINDS[kind] then return 'damaged (kind = ' .. kind .. ')' end
  if not STATUSES[status or ''] then return 'damaged (status = ' .. tostring(status) .. ')' end
  if token and not num(token) then return 'damaged (token = ' .. token .. ')' end
  return nil
end

-- The failure a flow ends with when the record of one of its parts (`role`, e.g. "step 2 of chain X") is unusable.
local function damaged_json(id, role, problem, msg)
  return '{"task":"","signature_id":' .. json_string(id) .. ',"input":' .. (msg or 'null') ..
    ',"error":{"kind":"damaged","message":' ..
    json_string('the stored record of ' .. role .. ', signature ' .. id .. ', is ' .. problem ..
      ', so the flow cannot go on') .. ',"attempt":0}}'
end

-- Hands a task to the backend: a new dispatch token (older deliveries become stale), an outbox entry (removed when the
-- run begins), and the bound arguments of the task and its ancestors. `head` is the task's head (this call read it),
-- which the new token and, for a claim, its run's state go to; `rf`, `args` and `parent` are its stored fields;
-- `writes` are more hash fields and values to store with them; `parent_fields`, when given, are the parent's args,
-- parent and id, already read (see `start`). `trace` is the run's trace context: the caller's unless given (a task
-- dispatched again keeps the one it was first dispatched with); it is stored with the token.
local function send(id, head, msg, route, rf, args, parent, writes, parent_fields, claim, trace)
  local token = head[H_TOKEN]
  token = num(token ~= '' and token or 0) + 1
  token = TEXT[token] or int_text(token) or tostring(token)
  head[H_TOKEN] = token
  trace = trace or TRACE
  if trace ~= '' then
    writes[#writes + 1] = id .. '|tp'
    writes[#writes + 1] = trace
  end
  if claim then
    -- begun at once, as `begin` would (attempt 1, a lease): it never enters the outbox
    head[H_STATUS], head[H_PREV], head[H_ATTEMPT], head[H_LEASE] = 'active', 'pending', '1', EXPIRY_MS
    CLAIM = false
  end
  write_head(id, head, writes, true)
  -- the dispatch, straight into the reply: its length (at `at`), then its fields, the first three as one text; the
  -- bound arguments go after the places of route, rf and trace (at + 3 to at + 5), filled below unless the dispatch
  -- takes the short form
  local reply = REPLY
  local at = #reply + 1
  reply[at + 1], reply[at + 2] = id .. ' ' .. token .. ' ' .. head[H_TASK], msg or 'null'
  local n = at + 5
  if args then
    n = n + 1
    reply[n] = args
  end
  local depth = 0
  if parent_fields then
    if parent_fields[1] then
      n = n + 1
      reply[n] = parent_fields[1]
    end
    parent, depth = parent_fields[2], 1
  end
  while parent and parent ~= '' and depth < 100 do
    local parent_args, grandparent = get(parent, 'args', 'parent')
    if parent_args then
      n = n + 1
      reply[n] = parent_args
    end
    parent = grandparent
    depth = depth + 1
  end
  route, rf = route or '0', rf or ''
  if n == at + 5 and route == '0' and rf == '' and trace == '' then
    -- the short form: a dispatch with its message alone (most of them) is three elements shorter, and each element
    -- of a reply costs Redis about 700 instructions to convert and send
    n = at + 2
  else
    reply[at + 3], reply[at + 4], reply[at + 5] = route, rf, trace
  end
  reply[at] = n - at
  ENTRIES = ENTRIES + 1
  if claim then
    CLAIMED_AT[1] = TEXT[ENTRIES] or int_text(ENTRIES) or tostring(ENTRIES)
    CLAIMED = CLAIMED_AT
    zadd(LEASES, EXPIRY_MS, GROUP .. '|' .. id)
  else
    zadd(OUTBOX, NOW_MS_TEXT, GROUP .. '|' .. id)
    OUTBOXED = true
  end
end

-- Dispatches a stored task again with the message and the trace context it keeps (resume, recovery).
local function dispatch(id)
  local msg, route, rf, args, parent, trace, pos = get(id, 'msg', 'route', 'rf', 'args', 'parent', 'tp', 'pos')
  msg, route = started_with(msg, route, parent, pos)
  send(id, head_of(id), msg, route, rf, args, parent, {}, nil, false, trace or nil)
end

local start, complete, report, fill, terminate

-- Ends a signature and everything under it that has not finished: status canceled, running tasks listed for the
-- backend to abort, callbacks dropped. Finished nodes keep their status.
terminate = function(id)
  local kind, status, on_ok, on_err, continued, parent, n, watched =
    get(id, 'kind', 'status', 'on_ok', 'on_err', 'next', 'parent', 'n', 'w')
  if not kind or finished(status) then return end
  if kind == 'task' and not continued and (status == 'active' or stopped(status)) then interrupt(id) end
  local writes = { 'status', 'canceled', 'prev', status, 'finished', NOW_S }
  if kind == 'swarm' then
    -- nothing queued starts
    writes[#writes + 1] = 'qh'
    writes[#writes + 1] = n or 0
  end
  set(id, writes)
  drop(id, 'slot')
  call('ZREM', OUTBOX, member(id))
  if kind == 'task' then call('ZREM', LEASES, member(id)) end
  if watched then publish(id, 'canceled') end
  if kind ~= 'task' or continued then
    for _, c in ipairs(children(id)) do
      if c then terminate(c) end
    end
  end
  for _, callback in ipairs(split(on_ok)) do terminate(callback) end
  for _, callback in ipairs(split(on_err)) do terminate(callback) end
  ended(id, parent, 'canceled')
end

-- The text of the head of signature `id` and, unless `alone`, its two fields of suffixes `first` and `second`
-- (`<id><first>`): one read.
local function head_and(id, alone, first, second)
  if alone then return call('HGET', G, id .. '|h') end
  local got = call('HMGET', G, id .. '|h', id .. first, id .. second)
  return got[1], got[2], got[3]
end

-- A signature receives the message it runs with. Tasks are dispatched, chains start their first step, swarms fill their
-- running slots. A stopped (suspended or interrupted) signature keeps the message and is marked due (prev = active), so
-- that resume starts it. `slot` marks a swarm item that takes a running slot; `chained` a chain's step after the first,
-- whose message is the result of the step before it; `parent_fields` are its parent's args, parent and id, when the
-- caller is its parent and has read them (then its own `parent` is not read), and true when the parent is `plain`
-- (then its `rf` and `args` are not read: it has none; see `create_records`). `carry`, when given, are hash fields and
-- values of the caller's (a swarm's counters, from `fill`) to write with the signature's first write. Returns the
-- signature's kind (`carry` was written); or false if it could not start (`carry` was not), with what is wrong with
-- its record when it is missing or damaged. A chain whose first step is missing or damaged fails.
start = function(id, msg, route, slot, parent_fields, chained, carry)
  local text, rf, args = head_and(id, parent_fields and parent_fields[4], '|rf', '|args')
  local head = parse_head(text)
  HEADS[id] = head
  if not head then return false, damage(nil) end
  local kind, status, token = head[H_KIND], head[H_STATUS], head[H_TOKEN]
  if not (KINDS[kind] and STATUSES[status] and (token == '' or num(token))) then
    return false, damage(kind, status, present(token))
  end
  local is_stopped = status == 'suspended' or status == 'interrupted'
  if status ~= 'pending' and not is_stopped then return false end
  local parent = parent_fields and parent_fields[3] or present(head[H_PARENT])
  -- a task that is a swarm's item or a chain's later step keeps no copy of its message (see `started_with`)
  local writes
  if (slot or chained) and kind == 'task' then
    writes = carry or {}
  else
    writes = { id .. '|msg', msg, id .. '|route', route }
    if carry then
      for i = 1, #carry do writes[4 + i] = carry[i] end
    end
  end
  if slot then head[H_SLOT] = '1' end
  if is_stopped then head[H_PREV] = 'active' end
  if kind == 'task' then
    if is_stopped then
      write_head(id, head, writes)
    else
      local claim = CLAIM and head[H_BASE] == ''
      send(id, head, msg, route, rf, args, parent, writes, parent_fields, claim)
      if claim and head[H_ROOT] ~= '' then index(id, 'active') end
    end
    return kind
  end
  if not is_stopped then head[H_STATUS], head[H_PREV] = 'active', 'pending' end
  if kind == 'chain' then
    write_head(id, head, writes)
    local first = child(id, 0)
    if first then
      local _, problem = start(first, msg, route, nil, { args, parent, id })
      if problem then complete(id, false, damaged_json(first, 'step 1 of chain ' .. id, problem, msg)) end
    end
  else
    writes[#writes + 1] = id .. '|started'
    writes[#writes + 1] = '1'
    write_head(id, head, writes)
    fill(id)
  end
  return kind
end

-- Completes a swarm that is closed, started and has an outcome for every item: its result is the list of item
-- outcomes in position order.
-- `known`, when given, are the swarm's REPORT_FIELDS, already read (see `read_swarm`: its counts numbers).
local function check_complete(sid, known)
  local status, closed, started, n, ok_n, fail_n
  if known then
    -- (counted: numbers)
    status, started, closed, n, ok_n, fail_n = known[1], known[2], known[9], known[10], known[11], known[12]
  else
    status, closed, started, n, ok_n, fail_n = get(sid, 'status', 'closed', 'started', 'n', 'ok_n', 'fail_n')
    n, ok_n, fail_n = num(n or 0), num(ok_n or 0), num(fail_n or 0)
  end
  if status ~= 'active' or closed ~= '1' or started ~= '1' then return end
  if ok_n + fail_n < n then return end
  local parts = numbered(sid, 'r', 0, n - 1)
  for i = 1, n do parts[i] = parts[i] or 'null' end
  complete(sid, true, '[' .. concat(parts, ',') .. ']')
end

-- The fields `report` and `fill` read of a swarm (see `read_swarm`): first the 13 that `fill` uses, in the order of
-- its locals, then kind, raw, stop_after, plain.
local REPORT_FIELDS = { 'status', 'started', 'maxc', 'running', 'msg', 'route', 'args', 'parent', 'closed', 'n', 'ok_n',
                        'fail_n', 'qh', 'kind', 'raw', 'stop_after', 'plain' }
-- The positions of `plain` there, and of the prefixes of a swarm's children and results after them (see
-- `swarm_names`).
local SWARM_PLAIN, SWARM_CHILD, SWARM_RESULT = #REPORT_FIELDS, #REPORT_FIELDS + 1, #REPORT_FIELDS + 2

-- The chains found `plain` (see `create_records`), by id: kept from call to call, as PARSED is, so that an outcome of
-- a chain's step knows its chain plain without reading it (see `op_succeed_fail`). Only this script removes the mark,
-- with `unmark_plain`, which forgets it here too; at most PLAIN_CHAINS_MAX at a time.
local PLAIN_CHAINS, PLAIN_CHAINS_COUNT, PLAIN_CHAINS_MAX = {}, 0, 4096

-- Takes the `plain` mark away from chain or swarm `id`: one of its children has fields of its own now.
local function unmark_plain(id)
  drop(id, 'plain')
  PLAIN_CHAINS[id] = nil
end

-- The positions of the REPORT_FIELDS stored in fields of their own, and of those in the head, with their place there
-- (see `read_swarm`); and of the counts (see `counted`).
local SWARM_STORED_AT, SWARM_IN_HEAD, COUNT_FIELDS = {}, {}, {}
local COUNTS = { maxc = true, running = true, n = true, ok_n = true, fail_n = true, qh = true }
for i = 1, #REPORT_FIELDS do
  local head_at = HEAD_AT[REPORT_FIELDS[i]]
  if head_at then SWARM_IN_HEAD[i] = head_at else SWARM_STORED_AT[#SWARM_STORED_AT + 1] = i end
  if COUNTS[REPORT_FIELDS[i]] then COUNT_FIELDS[#COUNT_FIELDS + 1] = i end
end

-- What was read of a swarm's REPORT_FIELDS, with its counts (maxc, running, n, ok_n, fail_n, qh) converted to numbers
-- once, since `report`, `fill` and `check_complete` read them for each of its items; a count that does not parse
-- stays as it was read, and fails where it is used.
local function counted(known)
  for _, at in ipairs(COUNT_FIELDS) do
    local value = known[at] or 0
    known[at] = num(value) or value
  end
  return known
end

-- The names of a swarm's REPORT_FIELDS in its group's hash, then the prefixes of its children and results
-- (`<sid>|c`, `<sid>|r`), by swarm: made once, since a swarm's fields are read and written once per item. They depend
-- on the id alone, so they last from call to call, as PARSED does (making them in every call cost 3% of a swarm
-- task's Lua); at most SWARM_NAMES_MAX swarms' at a time.
local SWARM_NAMES, SWARM_NAMES_COUNT, SWARM_NAMES_MAX = {}, 0, 256
local function swarm_names(sid)
  local names = SWARM_NAMES[sid]
  if not names then
    if SWARM_NAMES_COUNT >= SWARM_NAMES_MAX then SWARM_NAMES, SWARM_NAMES_COUNT = {}, 0 end
    SWARM_NAMES_COUNT = SWARM_NAMES_COUNT + 1
    local prefix = sid .. '|'
    names = {}
    for i = 1, #REPORT_FIELDS do names[i] = prefix .. REPORT_FIELDS[i] end
    names[#names + 1] = prefix .. 'c'
    names[#names + 1] = prefix .. 'r'
    -- what `read_swarm` reads: the head, then the fields that are not in it
    local read = { prefix .. 'h' }
    for j, at in ipairs(SWARM_STORED_AT) do read[j + 1] = names[at] end
    names.read = read
    SWARM_NAMES[sid] = names
  end
  return names
end

-- A swarm's REPORT_FIELDS as `get` gives them (false where missing), its counts as numbers (see `counted`), and its
-- names (see `swarm_names`) as `names`: one HMGET of its head and its other fields, by names made once (`get_list`
-- joins them anew each time).
local function read_swarm(sid)
  local names = swarm_names(sid)
  local got = call('HMGET', G, unpack(names.read))
  local head = HEADS[sid]
  if head == nil then head = front_of(sid, got[1]) end
  local known = { names = names }
  for j, at in ipairs(SWARM_STORED_AT) do known[at] = got[j + 1] end
  for at, head_at in pairs(SWARM_IN_HEAD) do
    local value = head and head[head_at]
    known[at] = (value and value ~= '') and value or false
  end
  return counted(known)
end

-- What this call knows of swarm `sid` (SWARM_KNOWN), read now when it knows nothing yet.
local function known_swarm(sid)
  local known = SWARM_KNOWN[sid]
  if not known then
    known = read_swarm(sid)
    SWARM_KNOWN[sid] = known
  end
  return known
end

-- The child of swarm `sid` at position `pos` (false when there is none; `n` is its count), from `known` (see
-- `read_swarm`). In a `multi`, whose next sub-operations are most likely outcomes of the same swarm's items, each
-- starting the next one, the children up to one per sub-operation left are read at once and kept in `known` (an
-- HMGET of a field more costs Redis less than an HGET of its own). A child's place never changes.
local function ahead_of(sid, known, pos, n)
  local queue, from = known.queue, known.queue_from
  if queue and pos >= from and pos < from + #queue then return queue[pos - from + 1] end
  local count = min(n - pos, MULTI_LEFT + 1, 64)
  if count <= 1 then return child(sid, TEXT[pos] or int_text(pos) or pos) end
  queue = numbered(sid, 'c', pos, pos + count - 1)
  known.queue, known.queue_from = queue, pos
  return queue[1]
end

-- Starts queued swarm items while running slots are free (max_concurrency 0 means no limit), then checks
-- completion. Reads the counters from the store on every turn, since starting an item may complete it at once.
-- `known`, when given, is the swarm's REPORT_FIELDS, already read (see `read_swarm`: its counts numbers);
-- `pending`, when given, are writes of the swarm not sent yet, hash fields and values (see `swarm_names`) starting
-- with the running count: they go with the first write of the fill, or before it returns; `stored_running` is then
-- the running count in the store, which that write leaves as it is when the fill takes the freed slot again.
fill = function(sid, known, pending, stored_running)
  local status, started, maxc, running, msg, route, args, parent, closed, n, ok_n, fail_n, qh
  if not known then known = read_swarm(sid) end
  local names = known.names
  status, started, maxc, running, msg, route, args, parent, closed, n, ok_n, fail_n, qh = unpack(known, 1, 13)
  if status ~= 'active' or started ~= '1' then
    if pending then call('HSET', G, unpack(pending)) end
    return
  end
  local nested = false
  while (maxc == 0 or running < maxc) and qh < n do
    local pos = qh
    local item = ahead_of(sid, known, pos, n)
    qh = qh + 1
    running = running + 1
    -- the queue's head, the running count (unless the store holds it: the fill takes the slot just freed) and what
    -- the caller left pending, written with the item's first write: one HSET less per item
    local writes = pending or { names[4], 0 }
    pending = nil
    if running == stored_running then
      writes[1], writes[2] = names[13], TEXT[qh] or int_text(qh) or qh
    else
      writes[2] = TEXT[running] or int_text(running) or running
      writes[#writes + 1] = names[13]
      writes[#writes + 1] = TEXT[qh] or int_text(qh) or qh
    end
    stored_running = nil
    known[4], known[13] = running, qh
    -- (one list of the swarm's args, parent, id and plain mark for all its items' starts while what was read of it
    -- holds)
    local parent_fields = known.parent_fields
    if not parent_fields then
      parent_fields = { args, parent, sid, known[SWARM_PLAIN] == '1' }
      known.parent_fields = parent_fields
    end
    local kind, problem = start(item or '', msg or 'null', route or '0', true, parent_fields, nil, writes)
    if not kind then call('HSET', G, unpack(writes)) end
    if problem then
      -- the item fails in its position (items leave the queue in position order); report fills on
      local role = 'item ' .. (pos + 1) .. ' of swarm ' .. sid
      report(sid, item or '', false, damaged_json(item or '', role, problem, msg), pos, '1')
      return
    elseif not kind then
      -- the item ended before it could start (canceled while queued): it holds no slot
      running = incr(sid, 'running', -1)
      drop(item, 'slot')
    elseif kind ~= 'task' then
      -- a chain or swarm item may have finished at once and changed this swarm: read it again
      nested = true
      SWARM_KNOWN[sid] = nil
      local now_status, now_running, now_qh = get(sid, 'status', 'running', 'qh')
      if now_status ~= 'active' then return end
      running = num(now_running or 0)
      qh = num(now_qh or 0)
    end
  end
  if pending then call('HSET', G, unpack(pending)) end
  -- starting tasks changes none of the fields completion depends on
  check_complete(sid, (not nested) and known or nil)
end

-- A child of a container finished: a chain starts its next step or ends; a swarm records the outcome at the item's
-- position, frees the item's slot, stops at its failure threshold, or fills and checks completion.
-- `pos` and `slot` are the child's position and whether it held a running slot.
report = function(pid, cid, ok, payload, pos, slot)
  local known, kind, status, raw, stop_after, args, grandparent, next_step, next_pos, plain
  if slot == '1' then
    -- a child that held a running slot reports to a swarm, which fills next: one read for both, and for the
    -- swarm's other items that report in this call
    known = known_swarm(pid)
    status, kind, raw, stop_after = known[1], known[14], known[15], known[16]
  else
    -- with what a chain needs to start its next step: that step, and the chain's args, parent and plain mark for its
    -- dispatch (one HMGET, without `get`'s walk over field names: a chain's every step reads them)
    next_pos = num(pos or 0) + 1
    local got = call('HMGET', G, pid .. '|args', pid .. '|c' .. (int_text(next_pos) or next_pos), pid .. '|h',
      pid .. '|plain')
    args, next_step, plain = got[1], got[2], got[4] == '1'
    local head = HEADS[pid]
    if head == nil then head = front_of(pid, got[3]) end
    if head then kind, status, grandparent = present(head[H_KIND]), present(head[H_STATUS]), present(head[H_PARENT]) end
    if plain and kind == 'chain' and not PLAIN_CHAINS[pid] then
      if PLAIN_CHAINS_COUNT >= PLAIN_CHAINS_MAX then PLAIN_CHAINS, PLAIN_CHAINS_COUNT = {}, 0 end
      PLAIN_CHAINS[pid], PLAIN_CHAINS_COUNT = true, PLAIN_CHAINS_COUNT + 1
    end
    -- a swarm's item that held no slot (it was canceled while queued): what the swarm's outcome needs
    if kind == 'swarm' then raw, stop_after = get(pid, 'raw', 'stop_after') end
  end
  if not kind or status == 'done' or status == 'failed' or status == 'canceled' then return end
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
    if next_step then
      local _, problem = start(next_step, payload, '1', nil, { args, grandparent, pid, plain }, true)
      if problem then
        complete(pid, false, damaged_json(next_step, 'step ' .. (next_pos + 1) .. ' of chain ' .. pid, problem, payload))
      end
    else
      complete(pid, true, payload)
    end
    return
  end
  local outcome
  if not ok then
    outcome = '{"failed":' .. payload .. '}'
  elseif raw == '1' then
    outcome = payload
  else
    outcome = '{"ok":' .. payload .. '}'
  end
  if known then
    -- the outcome, the freed slot and the count are written with the fill's first write (`fill`'s pending, which
    -- starts with the running count)
    local names = known.names
    local running = counter(known[4]) - 1
    known[4] = running
    -- (made with room for the count, set below, and for the head of the item the fill starts, which that write adds:
    -- a table that grows is rehashed)
    local pending = { names[4], TEXT[running] or int_text(running) or running, names[SWARM_RESULT] .. (pos or 0),
                      outcome, false, false, nil, nil }
    if ok then
      local ok_n = counter(known[11]) + 1
      known[11] = ok_n
      pending[5], pending[6] = names[11], TEXT[ok_n] or int_text(ok_n) or ok_n
    else
      local failures = counter(known[12]) + 1
      known[12] = failures
      pending[5], pending[6] = names[12], TEXT[failures] or int_text(failures) or failures
      local limit = tonumber(stop_after or 0)
      if limit > 0 and failures >= limit then
        call('HSET', G, unpack(pending))
        complete(pid, false, failure_json(pid, 'swarm_failed',
          failures .. ' items failed, which reached stop_after_failures = ' .. limit))
        return
      end
    end
    fill(pid, known, pending, running + 1)
    return
  end
  set(pid, { 'r' .. (pos or 0), outcome })
  if slot == '1' then incr(pid, 'running', -1) end
  if ok then
    incr(pid, 'ok_n', 1)
  else
    local failures = incr(pid, 'fail_n', 1)
    local limit = tonumber(stop_after or 0)
    if limit > 0 and failures >= limit then
      complete(pid, false, failure_json(pid, 'swarm_failed',
        failures .. ' items failed, which reached stop_after_failures = ' .. limit))
      return
    end
  end
  fill(pid)
end

-- A signature finished with an outcome: record it, end whatever of it will never run, notify waiters, start the
-- callbacks of the outcome and drop the others, and tell the parent.
local COMPLETE_FIELDS = { 'kind', 'status', 'parent', 'on_ok', 'on_err', 'next', 'pos', 'slot', 'token', 'w' }

-- `head`, when given, is the signature's head, read (and kept in HEADS), and `on_ok`, `on_err` its callbacks.
complete = function(id, ok, payload, head, on_ok, on_err)
  local kind, status, parent, continued, pos, slot, watched, _
  if head then
    -- (inline: `present` is a call each)
    kind, status, parent, continued = head[H_KIND], head[H_STATUS], head[H_PARENT], head[H_NEXT]
    pos, slot, watched = head[H_POS], head[H_SLOT], head[H_W]
    if parent == '' then parent = nil end
    if continued == '' then continued = nil end
    if pos == '' then pos = nil end
    if slot == '' then slot = nil end
    if watched == '' then watched = nil end
  else
    kind, status, parent, on_ok, on_err, continued, pos, slot, _, watched = get(id, unpack(COMPLETE_FIELDS))
  end
  if not kind or status == 'done' or status == 'failed' or status == 'canceled' then return end
  -- most signatures have no callbacks: no lists to build for them
  local fire = on_ok and split(on_ok) or NONE
  local skip = on_err and split(on_err) or NONE
  if ok and fire ~= NONE then
    -- a success callback that cannot run fails the signature instead, loudly
    for _, callback in ipairs(fire) do
      local problem = damage(get(callback, 'kind', 'status', 'token'))
      if problem then
        ok, payload = false, damaged_json(callback, 'the success callback of ' .. id, problem, payload)
        break
      end
    end
  end
  if not ok then fire, skip = skip, fire end
  local new_status = ok and 'done' or 'failed'
  -- a swarm item keeps its `slot` mark: report, below, gives the slot back, and nothing reads the mark of an item
  -- that finished
  if not head then head = head_of(id) end
  head[H_STATUS], head[H_PREV], head[H_FINISHED] = new_status, status, NOW_S
  -- (with room for the head, which `write_head` adds: a table that grows is rehashed)
  write_head(id, head, { id .. (ok and '|result' or '|error'), payload, nil, nil })
  if kind == 'task' and not continued then call('ZREM', LEASES, GROUP .. '|' .. id) end
  if not ok and kind ~= 'task' then
    -- what of a failed container has not finished never runs; a container that succeeded has none (a chain succeeds
    -- when its last step does, a swarm when all its items have), so its children are not read again
    for _, c in ipairs(children(id)) do
      if c then terminate(c) end
    end
  end
  if watched then publish(id, new_status) end
  if skip ~= NONE then
    for _, callback in ipairs(skip) do terminate(callback) end
  end
  if fire ~= NONE then
    for _, callback in ipairs(fire) do start(callback, payload, '1') end
  end
  if parent and parent ~= '' then
    report(parent, id, ok, payload, pos, slot)
  else
    ended(id, parent, new_status)
  end
end

-- A task dispatched but not begun whose record is damaged (a field holds what the engine never writes; its token
-- among them, so no delivery of it could ever begin): the task fails with the kind `damaged`, which fails its flow
-- loudly instead of leaving it waiting. A head that does not parse names no flow: see `fail_orphan`.
fail_if_damaged = function(id, head)
  local kind = head[H_KIND]
  if kind == UNREADABLE then return false end
  local problem = damage(kind, head[H_STATUS], present(head[H_TOKEN]))
  if not problem then return false end
  call('ZREM', OUTBOX, member(id))
  local role = 'task ' .. head[H_TASK] .. ', dispatched but not begun'
  complete(id, false, damaged_json(id, role, problem, nil))
  return true
end

-- The container in this group that lists `id` as a child, and its position: the field `<container>|c<pos>` whose
-- value is `id`. Walks the group's field names, so only the recovery sweep looks, for a task whose own record no
-- longer names its parent.
local function container_of(id)
  local listed = {}
  for _, name in ipairs(call('HKEYS', G)) do
    if string.find(name, '|c%d+$') then listed[#listed + 1] = name end
  end
  for first = 1, #listed, 1000 do
    local names = { unpack(listed, first, min(first + 999, #listed)) }
    local got = call('HMGET', G, unpack(names))
    for j = 1, #names do
      if got[j] == id then return match(names[j], '^(.*)|c(%d+)$') end
    end
  end
end

-- A dispatched task whose record is missing (deleted, or expired before its flow) or whose head does not parse
-- (`problem` says which) no longer names its parent, which would wait for it for ever. When a container of this group
-- that has not finished lists it, the task's record is written again as its child's, failed with the kind `damaged`,
-- and the container hears of it as of any failed child: the flow fails loudly (or, in a swarm, goes on without it).
-- Says whether it found the container.
local function fail_orphan(id, problem)
  local pid, pos = container_of(id)
  if not pid then return false end
  local pkind, pstatus = get(pid, 'kind', 'status')
  if not pkind or finished(pstatus) then return false end
  local head = {}
  for k = 1, HEAD_SIZE do head[k] = '' end
  head[H_KIND], head[H_STATUS], head[H_PARENT], head[H_POS] = 'task', 'active', pid, pos
  local role
  if pkind == 'swarm' then
    -- a swarm's item is dispatched in a running slot, which its failure gives back
    head[H_SLOT] = '1'
    role = 'item ' .. (tonumber(pos) + 1) .. ' of swarm ' .. pid
  elseif pkind == 'chain' then
    role = 'step ' .. (tonumber(pos) + 1) .. ' of chain ' .. pid
  else
    role = 'the flow task ' .. pid .. ' continued with'
  end
  HEADS[id] = head
  complete(id, false, damaged_json(id, role, problem, nil), head)
  return true
end

-- Whether the last outcome was of a child of a plain swarm or chain (see `create_records`), which has no callbacks:
-- the next outcome, most likely of that container's next child, reads the head of its task alone, and its callbacks
-- only when it turns out not to be one (a field read less per task; a call more for the first other outcome).
local PLAIN_LAST = false

local function op_succeed_fail()
  -- id, token, payload (the result, or the failure report), '1' to begin the first task it dispatches at once (for
  -- a worker in this process), '1' to drop the run's creation journal, the trace context of the run's span (the
  -- last three may be left out when empty).
  -- Replies in extra which of its dispatches that task is (1 for the first) when it began one.
  local id, token, payload = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  -- (what `arg` does, without a call each)
  local journaled = NARGS > 4 and ARGV[A + 4] or nil
  CLAIM, CLAIMED = NARGS > 3 and ARGV[A + 3] == '1', nil
  TRACE = NARGS > 5 and ARGV[A + 5] or ''
  local guessed = PLAIN_LAST
  local text, on_ok, on_err = head_and(id, guessed, '|on_ok', '|on_err')
  local head = parse_head(text)
  HEADS[id] = head
  if not head then return absent(id) end
  local status = head[H_STATUS]
  -- a run that a newer dispatch replaced (its lease was lost) reports nothing
  if head[H_TOKEN] ~= token then return result('stale', { status }) end
  if not (status == 'active' or status == 'pending' or status == 'suspended') then
    return result('ignored', { status })
  end
  -- an item that holds a running slot reports to its swarm, which `report` reads: read here, it says whether the
  -- swarm is plain; a chain's step finds its chain in PLAIN_CHAINS when its chain is plain and was read before
  local parent, plain = head[H_PARENT], false
  if head[H_SLOT] == '1' and parent ~= '' then
    plain = known_swarm(parent)[SWARM_PLAIN] == '1'
  elseif parent ~= '' then
    plain = PLAIN_CHAINS[parent] == true
  end
  if guessed and not plain then
    local got = call('HMGET', G, id .. '|on_ok', id .. '|on_err')
    on_ok, on_err = got[1], got[2]
  end
  PLAIN_LAST = plain
  complete(id, OP == 'succeed', payload, head, on_ok, on_err)
  if journaled == '1' then drop(id, 'jrn') end
  return result('ok', CLAIMED)
end
OPS['succeed'] = op_succeed_fail
OPS['fail'] = op_succeed_fail

-- ---- lifecycle -----------------------------------------------------------------------------------------------

-- Stops a signature and everything under it that has not finished. A task that was dispatched but has not begun
-- is marked due (prev = active) so that resume dispatches it again; interrupting lists running tasks to abort.
local function stop(id, mode)
  local kind, status, continued = get(id, 'kind', 'status', 'next')
  if not kind or finished(status) then return end
  local running_task = kind == 'task' and not continued
  if runnable(status) then
    local prev = status
    if kind == 'task' and status == 'pending' and call('ZSCORE', OUTBOX, member(id)) then prev = 'active' end
    set(id, { 'status', mode, 'prev', prev })
    if running_task and status == 'active' and mode == 'interrupted' then interrupt(id) end
  elseif status ~= mode and mode == 'interrupted' then
    set(id, { 'status', mode })
    if running_task then interrupt(id) end
  end
  if running_task and mode == 'interrupted' then
    -- the run is aborted: it holds no lease, and resume dispatches it again
    drop(id, 'lease')
    call('ZREM', LEASES, member(id))
  end
  if not running_task then
    for _, c in ipairs(children(id)) do
      if c then stop(c, mode) end
    end
  end
end

-- Resumes what stop stopped: due tasks are dispatched again, the rest returns to its previous status, and swarms
-- fill their free slots.
local function resume(id)
  local kind, status, prev, continued, lease = get(id, 'kind', 'status', 'prev', 'next', 'lease')
  if not kind or not stopped(status) then return end
  if kind == 'task' and not continued then
    if prev == 'active' and status == 'suspended' and tonumber(lease or 0) > NOW_MS then
      -- suspended while it ran, and its run is still under way (its lease holds): it goes on and reports
      set(id, { 'status', 'active', 'prev', status })
    elseif prev == 'active' then
      set(id, { 'status', 'pending', 'prev', status })
      dispatch(id)
    else
      set(id, { 'status', prev or 'pending', 'prev', status })
    end
    return
  end
  set(id, { 'status', prev or 'pending', 'prev', status })
  for _, c in ipairs(children(id)) do
    if c then resume(c) end
  end
  if kind == 'swarm' then fill(id) end
end

local function op_suspend_interrupt_resume_cancel()
  -- id, the trace context of the caller's span
  local id = ARGV[A]
  TRACE = ARGV[A + 1] or ''
  local kind, status, parent, pos, slot = get(id, 'kind', 'status', 'parent', 'pos', 'slot')
  if not kind then return absent(id) end
  if finished(status) then return result('finished', { status }) end
  if OP == 'suspend' then
    stop(id, 'suspended')
  elseif OP == 'interrupt' then
    stop(id, 'interrupted')
  elseif OP == 'resume' then
    resume(id)
  else
    local failure = failure_json(id, 'canceled', 'canceled by request')
    terminate(id)
    if parent and parent ~= '' then report(parent, id, false, failure, pos, slot) end
  end
  touch(id)
  return result('ok')
end
OPS['suspend'] = op_suspend_interrupt_resume_cancel
OPS['interrupt'] = op_suspend_interrupt_resume_cancel
OPS['resume'] = op_suspend_interrupt_resume_cancel
OPS['cancel'] = op_suspend_interrupt_resume_cancel

-- ---- reading -------------------------------------------------------------------------------------------------

-- Every field a record may have, but the numbered ones (children, results).
local RECORD_FIELDS = { 'kind', 'task', 'status', 'prev', 'parent', 'pos', 'on_ok', 'on_err', 'args', 'rf', 'msg',
  'route', 'token', 'attempt', 'base', 'lease', 'ref', 'result', 'error', 'created', 'finished', 'root', 'next', 'n',
  'maxc', 'stop_after', 'max_items', 'raw', 'closed', 'started', 'running', 'ok_n', 'fail_n', 'qh', 'slot',
  'jrn' }

local function op_read()
  -- id, '1' for the whole tree under it (children and callbacks, recursively), '1' when the caller waits for the
  -- signature to finish (subscribed to its channel already), '1' for its fields only (a waiter's read: the ids of a
  -- swarm's children cost redis-server about 3,000 instructions each): {code, records}, each record {id, {field,
  -- value, ...}, {child ids}}. Children whose record is gone are left out. A waiter is counted in `w`, so that the
  -- signature's end is published.
  local id, whole, watch, fields_only = ARGV[A], ARGV[A + 1] == '1', ARGV[A + 2] == '1', ARGV[A + 3] == '1'
  if not get(id, 'kind') then
    local group = moved_to(id)
    if group then return { 'moved', { group } } end
    return { 'missing' }
  end
  if watch and not finished(get(id, 'status')) then incr(id, 'w', 1) end
  local records = {}
  local function read(rid)
    local values = { get(rid, unpack(RECORD_FIELDS)) }
    if not values[1] then return end
    -- a task that was started (dispatched, or due when resumed) has a message: a swarm item's is its swarm's
    if values[1] == 'task' and (values[13] or values[4] == 'active') then
      values[11], values[12] = started_with(values[11], values[12], values[5], values[6])
    end
    local fields = {}
    for i, name in ipairs(RECORD_FIELDS) do
      if values[i] then
        fields[#fields + 1] = name
        fields[#fields + 1] = values[i]
      end
    end
    local kids = {}
    if not fields_only then
      for _, c in ipairs(children(rid)) do
        if c then kids[#kids + 1] = c end
      end
    end
    records[#records + 1] = { rid, fields, kids }
    if whole then
      for _, c in ipairs(kids) do read(c) end
      -- on_ok and on_err are RECORD_FIELDS 7 and 8
      for _, callback in ipairs(split(values[7])) do read(callback) end
      for _, callback in ipairs(split(values[8])) do read(callback) end
    end
  end
  read(id)
  return { 'ok', records }
end
OPS['read'] = op_read

-- ---- creation ------------------------------------------------------------------------------------------------

-- Signature records in ARGV from index i: their count and the number of arguments they take after it (their span),
-- then per record id, kind, task (name), field count, field/value pairs, child count, child ids. Every record has a
-- task name, so it takes a place instead of a field: an argument and a field's handling less per record. The span
-- spares a walk over them to find where they end: about 4,000 redis-server instructions per record.
--
-- Tasks with nothing but their name (no fields, no children: a swarm's or a chain's plain items, placed by their
-- container's list) come in runs of the same task: '' (no id is empty), the task, how many, their ids. One argument
-- per record instead of five: creating S2's swarm of 1,000 such items cost redis-server 15% fewer instructions per
-- item (about 33,300 instead of 39,200, under callgrind).

-- The index after the records at index i.
local function records_end(i)
  return i + 2 + tonumber(ARGV[i + 1])
end

-- Walks the records at index i: calls visit(id, kind, task, first field index, field count, first child index, child
-- count) for each (a task of a run has no field or child index, and counts of 0), and returns the index after them.
-- A record's id, kind, task and field count are at the four indexes before its first field. With `visit_run`, a run
-- goes to visit_run(task, index of its first id, index of its last id) instead, whole: a call less per task.
local function scan_records(i, visit, visit_run)
  local after = records_end(i)
  i = i + 2
  while i < after do
    local id = ARGV[i]
    if id == '' then
      local task = ARGV[i + 1]
      local last = i + 2 + tonumber(ARGV[i + 2])
      if visit_run then
        visit_run(task, i + 3, last)
      else
        for j = i + 3, last do visit(ARGV[j], 'task', task, nil, 0, nil, 0) end
      end
      i = last + 1
    else
      local kind, task, nfields = ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
      local fields_at = i + 4
      local nchildren = tonumber(ARGV[fields_at + 2 * nfields])
      local children_at = fields_at + 2 * nfields + 1
      visit(id, kind, task, fields_at, nfields, children_at, nchildren)
      i = children_at + nchildren
    end
  end
  return i
end

local function field_of(fields_at, nfields, name)
  for j = 0, nfields - 1 do
    if ARGV[fields_at + 2 * j] == name then return ARGV[fields_at + 2 * j + 1] end
  end
  return nil
end

-- What a batch knows of the signatures it touches (see "batches" below), by id: a table (see `planned`), false for
-- one the store lacks, the index in ARGV of the fields of one the batch will create (`plan_records`; a table once
-- `planned` needs more) or the task name of one it will create from a run, or 0 for one the batch created. Made
-- afresh by the operations that create records (`batch`, `check`, `continue`): a run's outcome needs none.
local plan

-- Redis keeps a small hash (up to hash-max-listpack-entries fields: 128 by default, 512 in some distributions) as a
-- flat list that every read and write searches from the start, so that filling one with hundreds of fields costs
-- time quadratic in their number: storing a chain of 100 steps spent 40% of Redis's time per step on those searches.
-- A creation that will take its group past LISTPACK_FIELDS fields (its runs roughly double what creation writes)
-- writes the field `#table` first, whose value is longer than hash-max-listpack-value (64 bytes by default): Redis
-- makes the hash a hash table at once. Groups that grow a little at a time stay compact.
local LISTPACK_FIELDS = 128
local TABLE_MARK = 'a hash table from the start: more fields than a listpack searches quickly (see engine.lua)'

-- The records' span (see `records_end`) is about the number of fields creation writes (a task of a run takes an
-- argument there and one in its container's list, and writes its head and its place in that container).
local function make_room(i)
  if 2 * tonumber(ARGV[i + 1]) > LISTPACK_FIELDS then call('HSET', G, '#table', TABLE_MARK) end
end

-- Creates the records at index i. Existing records are left as they are, so a re-sent creation changes nothing.
-- `place`, when given, puts records in a container: id -> {parent, position}; a record listed as a child of a record
-- before it takes its place there. A record without a parent counts as live in the group; a root flow enters the
-- flow index. A chain or swarm created with children that are all created here as plain tasks (a run's, without
-- fields) is marked `plain`: its children have no fields of their own (no `rf`, `args`, `on_ok` or `on_err`), so
-- that starting one, and its outcome, read its head alone (see `start`, `op_succeed_fail`; `update` and `add` remove
-- the mark when that stops being true). Returns the index after the records, and whether any of them existed
-- already or has fields of its own.
local function create_records(i, place)
  local created, bound = false, false
  -- the chains and swarms created, each followed by its number of children, and the number of their children
  -- created plain, by container
  local containers, plain_children = {}, {}
  make_room(i)
  -- a task's head is read next when it is dispatched: remembered parsed (see PARSED) unless there are so many that
  -- the first would be forgotten before their turn
  local remembered = tonumber(ARGV[i]) <= PARSED_MAX / 2
  -- the container and position of the children of the records seen so far (even of one that exists already: a child
  -- whose record was lost is created again in its place)
  local container_of, position_of = {}, {}
  -- the records' fields and values, written a thousand at a time: one HSET per record cost more than its fields
  local writes, n = {}, 0
  local function flush()
    if n > 0 then call('HSET', G, unpack(writes, 1, n)) end
    n = 0
  end
  local function visit(id, kind, task, fields_at, nfields, children_at, nchildren)
    if n >= 2000 then flush() end
    for c = 0, nchildren - 1 do
      local child = ARGV[children_at + c]
      container_of[child], position_of[child] = id, c
    end
    -- a record the batch planned to create (see `plan_records`), unless an earlier sub-operation created it
    local planned_record = plan[id]
    local planned_as = type(planned_record)
    if planned_as == 'number' or planned_as == 'string' then
      plan[id] = 0
    elseif planned_record and planned_record.fresh then
      planned_record.fresh = false
    else
      flush()
      if get(id, 'kind') then
        bound = true
        return
      end
    end
    created = true
    local prefix
    -- the fields of the head that a record brings: its task, parent, pos, root (and `others`, which creation never
    -- sends)
    local parent, pos, root, others = nil, '', '', nil
    for j = 0, nfields - 1 do
      local name, value = ARGV[fields_at + 2 * j], ARGV[fields_at + 2 * j + 1]
      if name == 'parent' then
        parent = value
      elseif name == 'pos' then
        pos = value
      elseif name == 'root' then
        root = value
      elseif HEAD_AT[name] then
        others = others or {}
        others[#others + 1] = name
        others[#others + 1] = value
      else
        bound = true
        prefix = prefix or (id .. '|')
        writes[n + 1], writes[n + 2] = prefix .. name, value
        n = n + 2
      end
    end
    local placed = place and place[id]
    if placed then
      parent, pos = placed[1], placed[2]
    elseif container_of[id] then
      parent, pos = container_of[id], int_text(position_of[id])
    end
    if nchildren > 0 then
      if kind ~= 'task' then
        containers[#containers + 1] = id
        containers[#containers + 1] = nchildren
      end
      prefix = prefix or (id .. '|')
      writes[n + 1], writes[n + 2] = prefix .. 'n', int_text(nchildren)
      n = n + 2
      for c = 0, nchildren - 1 do
        -- (Lua's stack bounds `unpack`)
        if n >= 2000 then flush() end
        writes[n + 1], writes[n + 2] = prefix .. 'c' .. (TEXT[c] or int_text(c)), ARGV[children_at + c]
        n = n + 2
      end
    end
    -- the head in HEAD's order (kind status parent token prev attempt base lease slot root w pos next created
    -- finished task), written as text, without the list `write_head` joins (a fifth of creating a swarm's item):
    -- what reads it later in this call reads it again
    local text =
      kind .. ' pending ' .. (parent or '') .. '       ' .. root .. '  ' .. pos .. '  ' .. NOW_S .. '  ' .. task
    writes[n + 1], writes[n + 2] = id .. '|h', text
    n = n + 2
    HEADS[id] = nil
    if remembered then
      remember(text, { kind, 'pending', parent or '', '', '', '', '', '', '', root, '', pos, '', NOW_S, '', task })
    end
    if others then
      flush()
      set(id, others)
    end
    if not parent then call('HINCRBY', G, '#live', 1) end
    if root ~= '' then
      local m = member(id)
      call('ZADD', FLOWS, NOW_MS_TEXT, m)
      call('HSET', INDEX, m, 'pending 0 ' .. task)
      call('EXPIRE', FLOWS, KEEP_TTL)
      call('EXPIRE', INDEX, KEEP_TTL)
    end
  end
  -- the heads of a run's tasks up to their position: by container, `task pending <container>` and the empty fields
  -- up to `pos` (see the head's text, above)
  local fronts = {}
  local after = scan_records(i, visit, function(task, first, last)
    local tail = '  ' .. NOW_S .. '  ' .. task
    for j = first, last do
      local id = ARGV[j]
      local parent = container_of[id]
      if place or not parent or plan[id] ~= task then
        -- not a plain child the batch planned to create (placed by `add`, a callback, or stored already)
        visit(id, 'task', task, nil, 0, nil, 0)
      else
        if n >= 2000 then flush() end
        plan[id] = 0
        created = true
        local at = position_of[id]
        local pos = TEXT[at] or int_text(at)
        local front = fronts[parent]
        if not front then
          front = 'task pending ' .. parent .. '         '
          fronts[parent] = front
        end
        local text = front .. pos .. tail
        writes[n + 1], writes[n + 2] = id .. '|h', text
        n = n + 2
        plain_children[parent] = (plain_children[parent] or 0) + 1
        -- (HEADS has no entry for it: planning found no head, and a table key set to nil is still made, with
        -- its share of the table's growth)
        if remembered then
          remember(text, { 'task', 'pending', parent, '', '', '', '', '', '', '', '', pos, '', NOW_S, '', task })
        end
      end
    end
  end)
  for c = 1, #containers, 2 do
    local id = containers[c]
    if plain_children[id] == containers[c + 1] then
      if n >= 2000 then flush() end
      writes[n + 1], writes[n + 2] = id .. '|plain', '1'
      n = n + 2
    end
  end
  flush()
  if created then call('EXPIRE', G, ACTIVE_TTL) end
  return after, bound
end

local function op_continue()
  -- task id, token, the records of the flow it continues with (its root a child of the task), the root's id, its
  -- message, '1' to drop the run's creation journal, the trace context of the run's span
  local id, token = ARGV[A], ARGV[A + 1]
  local kind, status, continued, current = get(id, 'kind', 'status', 'next', 'token')
  if not kind then return absent(id) end
  if current ~= token then return result('stale', { status }) end
  if continued or not (runnable(status) or status == 'suspended') then return result('ignored', { status }) end
  plan = {}
  local i = create_records(A + 2)
  local next_id, msg, journaled = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  TRACE = ARGV[i + 3] or ''
  -- the run ended: its lease with it
  call('ZREM', LEASES, member(id))
  drop(id, 'lease')
  set(id, { 'next', next_id, 'n', 1, 'c0', next_id })
  if status == 'suspended' then stop(next_id, 'suspended') end
  start(next_id, msg, '0')
  if journaled == '1' then drop(id, 'jrn') end
  return result('ok')
end
OPS['continue'] = op_continue

-- ---- batches --------------------------------------------------------------------------------------------------
-- A batch is a list of sub-operations applied in one atomic call, all or nothing: every sub-operation is checked
-- first, against the store and against what the earlier sub-operations of the batch will have done (the plan);
-- only when all pass is anything written. The single operations that create or change flows are batches of one.
--   create   records                          store signatures
--   run      records, id, message             store signatures and start one with a message
--   add      swarm, close flag, n, ids, records   add items to a swarm (closing it, when asked or full)
--   update   id, arguments                    add a layer of bound arguments (a JSON object) to a signature
--   close    swarm                            close a swarm
--   journal  task id, n, ids                  append ids to a task run's creation journal

-- What the batch knows of a signature: its state in the store, updated by the sub-operations checked so far.
local function planned(id)
  local described = plan[id]
  if type(described) == 'string' then
    -- a task of a run the batch creates (see `scan_records`)
    plan[id] = { kind = 'task', status = 'pending', fresh = true, closed = false, n = 0, max = 0 }
  elseif type(described) == 'number' then
    -- a record the batch creates, its fields at ARGV[described] (see `plan_records`)
    local nfields = tonumber(ARGV[described - 1])
    local kind = ARGV[described - 3]
    plan[id] = { kind = kind, status = 'pending', fresh = true,
                 closed = field_of(described, nfields, 'closed') == '1',
                 n = kind == 'swarm' and tonumber(ARGV[described + 2 * nfields]) or 0,
                 max = tonumber(field_of(described, nfields, 'max_items') or 0) }
  elseif described == nil or described == 0 then
    local kind, status, closed, n, max_items, token = get(id, 'kind', 'status', 'closed', 'n', 'max_items', 'token')
    if kind then
      plan[id] = { kind = kind, status = status, closed = closed == '1', n = tonumber(n or 0),
                   max = tonumber(max_items or 0), problem = damage(kind, status, token) }
    else
      plan[id] = false
    end
  end
  return plan[id]
end

-- The refusal for a signature this group lacks: `moved` (to the group its pointer names) or `missing`.
local function lacking(id)
  local group = moved_to(id)
  if group then return { 'moved', id, group } end
  return { 'missing', id }
end

-- Plans records; an existing record must be the same signature (a creation replayed on retry), else the problem.
-- Returns the problem, or nil.
local function plan_records(i)
  local problem
  -- a record of `kind` and `task` whose head is `head` (false when the store lacks it), described by its fields'
  -- index in ARGV, or by its task's name when it comes from a run
  local function plan_one(id, kind, task, described, head)
    local existing_kind = head and head[1] ~= '' and head[1]
    if existing_kind then
      local existing_task = head[HEAD_SIZE]
      if not problem and (existing_kind ~= kind or existing_task ~= task) then
        problem = { 'mismatch', id, existing_kind .. ' ' .. existing_task, kind .. ' ' .. task }
      end
      planned(id)
    elseif not plan[id] then
      -- to be created: described until `planned` needs more (most records never do)
      plan[id] = described
    end
  end
  -- the heads this call has not read, for all records at once (creation stores hundreds), with the records' ids,
  -- kinds, tasks and descriptions (a task of a run has no kind there, for 'task', nor description, for its task name:
  -- two writes less per task)
  local unread, ids, kinds, tasks, described, count = {}, {}, {}, {}, {}, 0
  local function visit(id, kind, task, fields_at)
    local head = HEADS[id]
    if head == nil then
      count = count + 1
      unread[count], ids[count], kinds[count], tasks[count], described[count] = id .. '|h', id, kind, task,
        fields_at or task
    else
      plan_one(id, kind, task, fields_at or task, head)
    end
  end
  -- (a run's tasks in a loop of their own, without a call of `visit` each: 2% of creating a swarm of plain tasks)
  scan_records(i, visit, function(task, first, last)
    for j = first, last do
      local id = ARGV[j]
      local head = HEADS[id]
      if head == nil then
        count = count + 1
        unread[count], ids[count], tasks[count] = id .. '|h', id, task
      else
        plan_one(id, 'task', task, task, head)
      end
    end
  end)
  for first = 1, count, 1000 do
    local got = call('HMGET', G, unpack(unread, first, min(first + 999, count)))
    for j = 1, #got do
      local k = first + j - 1
      local text = got[j]
      if text then
        local head = parse_head(text)
        HEADS[ids[k]] = head
        plan_one(ids[k], kinds[k] or 'task', tasks[k], described[k] or tasks[k], head)
      elseif not plan[ids[k]] then
        -- to be created (what `plan_one` does for a record the store lacks, without the call); a record the store
        -- lacks is not remembered as lacking: this batch may create it
        plan[ids[k]] = described[k] or tasks[k]
      end
    end
  end
  return problem
end

-- Reads one sub-operation at index i: its description and the index after it.
local function parse_sub(i)
  local name = ARGV[i]
  i = i + 1
  if name == 'create' then
    return { op = name, at = i }, records_end(i)
  elseif name == 'run' then
    local j = records_end(i)
    return { op = name, at = i, id = ARGV[j], msg = ARGV[j + 1] }, j + 2
  elseif name == 'add' then
    local count = tonumber(ARGV[i + 2])
    local sub = { op = name, sid = ARGV[i], close = ARGV[i + 1] == '1', items_at = i + 3, count = count,
                  at = i + 3 + count }
    return sub, records_end(sub.at)
  elseif name == 'update' then
    return { op = name, id = ARGV[i], layer = ARGV[i + 1] }, i + 2
  elseif name == 'close' then
    return { op = name, sid = ARGV[i] }, i + 1
  elseif name == 'journal' then
    local count = tonumber(ARGV[i + 1])
    return { op = name, task = ARGV[i], at = i + 2, count = count }, i + 2 + count
  end
  error('mageflow: unknown batch operation ' .. tostring(name))
end

-- Checks one sub-operation against the plan and updates the plan; returns a problem, or nil.
local function check_sub(sub)
  if sub.op == 'create' then
    local problem = plan_records(sub.at)
    return problem
  elseif sub.op == 'run' then
    local problem = plan_records(sub.at)
    if problem then return problem end
    local target = planned(sub.id)
    if not target then return lacking(sub.id) end
    if target.problem then return { 'damaged', sub.id, target.problem } end
    if target.status ~= 'pending' and not stopped(target.status) then return { 'not_pending', sub.id, target.status } end
    target.status = 'active'
  elseif sub.op == 'add' then
    local swarm = planned(sub.sid)
    if not swarm then return lacking(sub.sid) end
    if swarm.kind ~= 'swarm' then return { 'wrong_kind', sub.sid, swarm.kind } end
    local new = {}
    for j = 0, sub.count - 1 do
      local item = ARGV[sub.items_at + j]
      -- an item already in the swarm (a re-sent call) is not added again
      if get(item, 'parent') ~= sub.sid then new[#new + 1] = item end
    end
    sub.items = new
    if #new == 0 then return nil end
    if finished(swarm.status) then return { 'finished', sub.sid, swarm.status } end
    if swarm.closed then return { 'closed', sub.sid } end
    if swarm.max > 0 and swarm.n + #new > swarm.max then
      return { 'too_many', sub.sid, tostring(swarm.n), tostring(swarm.max) }
    end
    local problem = plan_records(sub.at)
    if problem then return problem end
    swarm.n = swarm.n + #new
    if sub.close or (swarm.max > 0 and swarm.n >= swarm.max) then swarm.closed = true end
  elseif sub.op == 'update' then
    local target = planned(sub.id)
    if not target then return lacking(sub.id) end
    if finished(target.status) then return { 'finished', sub.id, target.status } end
  elseif sub.op == 'close' then
    local swarm = planned(sub.sid)
    if not swarm then return lacking(sub.sid) end
    if swarm.kind ~= 'swarm' then return { 'wrong_kind', sub.sid, swarm.kind } end
    swarm.closed = true
  elseif sub.op == 'journal' then
    if not planned(sub.task) then return lacking(sub.task) end
  end
  return nil
end

local function apply_sub(sub)
  if sub.op == 'create' then
    create_records(sub.at)
  elseif sub.op == 'run' then
    create_records(sub.at)
    start(sub.id, sub.msg, '0')
    touch(sub.id)
  elseif sub.op == 'add' then
    if #sub.items == 0 then return end
    local n, max_items = get(sub.sid, 'n', 'max_items')
    n = tonumber(n or 0)
    max_items = tonumber(max_items or 0)
    local place, writes = {}, {}
    for j, item in ipairs(sub.items) do
      local pos = int_text(n + j - 1)
      place[item] = { sub.sid, pos }
      writes[#writes + 1] = 'c' .. pos
      writes[#writes + 1] = item
    end
    -- an item with fields of its own (or stored before) makes the swarm's children not all plain
    local _, bound = create_records(sub.at, place)
    if bound then unmark_plain(sub.sid) end
    for item, placed in pairs(place) do
      -- an item whose record existed already (stored before) joins the swarm too; a new one has its place already
      local parent, pos = get(item, 'parent', 'pos')
      if parent ~= placed[1] or pos ~= placed[2] then set(item, { 'parent', placed[1], 'pos', placed[2] }) end
    end
    writes[#writes + 1] = 'n'
    writes[#writes + 1] = n + #sub.items
    if sub.close or (max_items > 0 and n + #sub.items >= max_items) then
      writes[#writes + 1] = 'closed'
      writes[#writes + 1] = 1
    end
    set(sub.sid, writes)
    fill(sub.sid)
  elseif sub.op == 'update' then
    -- layers are compact JSON, which never holds a raw newline
    local args, parent = get(sub.id, 'args', 'parent')
    set(sub.id, { 'args', args and (args .. '\n' .. sub.layer) or sub.layer })
    -- its container's children are no longer all plain (see `create_records`)
    if parent then unmark_plain(parent) end
  elseif sub.op == 'close' then
    set(sub.sid, { 'closed', 1 })
    if get(sub.sid, 'status') == 'active' then fill(sub.sid) end
  elseif sub.op == 'journal' then
    if sub.count == 0 then return end
    local journal = get(sub.task, 'jrn')
    local ids = concat({ unpack(ARGV, sub.at, sub.at + sub.count - 1) }, ' ')
    set(sub.task, { 'jrn', journal and (journal .. ' ' .. ids) or ids })
  end
end

local function op_batch_check()
  -- a count, then the sub-operations, each its name followed by its arguments, then the trace context of the
  -- caller's span. `check` only checks.
  plan = {}
  local count = tonumber(ARGV[A])
  local subs, i = {}, A + 1
  for n = 1, count do
    subs[n], i = parse_sub(i)
  end
  TRACE = ARGV[i] or ''
  for n, sub in ipairs(subs) do
    local problem = check_sub(sub)
    if problem then
      table.insert(problem, 1, tostring(n))
      return result('refused', problem)
    end
  end
  if OP == 'check' then return result('ok') end
  for _, sub in ipairs(subs) do apply_sub(sub) end
  return result('ok')
end
OPS['batch'] = op_batch_check
OPS['check'] = op_batch_check

local function op_recover()
  -- grace (ms), a count and ids dispatched longer ago than the grace that never began, then a count and ids whose
  -- lease expired (both from `due`): dispatch them again. Replies {runs whose lease was lost}.
  local grace, unbegun = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
  for j = 1, unbegun do
    local id = ARGV[A + 1 + j]
    local kind, status = get(id, 'kind', 'status')
    local since = tonumber(call('ZSCORE', OUTBOX, member(id)) or NOW_MS)
    if not kind or kind == UNREADABLE then
      call('ZREM', OUTBOX, member(id))
      fail_orphan(id, damage(kind))
    elseif fail_if_damaged(id, head_of(id)) then
      -- (its flow failed, naming it)
    elseif kind == 'task' and status == 'pending' then
      -- not dispatched again since `due` read it
      if since <= NOW_MS - grace then dispatch(id) end
    else
      call('ZREM', OUTBOX, member(id))
    end
  end
  local at = A + unbegun + 2
  local lost = 0
  for j = 1, tonumber(ARGV[at]) do
    local id = ARGV[at + j]
    local kind, status, lease, begun, continued, root = get(id, 'kind', 'status', 'lease', 'attempt', 'next', 'root')
    call('ZREM', LEASES, member(id))
    if not kind or kind == UNREADABLE then
      fail_orphan(id, damage(kind))
    elseif kind == 'task' and not continued and lease and tonumber(lease) <= NOW_MS then
      if status == 'active' then
        -- the lost attempt counts: the next delivery's attempts follow it
        set(id, { 'status', 'pending', 'prev', 'active', 'base', begun or 0 })
        drop(id, 'lease')
        dispatch(id)
        if root then index(id, 'pending') end
        lost = lost + 1
      elseif stopped(status) then
        -- prev is active: resume dispatches it again
        drop(id, 'lease')
      end
    elseif kind == 'task' and lease and (status == 'active' or status == 'suspended') then
      -- renewed since it was indexed: keep it indexed at its expiry
      call('ZADD', LEASES, lease, member(id))
    end
  end
  return result('ok', { tostring(lost) })
end
OPS['recover'] = op_recover

-- ---- the entry point ------------------------------------------------------------------------------------------

-- The operations `multi` batches: the begins and outcomes of runs.
local MULTI_OPS = { begin = op_begin, succeed = op_succeed_fail, fail = op_succeed_fail }

-- A sub-operation's descriptor, "<operation> <index in KEYS of its group's hash> <argument count> <group>", read into
-- {operation, index, count, group}: by descriptor, since a `multi`'s sub-operations repeat a few of them (one
-- argument instead of four cost redis-server about 2,700 instructions less per sub-operation). Emptied when it holds
-- DESCRIBED_MAX of them.
local DESCRIBED, DESCRIBED_COUNT, DESCRIBED_MAX = {}, 0, 1024

local function described(descriptor)
  local known = DESCRIBED[descriptor]
  if known then return known end
  local op, key_at, nargs, group = match(descriptor, '^(%S+) (%d+) (%d+) (.+)$')
  if not op then error('mageflow: a sub-operation descriptor that does not parse: ' .. descriptor) end
  if DESCRIBED_COUNT >= DESCRIBED_MAX then DESCRIBED, DESCRIBED_COUNT = {}, 0 end
  known = { op, tonumber(key_at), tonumber(nargs), group }
  DESCRIBED[descriptor], DESCRIBED_COUNT = known, DESCRIBED_COUNT + 1
  return known
end

local function op_multi()
  -- A count, then per sub-operation: its descriptor (see `described`) and its arguments. KEYS: the first group's
  -- hash, the shard's keys, then the other groups' hashes, all of one shard (no pointers: see `pointer_of`). Runs
  -- each sub-operation as if it were called alone (each is its own transition: one failing leaves the others as they
  -- are) and replies, flat as a transition's: 'ok', the count, then each sub-operation's reply; a sub-operation that
  -- raised an error replies {'error 0 1', message}.
  local count = tonumber(ARGV[A])
  local i = A + 1
  local replies, m = { 'ok', count }, 2
  IN_MULTI = true
  for n = 1, count do
    local descriptor = described(ARGV[i])
    local key_at, nargs = descriptor[2], descriptor[3]
    -- what was read of one group says nothing of another (an id may be missing from one and stored in the other)
    if KEYS[key_at] ~= G then SWARM_KNOWN, HEADS = {}, {} end
    G, GROUP, OP, A, NARGS, MULTI_LEFT = KEYS[key_at], descriptor[4], descriptor[1], i + 1, nargs, count - n
    -- (the runs' operations use no plan: `plan` stays the call's)
    -- its reply goes on the `multi`'s, after a place for its summary
    replies[m + 1] = ''
    REPLY, REPLY_AT, ENTRIES, interrupts, CLAIM, CLAIMED, TRACE = replies, m + 1, 0, nil, false, nil, ''
    local run = MULTI_OPS[OP]
    local ok, reply
    if run then
      ok, reply = pcall(run)
      if ok and reply ~= replies then ok, reply = false, 'mageflow: ' .. OP .. ' answered outside its reply' end
    else
      ok, reply = false, 'mageflow: the operation ' .. tostring(OP) .. ' cannot be batched'
    end
    if not ok then
      -- what the failed sub-operation read may not be what it left, nor what it began to reply
      SWARM_KNOWN, HEADS = {}, {}
      if type(reply) == 'table' then reply = reply.err end
      for j = #replies, m + 1, -1 do replies[j] = nil end
      replies[m + 1], replies[m + 2] = 'error 0 1', tostring(reply)
    end
    -- (its summary counts its elements)
    m = #replies
    i = i + 1 + nargs
  end
  IN_MULTI, MULTI_LEFT = false, 0
  for key in pairs(MARKED) do call('ZREM', key, SKIPLIST_MARK) end
  MARKED = {}
  if OUTBOXED then call('PEXPIRE', OUTBOX, OUTBOX_TTL_MS) end
  return replies
end
OPS['multi'] = op_multi

local SHARD_OPS = { due = true, flows = true, point = true }

local function mageflow_main(keys, argv)
  KEYS, ARGV = keys, argv
  if not call then
    call, unpack, tonumber, tostring, type, ipairs, pairs, next, concat, match, format, min = library_functions()
  end
  read_header()
  local run = OPS[OP]
  if not run then return redis.error_reply('mageflow: unknown operation ' .. tostring(OP)) end
  IN_MULTI, OUTBOXED, CLAIM, CLAIMED, TRACE = false, false, false, nil, ''
  if not SHARD_OPS[OP] then
    bind_group()
    -- both are per call; a call that used neither keeps the empty tables
    if next(SWARM_KNOWN) then SWARM_KNOWN = {} end
    if next(HEADS) then HEADS = {} end
    -- (the last batch's plan, let go)
    if plan then plan = nil end
  end
  -- (left over only by a `multi` that raised an error outside its sub-operations)
  if next(MARKED) then MARKED = {} end
  return run()
end
