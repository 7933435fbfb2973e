-- Settle outbox entries of one execution whatever its status (engine/runtime/job_stops.py:
-- a job's stop request, recorded after its execution ended, consumed once the stop call
-- answered, or replaced by its next attempt).
-- KEYS[1] outbox, KEYS[2] due; ARGV[1] JSON {rm: [id, ...], add: [[id, message, deadline]]}
local h = cjson.decode(ARGV[1])
for _, id in ipairs(h.rm) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
for _, e in ipairs(h.add) do
  redis.call('HSET', KEYS[1], e[1], e[2])
  redis.call('ZADD', KEYS[2], e[3], e[1])
end
return 1
