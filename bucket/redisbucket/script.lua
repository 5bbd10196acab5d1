-- One limiter's shared token bucket, as a Redis hash at KEYS[1]. Every call
-- runs here, atomically: one round trip per acquire.
--
-- The hash has three fields, each a few doubles packed little-endian (the
-- struct library): s, the adaptive state (rate, burst, cooldown until,
-- epoch, quota rate, quota until, ceiling, version, then since, updated and
-- measured; an s of the first eight alone, as an older script wrote it,
-- reads as nothing measured, and an older script reads the first eight of
-- this one); t, the tokens (count,
-- instant of the count, latest reservation, and the instant the TTL was last
-- refreshed); o, the origin (Unix seconds and
-- nanoseconds of the first Init). Packed, a call reads three values instead
-- of thirteen and formats no number to store it, which is most of what a
-- call costs the server.
--
-- Instants are offsets in nanoseconds from the origin, held in doubles:
-- exact for 104 days after the origin, within microseconds for centuries. The
-- zero instant (no cooldown, no quota window, no reservation, no since or
-- updated) is NEG.
-- Replies carry integral numbers (instants, epochs, versions) as Lua
-- numbers, which Redis turns into integers, and the others as strings: Redis
-- would truncate them. An instant beyond an int64 of nanoseconds (a
-- Retry-After of 292 years) goes as a string too: Redis's conversion would
-- wrap it to the most negative integer, a cooldown over since 1734.
--
-- ARGV[1] is the operation, ARGV[2] the instant: an offset, or "srv" for the
-- server's clock (TIME) measured from the origin. ARGV[3] is the TTL in
-- milliseconds. Other instants in ARGV are offsets from the origin, or, with
-- "srv", spans from the instant used; "z" is the zero instant.

local NEG = -1e300
-- MAXD is 2^63 ns, the end of a Go Duration: the longest wait, where Go's
-- policy.Seconds and State.Accrual saturate.
local MAXD = 2 ^ 63
local key = KEYS[1]
local op = ARGV[1]
local ttl = tonumber(ARGV[3])
local srv = ARGV[2] == 'srv'

local function fmt(x)
  return string.format('%.17g', x)
end

-- int is an instant for a reply: an integer, or the string "z"; beyond an
-- int64, the number as a string.
local function int(x)
  if x == NEG then return 'z' end
  if x >= MAXD or x < -MAXD then return fmt(x) end
  return x
end

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

-- span of ns from seconds, truncated as Go's time.Duration(sec * 1e9), and
-- saturated at MAXD as policy.Seconds saturates.
local function span(sec)
  if not (sec > 0) then return 0 end
  if sec >= MAXD / 1e9 then return MAXD end
  return math.floor(sec * 1e9)
end

local function load()
  local v = redis.call('HMGET', key, 's', 't', 'o')
  if not v[1] or not v[2] or not v[3] then return nil end
  local r, b, cd, e, qr, qu, c, ver, si, u, m
  if #v[1] >= 88 then
    r, b, cd, e, qr, qu, c, ver, si, u, m = struct.unpack('<ddddddddddd', v[1])
  else
    r, b, cd, e, qr, qu, c, ver = struct.unpack('<dddddddd', v[1])
    si, u, m = NEG, NEG, 0
  end
  local tk, l, tl, x = struct.unpack('<dddd', v[2])
  local os_, ons = struct.unpack('<dd', v[3])
  -- One constructor sizes the table once.
  return {
    r = r, b = b, cd = cd, e = e, qr = qr, qu = qu, c = c, v = ver, si = si, u = u, m = m,
    tk = tk, l = l, tl = tl, x = x, os_ = os_, ons = ons,
  }
end

local function packed_s(st)
  return struct.pack('<ddddddddddd', st.r, st.b, st.cd, st.e, st.qr, st.qu, st.c, st.v, st.si, st.u, st.m)
end

local function packed_t(st)
  return struct.pack('<dddd', st.tk, st.l, st.tl, st.x)
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
    if during < need then return math.min(MAXD, left + span((need - during) / st.r)) end
    return span(need / st.qr)
  end
  return span(need / st.r)
end

if op == 'init' then
  -- ARGV[4..5]: the caller's now as Unix seconds and nanoseconds, which
  -- becomes the origin of a new hash (the server's now, with "srv");
  -- ARGV[6..15]: the state (rate, burst, cooldown, epoch, quota rate, quota
  -- until, ceiling, since, updated, measured), its instants as spans from
  -- now. A hash that exists is
  -- kept as it is: another process made it. Reply: now, the origin's
  -- seconds and nanoseconds, "new" or "kept".
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
    return {now, os_, ons, 'kept'}
  end
  local function span_of(x)
    if x == 'z' then return NEG end
    return now + tonumber(x)
  end
  st = {
    r = tonumber(ARGV[6]), b = tonumber(ARGV[7]), cd = span_of(ARGV[8]), e = tonumber(ARGV[9]),
    qr = tonumber(ARGV[10]), qu = span_of(ARGV[11]), c = tonumber(ARGV[12]),
    si = span_of(ARGV[13]), u = span_of(ARGV[14]), m = tonumber(ARGV[15]),
    v = 0, tl = NEG, x = now,
  }
  st.tk, st.l = st.b, now
  if st.cd > now then st.tk, st.l = 0, st.cd end
  redis.call('HSET', key, 's', packed_s(st), 't', packed_t(st), 'o', struct.pack('<dd', os_, ons))
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return {now, os_, ons, 'new'}
end

local st = load()
if not st then return {err = 'NOINIT'} end
local now = now_of(ARGV[2], st.os_, st.ons)

-- Every call but init may carry a policy step to apply first, from
-- ARGV[4]:
--
--   - "d": the step of the successes this process reported since its last
--     call, as a change: ARGV[5] its instant, ARGV[6] and ARGV[7] what it
--     adds to the rate and the ceiling, ARGV[8] and ARGV[9] the policy's
--     rate bounds, ARGV[10] the epoch it belongs to, ARGV[11] the version
--     it was computed from; ARGV[12] the since it sets, or "k" to keep the
--     hash's; ARGV[13] and ARGV[14] its updated and measured, which replace
--     the hash's unless the hash's updated is later (another process
--     measured since). Changes from several processes add up, so none is
--     lost to a race and none counts twice; one of an epoch that has ended
--     is dropped.
--   - a version: a step computed from the state at that version, written
--     only if the hash is still at it: ARGV[5] its instant, ARGV[6..15] the
--     next state (rate, burst, cooldown, epoch, quota rate, quota until,
--     ceiling, since, updated, measured).
--   - "": none.
--
-- Either way the tokens accrue at the old rate up to the step's instant (or
-- now, if the bucket was refilled later) and at the new one after. The
-- operation's own arguments follow the step's: from ARGV[5] without one,
-- ARGV[15] after a change, ARGV[16] after a state.
--
-- Every reply but init's starts with a header: the instant used, then
-- "none"; "stale"; "written" and the new version; "added1" and the new
-- rate, ceiling and version (no other process wrote since the change's
-- version: with the caller's state and the change, that is the whole
-- state); or "added" or "conflict" and the state as it is (the ten fields
-- above, then its version), so that the caller can compute its step again
-- without reading. Its kind gives its length: 2, 2, 3, 5 or 13. The
-- operation's reply follows.
local header = {int(now), 'none'}
local base = 16 -- the operation's first argument
if ARGV[4] == '' then base = 5 elseif ARGV[4] == 'd' then base = 15 end
local dirty = false -- the state changed and is not saved yet

local function full_state(kind)
  header[2] = kind
  header[3], header[4], header[5], header[6] = fmt(st.r), fmt(st.b), int(st.cd), st.e
  header[7], header[8], header[9] = fmt(st.qr), int(st.qu), fmt(st.c)
  header[10], header[11], header[12], header[13] = int(st.si), int(st.u), fmt(st.m), st.v
end

if ARGV[4] == '' then
  -- no step: the common case
elseif ARGV[4] == 'd' then
  if tonumber(ARGV[10]) == st.e then
    local at = math.min(inst(ARGV[5], now), now)
    advance(st, at)
    local own = tonumber(ARGV[11]) == st.v
    st.r = math.max(tonumber(ARGV[8]), math.min(tonumber(ARGV[9]), st.r + tonumber(ARGV[6])))
    st.c = math.max(0, st.c + tonumber(ARGV[7]))
    if ARGV[12] ~= 'k' then st.si = inst(ARGV[12], now) end
    local u = inst(ARGV[13], now)
    if u >= st.u then st.u, st.m = u, tonumber(ARGV[14]) end
    -- As after any step: a quota that paces the bucket leaves it at most
    -- one token, at the step's instant.
    if paced(st, at) then st.tk = math.min(st.tk, 1) end
    st.v = st.v + 1
    dirty = true
    if own then
      header[2], header[3], header[4], header[5] = 'added1', fmt(st.r), fmt(st.c), st.v
    else
      full_state('added')
    end
  else
    header[2] = 'stale'
  end
else
  if tonumber(ARGV[4]) == st.v then
    local at = math.min(inst(ARGV[5], now), now)
    advance(st, at)
    local nx = {
      r = tonumber(ARGV[6]), b = tonumber(ARGV[7]), cd = inst(ARGV[8], now), e = tonumber(ARGV[9]),
      qr = tonumber(ARGV[10]), qu = inst(ARGV[11], now), c = tonumber(ARGV[12]),
      si = inst(ARGV[13], now), u = inst(ARGV[14], now), m = tonumber(ARGV[15]),
    }
    if nx.e ~= st.e then
      st.tk, st.tl = 0, NEG
      if nx.cd > st.l then st.l = nx.cd end
    end
    st.tk = math.min(st.tk, nx.b)
    st.r, st.b, st.cd, st.e, st.qr, st.qu, st.c = nx.r, nx.b, nx.cd, nx.e, nx.qr, nx.qu, nx.c
    st.si, st.u, st.m = nx.si, nx.u, nx.m
    if paced(st, at) then st.tk = math.min(st.tk, 1) end
    st.v = st.v + 1
    dirty = true
    header[2], header[3] = 'written', st.v
  else
    full_state('conflict')
  end
end

-- save stores the tokens, and the state if it changed, and refreshes the
-- TTL when a quarter of it has passed since the last time (or the state
-- changed): a hash in use never gets near expiry, and a busy one does not
-- pay a PEXPIRE per call.
local function save()
  local refresh = ttl > 0 and (dirty or math.abs(now - st.x) >= ttl * 250000)
  if refresh then st.x = now end
  if dirty then
    redis.call('HSET', key, 't', packed_t(st), 's', packed_s(st))
  else
    redis.call('HSET', key, 't', packed_t(st))
  end
  if refresh then redis.call('PEXPIRE', key, ttl) end
end

local function reply(...)
  local n = #header
  for i = 1, select('#', ...) do header[n + i] = (select(i, ...)) end
  return header
end

if op == 'take' then
  -- ARGV[base]: tokens; ARGV[base+1]: the longest wait in ns, or "inf".
  -- Reply: OK (1 or 0), the reservation's instant, the epoch; or "burst" and
  -- the burst when the tokens are not within (0, burst].
  local n = tonumber(ARGV[base])
  if not (n > 0) or n > st.b then
    if dirty then save() end
    return reply('burst', fmt(st.b))
  end
  advance(st, now)
  local at = now
  if st.cd > now then at = st.cd end
  local need = n - st.tk
  if need > 0 then at = at + accrual(st, need, at) end
  local ok = 0
  if ARGV[base + 1] == 'inf' or at - now <= tonumber(ARGV[base + 1]) then
    ok = 1
    st.tk = st.tk - n
    if at > st.tl then st.tl = at end
  end
  save()
  if #header == 2 then return {header[1], header[2], ok, int(at), st.e} end
  return reply(ok, int(at), st.e)
end

if op == 'epoch' then
  if dirty then save() end
  return reply(st.e)
end

if op == 'cancel' then
  -- ARGV[base..base+2]: the reservation's epoch, instant and tokens.
  -- Reply: "given" or "kept".
  local e, at, n = tonumber(ARGV[base]), inst(ARGV[base + 1], now), tonumber(ARGV[base + 2])
  local give = 0
  -- Is the reservation the latest? The same instant as the tail to a
  -- microsecond, or to 2^-50 of its wait, as bucket.Bucket's Cancel says
  -- and bucket.Local decides: a cancel moves the tail back by a
  -- reservation's tokens, rounding on the way, and centuries ahead a double
  -- holds an instant to microseconds.
  local last = math.abs(at - st.tl) <= math.max(1000, math.floor((at - now) * 2 ^ -50))
  if e == st.e and at > now then
    give = n
    if st.tl > at and not last then give = give - rate_at(st, at) * seconds(st.tl - at) end
  end
  if give <= 0 then
    if dirty then save() end
    return reply('kept')
  end
  advance(st, now)
  st.tk = math.min(st.b, st.tk + give)
  if last then st.tl = at - span(n / rate_at(st, at)) end
  save()
  return reply('given')
end

if op == 'peek' then
  -- Reply: the state (as in a conflict), then the tokens at now.
  if dirty then save() end
  local tokens = st.tk
  if now > st.l then tokens = refilled(st, now) end
  return reply(fmt(st.r), fmt(st.b), int(st.cd), st.e, fmt(st.qr), int(st.qu), fmt(st.c),
    int(st.si), int(st.u), fmt(st.m), st.v, fmt(tokens))
end

if op == 'write' then
  -- Only the step of the header.
  if dirty then save() end
  return reply()
end

return {err = 'unknown operation ' .. tostring(op)}
