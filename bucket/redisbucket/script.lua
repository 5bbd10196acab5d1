-- One limiter's shared token bucket, as a Redis hash at KEYS[1]. Every call
-- runs here, atomically: one round trip per acquire.
--
-- Instants are offsets in nanoseconds from the bucket's origin (o_s, o_ns:
-- the Unix time of its first Init), held in doubles: exact for 104 days
-- after the origin, within nanoseconds for centuries. The zero instant (no
-- cooldown, no quota window, no tail) is absent from the hash and NEG here.
-- Numbers go back to the client as strings: Redis would truncate a Lua
-- number to an integer.
--
-- ARGV[1] is the operation, ARGV[2] the instant: an offset, or "srv" for the
-- server's clock (TIME) measured from the origin. ARGV[3] is the TTL in
-- milliseconds. Every reply starts with the instant used. Other instants in
-- ARGV are offsets from the origin, or, with "srv", spans from the instant
-- used; "z" is the zero instant.

local NEG = -1e300
local key = KEYS[1]
local op = ARGV[1]
local ttl = tonumber(ARGV[3])

local function fmt(x)
  return string.format('%.17g', x)
end

local function num(x)
  local n = tonumber(x)
  if n == nil then return NEG end
  return n
end

local srv = ARGV[2] == 'srv'

-- inst reads an instant of ARGV, given the instant the call runs at.
local function inst(x, now)
  if x == 'z' then return NEG end
  if srv then return now + tonumber(x) end
  return tonumber(x)
end

local function now_of(arg, os_, ons)
  if arg ~= 'srv' then return tonumber(arg) end
  local t = redis.call('TIME')
  return (tonumber(t[1]) - os_) * 1e9 + tonumber(t[2]) * 1000 - ons
end

-- seconds of a span of ns, computed as Go's Duration.Seconds does.
local function seconds(d)
  local sec = d >= 0 and math.floor(d / 1e9) or math.ceil(d / 1e9)
  return sec + (d - sec * 1e9) / 1e9
end

-- span of ns from seconds, truncated as Go's time.Duration(sec * 1e9).
local function span(sec)
  if not (sec > 0) then return 0 end
  if sec >= 9.2e9 then return 9.2e18 end
  return math.floor(sec * 1e9)
end

local F = {'r', 'b', 'cd', 'e', 'qr', 'qu', 'c', 'tk', 'l', 'tl', 'v', 'o_s', 'o_ns'}

local function load()
  local v = redis.call('HMGET', key, unpack(F))
  if v[1] == false then return nil end
  return {
    r = tonumber(v[1]), b = tonumber(v[2]), cd = num(v[3]), e = tonumber(v[4]),
    qr = tonumber(v[5]) or 0, qu = num(v[6]), c = tonumber(v[7]) or 0,
    tk = tonumber(v[8]), l = num(v[9]), tl = num(v[10]), v = tonumber(v[11]) or 0,
    os_ = tonumber(v[12]), ons = tonumber(v[13]),
  }
end

local function put(k, x)
  if x == NEG then
    redis.call('HDEL', key, k)
  else
    redis.call('HSET', key, k, fmt(x))
  end
end

local function save(st)
  redis.call('HSET', key, 'r', fmt(st.r), 'b', fmt(st.b), 'e', fmt(st.e), 'qr', fmt(st.qr),
    'c', fmt(st.c), 'tk', fmt(st.tk), 'l', fmt(st.l), 'v', fmt(st.v))
  put('cd', st.cd)
  put('qu', st.qu)
  put('tl', st.tl)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end

local function paced(st, t)
  return st.qr > 0 and st.qr < st.r and t < st.qu
end

local function rate_at(st, t)
  if paced(st, t) then return st.qr end
  return st.r
end

local function refilled(st, now)
  local from, tokens, rate = st.l, st.tk, st.r
  if st.qr > 0 then
    if paced(st, from) and st.qu < now then
      tokens = tokens + st.qr * seconds(st.qu - from)
      from = st.qu
    end
    rate = rate_at(st, from)
  end
  return math.min(st.b, tokens + rate * seconds(now - from))
end

local function advance(st, now)
  if now > st.l then
    st.tk = refilled(st, now)
    st.l = now
  end
end

local function accrual(st, need, from)
  if need <= 0 then return 0 end
  if paced(st, from) then
    local left = st.qu - from
    local during = st.qr * seconds(left)
    if during < need then return left + span((need - during) / st.r) end
    return span(need / st.qr)
  end
  return span(need / st.r)
end

if op == 'init' then
  -- ARGV[4..5]: the caller's now as Unix seconds and nanoseconds, which
  -- becomes the origin of a new hash (the server's now, with "srv");
  -- ARGV[6..12]: the state (rate, burst, cooldown, epoch, quota rate, quota
  -- until, ceiling), its instants as spans from now. A hash that exists is
  -- kept as it is: another process made it.
  local st = load()
  local os_, ons
  if st then
    os_, ons = st.os_, st.ons
  elseif srv then
    local t = redis.call('TIME')
    os_, ons = tonumber(t[1]), tonumber(t[2]) * 1000
  else
    os_, ons = tonumber(ARGV[4]), tonumber(ARGV[5])
  end
  local now
  if srv then
    now = now_of('srv', os_, ons)
  else
    now = (tonumber(ARGV[4]) - os_) * 1e9 + tonumber(ARGV[5]) - ons
  end
  if st then
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    return {fmt(now), fmt(os_), fmt(ons), 'kept'}
  end
  local function span_of(x)
    if x == 'z' then return NEG end
    return now + tonumber(x)
  end
  st = {
    r = tonumber(ARGV[6]), b = tonumber(ARGV[7]), cd = span_of(ARGV[8]), e = tonumber(ARGV[9]),
    qr = tonumber(ARGV[10]), qu = span_of(ARGV[11]), c = tonumber(ARGV[12]),
    v = 0, tl = NEG,
  }
  st.tk, st.l = st.b, now
  if st.cd > now then st.tk, st.l = 0, st.cd end
  redis.call('HSET', key, 'o_s', fmt(os_), 'o_ns', fmt(ons))
  save(st)
  return {fmt(now), fmt(os_), fmt(ons), 'new'}
end

local st = load()
if not st then return {err = 'NOINIT'} end
local now = now_of(ARGV[2], st.os_, st.ons)

-- Every call but init may carry a policy step to write first: ARGV[4] is
-- the version of the state it was computed from ("" for none), ARGV[5] the
-- instant it was taken at, ARGV[6..12] the next state (rate, burst,
-- cooldown, epoch, quota rate, quota until, ceiling). It is written only if
-- the hash is still at that version; the tokens accrue at the old rate up to
-- its instant (or now, if the bucket was refilled later), at the new one
-- after. The operation's own arguments start at ARGV[13].
--
-- Every reply but init's starts with a header of ten: the instant used,
-- then "none", "written" and the new version, "stale", or "added" or
-- "conflict" and the state as it is (the seven fields above and its version), so that the caller can
-- compute its step again without reading. The operation's reply follows,
-- from index 11.
local header = {fmt(now), 'none', '', '', '', '', '', '', '', ''}
-- dirty: the rate, ceiling and version changed and are not saved yet.
local dirty = false
local function flush_dirty()
  if dirty then
    redis.call('HSET', key, 'r', fmt(st.r), 'c', fmt(st.c), 'v', fmt(st.v), 'tk', fmt(st.tk), 'l', fmt(st.l))
    dirty = false
  end
end
if ARGV[4] == 'd' then
  -- A step of successes, as a change: ARGV[5] its instant, ARGV[6] and
  -- ARGV[7] what it adds to the rate and the ceiling, ARGV[8] and ARGV[9]
  -- the policy's rate bounds, ARGV[10] the epoch it belongs to. Changes
  -- from several processes add up, so none is lost to a race and none
  -- counts twice; a step of an epoch that has ended is dropped ("stale").
  -- ARGV[11] is the version the change was computed from: when no other
  -- process wrote since, the reply says only the new rate, ceiling and
  -- version ("added1"), which with the caller's state is the whole state.
  if tonumber(ARGV[10]) == st.e then
    advance(st, math.min(inst(ARGV[5], now), now))
    local own = tonumber(ARGV[11]) == st.v
    st.r = math.max(tonumber(ARGV[8]), math.min(tonumber(ARGV[9]), st.r + tonumber(ARGV[6])))
    st.c = math.max(0, st.c + tonumber(ARGV[7]))
    st.v = st.v + 1
    dirty = true
    if own then
      header[2], header[3], header[4], header[5] = 'added1', fmt(st.r), fmt(st.c), fmt(st.v)
    else
      header[2] = 'added'
      local f = {st.r, st.b, st.cd, st.e, st.qr, st.qu, st.c, st.v}
      for i = 1, 8 do header[2 + i] = fmt(f[i]) end
    end
  else
    header[2] = 'stale'
  end
elseif ARGV[4] ~= '' then
  if tonumber(ARGV[4]) == st.v then
    advance(st, math.min(inst(ARGV[5], now), now))
    local nx = {
      r = tonumber(ARGV[6]), b = tonumber(ARGV[7]), cd = inst(ARGV[8], now), e = tonumber(ARGV[9]),
      qr = tonumber(ARGV[10]), qu = inst(ARGV[11], now), c = tonumber(ARGV[12]),
    }
    if nx.e ~= st.e then
      st.tk, st.tl = 0, NEG
      if nx.cd > st.l then st.l = nx.cd end
    end
    st.tk = math.min(st.tk, nx.b)
    st.r, st.b, st.cd, st.e, st.qr, st.qu, st.c = nx.r, nx.b, nx.cd, nx.e, nx.qr, nx.qu, nx.c
    if paced(st, now) then st.tk = math.min(st.tk, 1) end
    st.v = st.v + 1
    save(st)
    header[2], header[3] = 'written', fmt(st.v)
  else
    header[2] = 'conflict'
    local f = {st.r, st.b, st.cd, st.e, st.qr, st.qu, st.c, st.v}
    for i = 1, 8 do header[2 + i] = fmt(f[i]) end
  end
end

local function reply(...)
  flush_dirty()
  local r = header
  for _, x in ipairs({...}) do r[#r + 1] = x end
  return r
end

if op == 'take' then
  -- ARGV[13]: tokens; ARGV[14]: the longest wait in ns, or "inf". Reply:
  -- OK (1 or 0), the reservation's instant, the epoch; or "burst" and the
  -- burst when the tokens are not within (0, burst].
  local n = tonumber(ARGV[13])
  if not (n > 0) or n > st.b then
    return reply('burst', fmt(st.b))
  end
  advance(st, now)
  local at = now
  if st.cd > now then at = st.cd end
  local need = n - st.tk
  if need > 0 then at = at + accrual(st, need, at) end
  local ok = '0'
  if ARGV[14] == 'inf' or at - now <= tonumber(ARGV[14]) then
    ok = '1'
    st.tk = st.tk - n
    if at > st.tl then st.tl = at end
  end
  if dirty then
    dirty = false
    if st.tl ~= NEG then
      redis.call('HSET', key, 'tk', fmt(st.tk), 'l', fmt(st.l), 'tl', fmt(st.tl), 'r', fmt(st.r), 'c', fmt(st.c), 'v', fmt(st.v))
    else
      redis.call('HSET', key, 'tk', fmt(st.tk), 'l', fmt(st.l), 'r', fmt(st.r), 'c', fmt(st.c), 'v', fmt(st.v))
    end
  elseif st.tl ~= NEG then
    redis.call('HSET', key, 'tk', fmt(st.tk), 'l', fmt(st.l), 'tl', fmt(st.tl))
  else
    redis.call('HSET', key, 'tk', fmt(st.tk), 'l', fmt(st.l))
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return reply(ok, fmt(at), fmt(st.e))
end

if op == 'epoch' then
  return reply(fmt(st.e))
end

if op == 'cancel' then
  -- ARGV[13..15]: the reservation's epoch, instant and tokens.
  local e, at, n = tonumber(ARGV[13]), inst(ARGV[14], now), tonumber(ARGV[15])
  if e ~= st.e or not (at > now) then return reply('kept') end
  local give = n
  if st.tl > at then give = give - rate_at(st, at) * seconds(st.tl - at) end
  if give <= 0 then return reply('kept') end
  advance(st, now)
  st.tk = math.min(st.b, st.tk + give)
  if at == st.tl then st.tl = at - span(n / rate_at(st, at)) end
  redis.call('HSET', key, 'tk', fmt(st.tk), 'l', fmt(st.l))
  put('tl', st.tl)
  return reply('given')
end

if op == 'peek' then
  -- Reply: the state (as in a conflict), then the tokens at now.
  local tokens = st.tk
  if now > st.l then tokens = refilled(st, now) end
  return reply(fmt(st.r), fmt(st.b), fmt(st.cd), fmt(st.e), fmt(st.qr), fmt(st.qu), fmt(st.c), fmt(st.v), fmt(tokens))
end

if op == 'write' then
  -- Only the step of the header.
  return reply()
end

return {err = 'unknown operation ' .. tostring(op)}
