package fleet

import "github.com/redis/go-redis/v9"

// renewScript renews one process's lease and sets how many slots it holds,
// atomically, in one round trip. Time is the Redis server's (TIME), so the
// processes' clocks do not matter.
//
// KEYS: 1 members (ZSET id -> lease expiry, ms), 2 held (HASH id -> slots),
// 3 want (HASH id -> slots asked for), 4 total (STRING), 5 settle (a
// STRING that exists for one lease TTL after a process with connections
// open re-registered: while it exists nobody grows). All share a hash
// tag, so the script runs on one Redis Cluster node.
//
// ARGV: 1 id, 2 want, 3 have (connections the process has open: it keeps
// at least these, whatever it is allowed), 4 lease TTL ms, 5 total (0:
// unknown to this process, use the stored one), 6 "1" to leave.
//
// It returns {allowed, held, total, live, fair, pressure}: allowed is what
// the process may use (it shrinks to it when it holds more), held what is
// recorded for it (max(have, allowed)), pressure 1 when another process
// wants more than it holds and no slot is free.
//
// Fairness: fair = floor(total/live) (1 when the budget is smaller than
// the fleet). A process asking for no more than fair gets what is free up
// to its want; one asking for more gets at most what is free after the
// slots that processes below their fair share still ask for (reserve), but
// never less than its fair share of what is free. A process above its fair
// share while others below theirs wait is thus told to shrink; nobody
// below its fair share is.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local want = tonumber(ARGV[2])
local have = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local total = tonumber(ARGV[5])
local keep = ttl * 20

local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, m in ipairs(dead) do
  redis.call('HDEL', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  redis.call('ZREM', KEYS[1], m)
end
if ARGV[6] == '1' then
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[1], id)
  return {0, 0, 0, redis.call('ZCARD', KEYS[1]), 0, 0}
end
-- A process with connections open that Redis does not know (Redis lost
-- its data, or the lease lapsed while Redis was out of reach) may be
-- running on its fallback cap, as may others not back yet: nobody grows
-- for one lease TTL, by which time every such process has re-registered
-- what it has open.
if have > 0 and not redis.call('ZSCORE', KEYS[1], id) then
  redis.call('SET', KEYS[5], '1', 'PX', ttl)
end
local settling = redis.call('EXISTS', KEYS[5]) == 1
if total > 0 then
  redis.call('SET', KEYS[4], total, 'PX', keep)
else
  total = tonumber(redis.call('GET', KEYS[4]) or '0')
end
redis.call('ZADD', KEYS[1], now + ttl, id)
local live = redis.call('ZCARD', KEYS[1])

local held = {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do held[flat[i]] = tonumber(flat[i + 1]) end
local wants = {}
flat = redis.call('HGETALL', KEYS[3])
for i = 1, #flat, 2 do wants[flat[i]] = tonumber(flat[i + 1]) end

local fair = 1
if total >= live then fair = math.floor(total / live) end
local others, reserve, hungry = 0, 0, false
for m, h in pairs(held) do
  if m ~= id then
    others = others + h
    local w = wants[m] or 0
    if w > h then hungry = true end
    local entitled = math.min(w, fair) - h
    if entitled > 0 then reserve = reserve + entitled end
  end
end

local allowed
if total <= 0 then
  -- the total is not known yet (a percentage of max_connections that no
  -- process has read): one connection each, to read it
  allowed = math.min(want, 1)
else
  local free = total - others
  if want <= fair then
    allowed = math.min(want, free)
  else
    allowed = math.min(want, math.max(math.min(fair, free), free - reserve))
  end
end
if settling then allowed = math.min(allowed, have) end
if allowed < 0 then allowed = 0 end
local h = math.max(have, allowed)
redis.call('HSET', KEYS[2], id, h)
redis.call('HSET', KEYS[3], id, want)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], keep) end
local pressure = 0
if hungry and total - others - h <= 0 then pressure = 1 end
return {allowed, h, total, live, fair, pressure}
`)
