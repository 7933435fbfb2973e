-- An activity's queue of tasks for pollers. KEYS[1] queue (list), KEYS[2] queued (set),
-- KEYS[3] the activity's record.
-- ARGV[1] "push": ARGV[2] "<eid>|<entry id>", ARGV[3] task ref (JSON). Queued once each.
--   Returns 1 (queued), 0 (already queued), -1 (no such activity).
-- ARGV[1] "pop": the oldest task ref (or false), removed from both; -1: no such activity.
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
if ARGV[1] == 'push' then
  if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
  redis.call('LPUSH', KEYS[1], ARGV[3])
  return 1
end
local ref = redis.call('RPOP', KEYS[1])
if not ref then return false end
local task = cjson.decode(ref)
redis.call('SREM', KEYS[2], task['x'] .. '|' .. task['e'])
return ref
