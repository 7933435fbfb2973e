-- A scheduled activity task was queued for pollers: while it waits there, its task message
-- need not be sent again soon. Push the outbox entry's deadline to ARGV[4] (the sweep then
-- sends it only as a safety net) if the run still waits for this attempt, untaken.
-- KEYS[1] run, KEYS[2] due. ARGV: version, attempt, entry id, deadline.
-- Returns 1 (parked), 0 (stale: nothing waits), 2 (a poller took it already).
local r = redis.call('HMGET', KEYS[1], 'v', 'p', 'a', 'as')
if tonumber(r[1] or '0') ~= tonumber(ARGV[1]) then return 0 end
if r[2] ~= 'task' or tonumber(r[3]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[3])
if r[4] == ARGV[1] then return 2 end
return 1
