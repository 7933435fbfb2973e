-- Claim a scheduled Task for one worker: check the snapshot still waits for this attempt,
-- take (or take over an expired) lease, push the outbox entry's deadline to the lease's end,
-- and log TaskStarted once per version (with the Celery task id against its event id);
-- mark the version claimed (`cl`).
-- KEYS[1] run, KEYS[2] meta, KEYS[3] hist, KEYS[4] due, KEYS[5] tasks
-- ARGV: version, attempt, now, lease_until, owner, entry id, TaskStarted body (no leading "{";
-- empty: log nothing), Celery task id (empty: none), history cap (empty: none; TaskStarted
-- is not logged when it would reach the cap: the Task's completion then fails the execution)
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'RUNNING' then return {0, 'execution is ' .. tostring(status)} end
local r = redis.call('HMGET', KEYS[1], 'v', 'p', 'a', 'lo', 'lu', 'st', 'd', 'cl')
if tonumber(r[1] or '0') ~= tonumber(ARGV[1]) then return {0, 'stale'} end
if r[2] ~= 'task' or tonumber(r[3]) ~= tonumber(ARGV[2]) then return {0, 'stale'} end
if r[4] and r[4] ~= ARGV[5] and tonumber(r[5]) > tonumber(ARGV[3]) then
  return {0, 'leased'}
end
redis.call('ZADD', KEYS[4], 'XX', ARGV[4], ARGV[6])
local n = redis.call('LLEN', KEYS[3])
local cap = tonumber(ARGV[9])
if ARGV[7] ~= '' and r[6] ~= ARGV[1] and (cap == nil or n + 1 < cap) then
  -- The lease and the started mark in one HSET.
  redis.call('HSET', KEYS[1], 'lo', ARGV[5], 'lu', ARGV[4], 'st', ARGV[1], 'cl', ARGV[1])
  n = n + 1
  redis.call('RPUSH', KEYS[3], '{"id":' .. n .. ',"previousEventId":' .. (n - 1) .. ',' .. ARGV[7])
  if ARGV[8] ~= '' then redis.call('HSET', KEYS[5], n, ARGV[8]) end
else
  redis.call('HSET', KEYS[1], 'lo', ARGV[5], 'lu', ARGV[4], 'cl', ARGV[1])
end
-- Whether this version was claimed before: this delivery re-runs a Task whose first run may
-- have made its call (engine/integrations/jobs.py: a deletion's re-run).
return {1, r[7], n, status, r[8] == ARGV[1] and 1 or 0}
