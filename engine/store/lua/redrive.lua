-- Reopen an ended execution for RedriveExecution, in one atomic step (engine/store/redrive.py).
-- KEYS[1] meta, KEYS[2] hist, KEYS[3] outbox, KEYS[4] due, KEYS[5] tasks, KEYS[6..] the run
-- and join documents written and the results hashes cleared (all of this execution's slot)
-- ARGV[1] header (JSON):
--   st   the status the plan was made from (FAILED, TIMED_OUT or ABORTED)
--   rc   the redrive count it was made from (the compare-and-set: a concurrent redrive, or
--        any other change of the record, refuses this one)
--   dl   the latest stop time (epoch s) the redrive window allows (0: no window)
--   w    [[key, expected version, doc argv, phase, attempt], ...]   documents to write
--   hd   [[key, field], ...]     results of failed children to forget
--   ev   [argv, ...] the events' bodies (JSON without the leading "{"): ExecutionRedriven,
--        then any MapRunRedriven
--   mr   [[[record, run, res, buf, files, items, bad, rd keys], fields argv], ...] Map Runs
--        reopened: back to RUNNING with the fields set, their failed children (bad) moved
--        to pending redrive (rd), failure counters zeroed (engine/runtime/map_runs.py)
--   oa   [[id argv, message argv, deadline], ...]                    outbox entries
--   mt   {field: value}          record fields to set (status, redrive count, date, tokens)
--   del  [field, ...]            record fields to remove (stop, error, cause, output)
-- Returns {1, event id} or {0, reason}.
local h = cjson.decode(ARGV[1])
local status, count, stop = unpack(redis.call('HMGET', KEYS[1], 'status', 'redrive_count', 'stop'))
if status ~= h.st then return {0, 'status ' .. tostring(status)} end
if tonumber(count or '0') ~= h.rc then return {0, 'redriven'} end
if h.dl > 0 and stop and tonumber(stop) < h.dl then return {0, 'expired'} end
for _, w in ipairs(h.w) do
  local current = tonumber(redis.call('HGET', KEYS[w[1]], 'v') or '0')
  if current ~= w[2] then return {0, 'conflict'} end
end
for _, m in ipairs(h.mr) do
  local st = redis.call('HGET', KEYS[m[1][1]], 'status')
  if not st or st == 'RUNNING' then return {0, 'map run ' .. tostring(st)} end
end
for _, w in ipairs(h.w) do
  redis.call('HSET', KEYS[w[1]], 'v', w[2] + 1, 'd', ARGV[w[3]], 'p', w[4], 'a', w[5])
  redis.call('HDEL', KEYS[w[1]], 'lo', 'lu', 'st')
end
for _, d in ipairs(h.hd) do redis.call('HDEL', KEYS[d[1]], d[2]) end
-- The closing commit gave the record, history and task ids a TTL (the retention): a
-- running execution keeps them.
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[5]}) do redis.call('PERSIST', k) end
local id = redis.call('LLEN', KEYS[2])
for _, ev in ipairs(h.ev) do
  id = id + 1
  redis.call('RPUSH', KEYS[2], '{"id":' .. id .. ',"previousEventId":' .. (id - 1) .. ',' .. ARGV[ev])
end
for _, m in ipairs(h.mr) do
  local rec, res, bad, rd = KEYS[m[1][1]], KEYS[m[1][3]], KEYS[m[1][7]], KEYS[m[1][8]]
  for _, i in ipairs(m[1]) do redis.call('PERSIST', KEYS[i]) end
  for k, v in pairs(cjson.decode(ARGV[m[2]])) do redis.call('HSET', rec, k, v) end
  redis.call('HDEL', rec, 'stop', 'error', 'cause')
  local failed = redis.call('HGETALL', bad)
  for i = 1, #failed, 2 do
    redis.call('HSET', rd, failed[i], failed[i + 1])
    -- a failed child's {"Error", "Cause"} result goes: its redrive gives it another
    local len = redis.call('HSTRLEN', res, failed[i])
    if len > 0 then
      redis.call('HDEL', res, failed[i])
      redis.call('HINCRBY', rec, 'bytes', -(len + 1))
    end
  end
  redis.call('DEL', bad)
  local writer = redis.call('HGET', rec, 'writer')
  if writer and writer ~= 'null' then
    -- ResultWriter: the failed children's entries go, buffered or in FAILED files (their
    -- redrive writes them again: each item once in the manifest's files)
    local buf, files = KEYS[m[1][4]], KEYS[m[1][5]]
    local kept, dropped = {}, 0
    for _, e in ipairs(redis.call('LRANGE', buf, 0, -1)) do
      if cjson.decode(e)['Status'] == 'SUCCEEDED' then table.insert(kept, e)
      else dropped = dropped + 1 end
    end
    redis.call('DEL', buf)
    for _, e in ipairs(kept) do redis.call('RPUSH', buf, e) end
    local written = #failed / 2 - dropped
    if written > 0 then redis.call('HINCRBY', rec, 'results_written', -written) end
    local listed = {}
    for _, f in ipairs(redis.call('LRANGE', files, 0, -1)) do
      if cjson.decode(f)['status'] ~= 'FAILED' then table.insert(listed, f) end
    end
    redis.call('DEL', files)
    for _, f in ipairs(listed) do redis.call('RPUSH', files, f) end
  end
  for _, f in ipairs({'failed', 'timed_out', 'aborted'}) do
    redis.call('HSET', rec, f, 0, 'items_' .. f, 0)
  end
end
for _, e in ipairs(h.oa) do
  redis.call('HSET', KEYS[3], ARGV[e[1]], ARGV[e[2]])
  redis.call('ZADD', KEYS[4], e[3], ARGV[e[1]])
end
for _, f in ipairs(h.del) do redis.call('HDEL', KEYS[1], f) end
for field, value in pairs(h.mt) do redis.call('HSET', KEYS[1], field, value) end
return {1, id}
