-- Delete a version unless an alias routes to it (AWS refuses that with ConflictException).
-- KEYS[1] versions, KEYS[2] aliases
-- ARGV[1] version number
-- Returns 1 (deleted, or there was nothing to delete) or 0 (an alias routes to it).
local number = tonumber(ARGV[1])
for _, doc in ipairs(redis.call('HVALS', KEYS[2])) do
  for _, route in ipairs(cjson.decode(doc)['routing']) do
    if tonumber(route[1]) == number then return 0 end
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
