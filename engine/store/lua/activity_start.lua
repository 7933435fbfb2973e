-- A poller takes an activity task (GetActivityTask): check the run still waits for this
-- attempt and no poller has taken it yet, mark it taken, log ActivityStarted, record the
-- start as the first heartbeat, and push the task message's outbox deadline out (the task
-- is with a worker now; its timers bound it).
-- KEYS[1] run, KEYS[2] meta, KEYS[3] hist, KEYS[4] due, KEYS[5] heartbeats
-- ARGV: version, attempt, ActivityStarted body (no leading "{"), entry id, entry deadline,
-- now (epoch s: the first heartbeat), the run's id (the heartbeat record's field)
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'RUNNING' then return {0, 'execution is ' .. tostring(status)} end
local r = redis.call('HMGET', KEYS[1], 'v', 'p', 'a', 'as', 'd')
if tonumber(r[1] or '0') ~= tonumber(ARGV[1]) then return {0, 'stale'} end
if r[2] ~= 'task' or tonumber(r[3]) ~= tonumber(ARGV[2]) then return {0, 'stale'} end
if r[4] == ARGV[1] then return {0, 'taken'} end
-- 'ast': when, for the task's TimeoutSeconds (AWS counts it from ActivityStarted).
redis.call('HSET', KEYS[1], 'as', ARGV[1], 'ast', ARGV[6])
local n = redis.call('LLEN', KEYS[3]) + 1
redis.call('RPUSH', KEYS[3], '{"id":' .. n .. ',"previousEventId":' .. (n - 1) .. ',' .. ARGV[3])
redis.call('ZADD', KEYS[4], 'XX', ARGV[5], ARGV[4])
local token = cjson.decode(r[5])['task']['token']
redis.call('HSET', KEYS[5], ARGV[7], '[' .. cjson.encode(token) .. ',' .. ARGV[6] .. ']')
return {1, r[5]}
