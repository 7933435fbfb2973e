-- Create or replace an alias, checking in the same step that every version it routes to
-- exists (so a version cannot be deleted between the check and the write).
-- KEYS[1] aliases, KEYS[2] versions
-- ARGV[1] alias name, ARGV[2] the alias's JSON, ARGV[3] '1' create / '0' update,
-- ARGV[4] limit (aliases per machine), ARGV[5..] the version numbers it routes to
-- Returns 'ok', 'exists', 'not_found', 'quota' or 'missing_version:<n>'.
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if ARGV[3] == '1' then
  if exists then return 'exists' end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'quota' end
elseif not exists then
  return 'not_found'
end
for i = 5, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then
    return 'missing_version:' .. ARGV[i]
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
