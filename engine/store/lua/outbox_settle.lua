-- Settle outbox entries of one execution whatever its status (engine/runtime/job_stops.py:
-- a job's stop request, recorded after its execution ended, consumed once the stop call
-- answered, or replaced by its next attempt).
-- KEYS[1] outbox, KEYS[2] due, KEYS[3] the job stop requests' ids (keys.job_stops)
-- ARGV[1] JSON {rm: [id, ...], add: [[id, message, deadline]]}
local h = cjson.decode(ARGV[1])
for _, id in ipairs(h.rm) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('SREM', KEYS[3], id)
end
for _, e in ipairs(h.add) do
  redis.call('HSET', KEYS[1], e[1], e[2])
  redis.call('ZADD', KEYS[2], e[3], e[1])
  if string.sub(e[1], 1, 9) == 'job_stop|' then redis.call('SADD', KEYS[3], e[1]) end
end
return 1
