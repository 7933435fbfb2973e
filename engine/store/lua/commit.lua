-- Commit one transition atomically (see engine/store/base.py, Commit).
-- KEYS[1] meta, KEYS[2] hist, KEYS[3] outbox, KEYS[4] due, KEYS[5] tasks,
-- KEYS[6] the execution's key set (keys.child_keys), KEYS[7] the ids of the job stop
-- requests in the outbox (keys.job_stops), KEYS[8..] docs and hashes
-- ARGV[1] header (JSON):
--   run  require the execution to be RUNNING
--   w    [[key, expected version, doc argv, phase, attempt], ...]   compare-and-set documents
--   ev   [first argv, count]       event bodies: JSON objects without the leading "{"
--   oa   [[id argv, message argv, deadline], ...]                     outbox entries to add
--   orm  [id, ...]                                                    outbox entries consumed
--   hs   [[key, field, value argv], ...]                              child items / results
--   mt   {field: value}                                               execution record fields
--   clr  drop every outbox entry (the execution ended) but the job stop requests, before
--        adding the commit's own
--   jr   [key, ...]   joins whose phase must still be "running" (else: the child is aborted)
--   cap  [events, failure argv, {field: value}]   the history cap (see HistoryLimit): the
--        event that would be number `events` is the ExecutionFailed body at the argv
--        instead, the execution closes with the fields, and nothing else is applied
--   ttl  seconds a closed execution's record, history and task ids are kept (0: forever)
--   cl   [run key, owner, lease until, TaskStarted argv (0: none), Celery task id,
--        history cap (0: none)]   claim the Task this commit schedules (ClaimNext): what
--        claim.lua does, folded into this commit's own commands (the lease and the started
--        mark in the run's HSET, TaskStarted in the events' RPUSH; the outbox entry comes
--        with the lease's end as its deadline)
local h = cjson.decode(ARGV[1])
if h.run then
  local status = redis.call('HGET', KEYS[1], 'status')
  if status ~= 'RUNNING' then return {0, 'execution is ' .. tostring(status)} end
end
for _, w in ipairs(h.w) do
  local current = tonumber(redis.call('HGET', KEYS[w[1]], 'v') or '0')
  if current ~= w[2] then return {0, 'conflict'} end
end
for _, k in ipairs(h.jr or {}) do
  if redis.call('HGET', KEYS[k], 'p') ~= 'running' then return {0, 'aborted'} end
end
-- The execution ends: nothing more runs for it, but the stop requests of its `.sync` jobs
-- are still to deliver (engine/runtime/job_stops.py).
local function clear_outbox()
  local kept = {}
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[7])) do
    local message = redis.call('HGET', KEYS[3], id)
    local deadline = redis.call('ZSCORE', KEYS[4], id)
    if message and deadline then kept[#kept + 1] = {id, message, deadline} end
  end
  redis.call('UNLINK', KEYS[3], KEYS[4])
  for _, e in ipairs(kept) do
    redis.call('HSET', KEYS[3], e[1], e[2])
    redis.call('ZADD', KEYS[4], e[3], e[1])
  end
end
local function expire_closed()
  if h.ttl and h.ttl > 0 then
    for _, k in ipairs({KEYS[1], KEYS[2], KEYS[5]}) do redis.call('EXPIRE', k, h.ttl) end
  end
end
local n = redis.call('LLEN', KEYS[2])
if h.cap and n + h.ev[2] >= h.cap[1] then
  -- Events up to number cap - 1 are kept (RPUSH in chunks, as below), then the failure.
  local keep = math.max(0, math.min(h.ev[2], h.cap[1] - 1 - n))
  for first = 0, keep - 1, 1000 do
    local events = {}
    for i = first, math.min(first + 999, keep - 1) do
      local id = n + i + 1
      events[#events + 1] =
        '{"id":' .. id .. ',"previousEventId":' .. (id - 1) .. ',' .. ARGV[h.ev[1] + i]
    end
    redis.call('RPUSH', KEYS[2], unpack(events))
  end
  local id = n + keep + 1
  redis.call('RPUSH', KEYS[2],
    '{"id":' .. id .. ',"previousEventId":' .. (id - 1) .. ',' .. ARGV[h.cap[2]])
  for field, value in pairs(h.cap[3]) do redis.call('HSET', KEYS[1], field, value) end
  clear_outbox()
  expire_closed()
  return {2, id}
end
local c = h.cl
local last = n + h.ev[2]
-- TaskStarted is not logged when it would reach the cap (as claim.lua).
local started = c and c[4] > 0 and (c[6] == 0 or last + 1 < c[6])
for _, w in ipairs(h.w) do
  if c and w[1] == c[1] then
    if started then
      redis.call('HSET', KEYS[w[1]], 'v', w[2] + 1, 'd', ARGV[w[3]], 'p', w[4], 'a', w[5],
        'lo', c[2], 'lu', c[3], 'st', w[2] + 1, 'cl', w[2] + 1)
    else
      redis.call('HSET', KEYS[w[1]], 'v', w[2] + 1, 'd', ARGV[w[3]], 'p', w[4], 'a', w[5],
        'lo', c[2], 'lu', c[3], 'cl', w[2] + 1)
    end
  else
    redis.call('HSET', KEYS[w[1]], 'v', w[2] + 1, 'd', ARGV[w[3]], 'p', w[4], 'a', w[5])
    redis.call('HDEL', KEYS[w[1]], 'lo', 'lu')  -- a lease is held on one version only
  end
end
-- Keys this commit creates (a child's run, a join, its items and results) join the
-- execution's key set, which the sweep deletes once the execution has ended; items
-- written ahead of the commit (a big Map's, in chunks) were given a TTL until now.
for _, k in ipairs(h.nk or {}) do redis.call('SADD', KEYS[6], KEYS[k]) end
for _, k in ipairs(h.keep or {}) do redis.call('PERSIST', KEYS[k]) end
-- One command per key rather than per item: a hop's events, outbox entries and consumed
-- entries each go in a variadic call (fewer Lua-to-Redis calls per commit), in chunks so
-- that a Map starting thousands of iterations stays under Lua's unpack limit.
local function call_chunked(command, key, items, width)
  local step = 1000 * width
  for first = 1, #items, step do
    redis.call(command, key, unpack(items, first, math.min(first + step - 1, #items)))
  end
end
if h.ev[2] > 0 or started then
  local events = {}
  for i = 0, h.ev[2] - 1 do
    local id = n + i + 1
    events[#events + 1] =
      '{"id":' .. id .. ',"previousEventId":' .. (id - 1) .. ',' .. ARGV[h.ev[1] + i]
  end
  if started then
    last = last + 1
    events[#events + 1] =
      '{"id":' .. last .. ',"previousEventId":' .. (last - 1) .. ',' .. ARGV[c[4]]
    if c[5] ~= '' then redis.call('HSET', KEYS[5], last, c[5]) end
  end
  call_chunked('RPUSH', KEYS[2], events, 1)
end
if h.clr then
  clear_outbox()
elseif #h.orm > 0 then
  call_chunked('HDEL', KEYS[3], h.orm, 1)
  call_chunked('ZREM', KEYS[4], h.orm, 1)
end
-- After a clear too: what the ending commit still has to send (its jobs' stop requests).
if #h.oa > 0 then
  local fields, scores = {}, {}
  for _, e in ipairs(h.oa) do
    fields[#fields + 1] = ARGV[e[1]]
    fields[#fields + 1] = ARGV[e[2]]
    scores[#scores + 1] = e[3]
    scores[#scores + 1] = ARGV[e[1]]
  end
  call_chunked('HSET', KEYS[3], fields, 2)
  call_chunked('ZADD', KEYS[4], scores, 2)
  for _, e in ipairs(h.oa) do
    if string.sub(ARGV[e[1]], 1, 9) == 'job_stop|' then redis.call('SADD', KEYS[7], ARGV[e[1]]) end
  end
end
for _, s in ipairs(h.hs) do
  redis.call('HSET', KEYS[s[1]], s[2], ARGV[s[3]])
end
for field, value in pairs(h.mt) do
  redis.call('HSET', KEYS[1], field, value)
end
if h.mt.stop then expire_closed() end
return {1, n + h.ev[2], last}
