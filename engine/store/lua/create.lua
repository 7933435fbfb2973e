-- Create an execution unless one of that name exists.
-- KEYS[1] meta, KEYS[2] hist, KEYS[3] root run, KEYS[4] outbox, KEYS[5] due
-- ARGV[1] record fields (JSON object), ARGV[2] root doc, ARGV[3] ExecutionStarted body,
-- ARGV[4] outbox entries (JSON: [[id, message, deadline], ...])
-- Optional, a start whose broker is this Redis (engine/direct_starts.py): KEYS[6] the
-- broker's queue, ARGV[5] the start message as the broker carries it, ARGV[6..] pairs of a
-- PUB/SUB channel and its task-sent event. Queued in this atomic step, only on a create.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'input'), redis.call('HGET', KEYS[1], 'status')}
end
local fields = {}
for field, value in pairs(cjson.decode(ARGV[1])) do
  fields[#fields + 1] = field
  fields[#fields + 1] = value
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[3], 'v', 1, 'd', ARGV[2], 'p', 'new', 'a', 0)
redis.call('RPUSH', KEYS[2], '{"id":1,"previousEventId":0,' .. ARGV[3])
for _, e in ipairs(cjson.decode(ARGV[4])) do
  redis.call('HSET', KEYS[4], e[1], e[2])
  redis.call('ZADD', KEYS[5], e[3], e[1])
end
if KEYS[6] then
  redis.call('LPUSH', KEYS[6], ARGV[5])
  for i = 6, #ARGV, 2 do
    redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
  end
end
return {1}
