-- Publish a state machine revision as a version, once: the version already published from
-- that revision (and not deleted) is returned as is; a new one takes the next number, and
-- numbers are never reused. Refused when the machine has `limit` versions.
-- KEYS[1] versions, KEYS[2] seq, KEYS[3] revisions
-- ARGV[1] revision, ARGV[2] the version's JSON, ARGV[3] limit
-- Returns {number, created (1/0)}; {0, 0} over the limit.
local n = redis.call('HGET', KEYS[3], ARGV[1])
if n and redis.call('HEXISTS', KEYS[1], n) == 1 then
  return {tonumber(n), 0}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return {0, 0}
end
n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], n, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], n)
return {n, 1}
