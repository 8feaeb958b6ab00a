-- The routing engine as one Redis script: every decision of routing/engine.py, run atomically inside Redis.
--
-- Loaded as a Redis function library (FUNCTION LOAD): routing/redis_backend.py prepends the "#!lua name=..." line
-- and the FUNCTION_NAME it registers under, both named after this file's hash so versions never clash. The library
-- is compiled once; each call runs one function, which is what keeps a decision near a bare round trip.
-- keys[1] is the key prefix; args[1] the operation, args[2] `now`, args[3] the settings as
-- "reservation_timeout|max_misses|count_rejections|strategy|lookahead|retention", args[4..] the operation's own
-- arguments. The reply is {"ok", <each event's kind and fields, flat>} (see Events below) or {"ok", <JSON
-- document>} for reads, or {"err", code, detail} when a check failed; checks all run before the first write, so an
-- error changed nothing.
--
-- This is a line-by-line port of RoutingEngine: the same indexes (agents by (channel, skill, level), pools of
-- equal requirements, one timer set), the same sequence numbers (reservation ids R<n>), the same tie-breaks.
-- Python computes what needs no state (the RoutePlan, the priority key, key names), so this script never sees
-- YAML. Numbers are written with 17 significant digits wherever they leave Lua as text (scores, JSON documents;
-- records are MessagePack, replies' and statistics' doubles 8 bytes), because Redis and cjson would otherwise round
-- them to 14.

-- Per-call state: set by begin() at the start of every call (the library's functions outlive a call).
local ARGV, P, OP, NOW, RT, MAXMISS, COUNTREJ, STRATEGY, LOOKAHEAD, RETENTION
local NOW_F, NOW_N -- `now` as formatted by F and n, once per call
-- Redis's libraries (cjson, string, redis.call...) only exist while a function runs, not while the library loads.
local NULL, call, fmt
local AC, AD, TC, TD, RC, RD, EV
local LV -- the library's cache of live records for this call's prefix, once its epoch has been checked (live())
local SEQ, SEQ_DIRTY
local PENDING, PIV, PGV, RV, TIMERS
local SA, PM
local CONFIGS = {}
-- How many entries each of the library's bounded caches holds (below), in one table: Lua 5.1 allows a chunk 200
-- local variables.
local SIZES = { profiles = 0, plans = 0, preferred = 0, trims = 0, req = 0, serve = 0, registry = 0, listed = 0,
  head_keys = 0 }
local LIVE, LIVE_SIZE, IN_CALL = {}, 0, false

-- The per-call tables are emptied and reused rather than made anew by every call, since they are a good part of a
-- small call's garbage (and the collector's work is proportional to it). One that grew large (a tick that fired many
-- timers) is replaced instead: emptying a table keeps its size, and every later call would walk it.
local function emptied(t)
  if t == nil then
    return {}
  end
  local count = 0
  for k in pairs(t) do
    count = count + 1
    if count > 32 then
      return {}
    end
    t[k] = nil
  end
  return t
end

local function begin(keys, args)
  NULL, call, fmt = cjson.null, redis.call, string.format
  ARGV, P, OP, NOW = args, keys[1], args[1], tonumber(args[2])
  NOW_F, NOW_N = nil, nil
  local config = CONFIGS[args[3]]
  if config == nil then
    local a, b, c, d, e, f = string.match(args[3], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
    config = { tonumber(a), tonumber(b), c == '1', d, tonumber(e), tonumber(f) }
    CONFIGS[args[3]] = config
  end
  RT, MAXMISS, COUNTREJ, STRATEGY, LOOKAHEAD, RETENTION = config[1], config[2], config[3], config[4], config[5], config[6]
  AC, AD, TC, TD, RC, RD, EV = emptied(AC), emptied(AD), emptied(TC), emptied(TD), emptied(RC), emptied(RD), emptied(EV)
  SEQ, SEQ_DIRTY = nil, false
  PENDING, PIV, PGV, RV, TIMERS = emptied(PENDING), nil, nil, nil, emptied(TIMERS)
  SA, PM = emptied(SA), emptied(PM)
  -- A call that did not reach the end of flush() (a Lua error, a command that failed, a script killed) may have left
  -- cached records changed but not written: nothing cached is trusted after it.
  if IN_CALL then
    LIVE, LIVE_SIZE = {}, 0
  end
  IN_CALL, LV = true, nil
end

local CALL = 'voice'
local MAXLEVEL = 10
local ROUTABLE = { available = true, busy = true }

-- `now` is written many times per call (scores, JSON documents), and formatting a double costs about as much as a
-- Redis command: it is written as Python passed it (repr, which reads back as exactly the same double).
local function F(x)
  if x == NOW then
    if NOW_F == nil then
      NOW_F = ARGV[2]
    end
    return NOW_F
  end
  return fmt('%.17g', x)
end

-- A number passed to redis.call is formatted by Redis with snprintf("%.17g"), which costs about as much as a
-- short command: the ranges and counts of the hot paths are passed as strings, those of scans kept by value. Only
-- for integers from a small set (batch sizes, step indexes, short scans): the texts are kept for good.
local INT_TEXT = {}
local function int_text(i)
  local text = INT_TEXT[i]
  if text == nil then
    text = fmt('%d', i)
    INT_TEXT[i] = text
  end
  return text
end

-- Key parts are escaped like routing/redis_backend.py does it, so a ':' in a name cannot make two keys collide.
local function esc(part)
  if not string.find(part, '[%%:]') then
    return part
  end
  local escaped = string.gsub(string.gsub(part, '%%', '%%25'), ':', '%%3A')
  return escaped
end

-- Binary output: a double as 8 bytes little-endian, for replies and statistics records; exact, and far cheaper than
-- formatting 17 digits for Python or the script to parse back.
local NOW_D, NOW_B -- `now` packed by D, kept until `now` changes
local function D(x)
  if x == NOW then
    if NOW_D ~= NOW then
      NOW_D, NOW_B = NOW, struct.pack('<d', NOW)
    end
    return NOW_B
  end
  return struct.pack('<d', x)
end

-- Records: one MessagePack string per agent, task and reservation, cached and written back once at the end ------

-- An agent is two records: its live state (a:<id>: activity, load, offers, index entries), rewritten by most
-- decisions, and its profile (ap:<id>: skills, languages, team, capacity and the index keys they imply), written
-- only by upsert_agent. The live record reads the profile's fields through its metatable, and decoded profiles are
-- kept in the library across calls, by prefix and agent id, tagged with the profile's version (pv, a field of the
-- live record that every upsert_agent renews): a lookup can never see a stale profile, and the common read costs
-- one GET of the small live record, neither the profile's bytes nor its decoding. (They were keyed by their own
-- bytes, which made every read fetch and intern a kilobyte string and kept all of them in the library's heap.) The
-- profile as agent_to_dict gave it (only get_agent returns it) is a third key (aj:<id>), so that it is neither read
-- by decisions nor kept in the library's memory.
local PROFILES = {}
local function cached_profiles()
  local byid = PROFILES[P]
  if byid == nil then
    byid = {}
    PROFILES[P] = byid
  end
  return byid
end
local function install_profile(id, version, profile)
  local byid = cached_profiles()
  if byid[id] == nil then
    -- Bounded: this memory is Redis's (used_memory_vm_functions).
    if SIZES.profiles >= 20000 then
      PROFILES, SIZES.profiles = {}, 0
      byid = cached_profiles()
    end
    SIZES.profiles = SIZES.profiles + 1
  end
  local meta = { __index = profile, v = version }
  byid[id] = meta
  return meta
end
local function profile_meta(id, version)
  local meta = cached_profiles()[id]
  if meta == nil or meta.v ~= version then
    meta = install_profile(id, version, cmsgpack.unpack(call('GET', P .. 'ap:' .. id)))
  end
  return meta
end
-- The live records are MessagePack sequences of their fields' values in a fixed order, not maps: decoding a map
-- interns every key string again and fills a table by hashing, while a sequence decodes into locals that a table
-- constructor with constant keys turns into the record the rest of this file reads by name. The id is the key's.
local function agent_of(id, raw)
  local order, activity, load, total_load, idle_since, misses, entry, ich, reservations, wrap_slots, wrap_token,
    wrap_until, pv, bscore = cmsgpack.unpack(raw)
  local a = { id = id, order = order, activity = activity, load = load, total_load = total_load,
    idle_since = idle_since, misses = misses, entry = entry, ich = ich, reservations = reservations,
    wrap_slots = wrap_slots, wrap_token = wrap_token, wrap_until = wrap_until, pv = pv, bscore = bscore }
  return setmetatable(a, profile_meta(id, pv))
end
local function agent_record(a)
  return cmsgpack.pack(a.order, a.activity, a.load, a.total_load, a.idle_since, a.misses, a.entry, a.ich,
    a.reservations, a.wrap_slots, a.wrap_token, a.wrap_until, a.pv, a.bscore)
end
-- A task is two records too: its live state (t:<id>: status, step, pool, offer, exclusions and the few fixed
-- scalars every decision reads: queue, channel, created_at, value, priority key, offer time-out, its plan's id and
-- steps' deadlines, its preferred skills' JSON), rewritten by most decisions, and its fixed part (tf:<id>: its
-- plan's text and the task's JSON), written once by submit and read only by a listing, or for a plan the library
-- does not hold. Flags and times that are false or unset for most of a task's life (unserviceable, fallback_due,
-- exhausted, accepted_at) stay nil until they are set, so the decoded table has no slot for them.
--
-- Plans: the RoutePlans of a workflow's tasks differ only in their steps' deadlines, so Python passes a plan's
-- shape (JSON: {f, rt?, s: [{n, g, k, b?}]}) apart from the deadlines, and the decoded shapes are kept in the
-- library by an id of their text (bounded, like REQ): a submit decodes no JSON for a plan seen before, and the
-- step and re-queue that read the plan decode nothing at all. Preferred skills are kept decoded by their text
-- the same way (most tasks have none).
local PLANS, PLAN_IDS = {}, {}
local function plan_of_text(text)
  local id = PLAN_IDS[text]
  if id == nil then
    if SIZES.plans >= 1000 then
      PLANS, PLAN_IDS, SIZES.plans = {}, {}, 0
    end
    SIZES.plans = SIZES.plans + 1
    local raw = cjson.decode(text)
    local steps = {}
    for i, st in ipairs(raw.s) do
      steps[i] = { n = st.n, g = st.g, k = st.k, b = st.b }
    end
    id = string.sub(redis.sha1hex(text), 1, 16)
    PLAN_IDS[text] = id
    PLANS[id] = { steps = steps, f = raw.f, rt = raw.rt and tonumber(raw.rt) or nil }
  end
  return id, PLANS[id]
end
local PREFERRED = {}
local function preferred_of(text)
  local preferred = PREFERRED[text]
  if preferred == nil then
    if SIZES.preferred >= 10000 then
      PREFERRED, SIZES.preferred = {}, 0
    end
    SIZES.preferred = SIZES.preferred + 1
    preferred = cjson.decode(text)
    PREFERRED[text] = preferred
  end
  return preferred
end
-- The fixed part is read, through the live record's metatable, for the task's JSON, or for its plan when the
-- library does not hold it (the decoded record gets its plan from the library, and its preferred skills).
local TASK_META = {
  __index = function(t, k)
    if k ~= 'plan' and k ~= 'tj' then
      return nil
    end
    local text, tj = cmsgpack.unpack(call('GET', P .. 'tf:' .. rawget(t, 'id')))
    local _, plan = plan_of_text(text)
    -- Kept on the decoded record for the rest of the call; task_record() writes only the live fields.
    rawset(t, 'plan', plan)
    rawset(t, 'tj', tj)
    return rawget(t, k)
  end,
}
-- The scalars a task keeps from submit to the end (queue ... pt) are packed once, into a string the live record
-- holds as its first value: packing costs per value (cmsgpack.pack makes a Lua string of each and then joins them),
-- and a task is rewritten four or five times, while the library's cache spares most decodings.
local function task_of(id, raw)
  local scalars, step, status, seq, excluded, pool, pstep, reservation, agent_id, agent_order, accepted_at,
    unserviceable, fallback_due, exhausted = cmsgpack.unpack(raw)
  local queue, channel, created_at, value, key, kt, rt, pid, u, pt = cmsgpack.unpack(scalars)
  return setmetatable({ id = id, queue = queue, channel = channel, created_at = created_at, value = value,
    key = key, kt = kt, rt = rt, pid = pid, u = u, pt = pt, scalars = scalars, step = step, status = status,
    seq = seq, excluded = excluded, pool = pool, pstep = pstep, reservation = reservation, agent_id = agent_id,
    agent_order = agent_order, accepted_at = accepted_at, unserviceable = unserviceable, fallback_due = fallback_due,
    exhausted = exhausted, plan = PLANS[pid], preferred = preferred_of(pt) }, TASK_META)
end
local function task_record(t)
  local scalars = rawget(t, 'scalars')
  if scalars == nil then
    scalars = cmsgpack.pack(t.queue, t.channel, t.created_at, t.value, t.key, t.kt, t.rt, t.pid, t.u, t.pt)
    t.scalars = scalars
  end
  return cmsgpack.pack(scalars, t.step, t.status, t.seq, t.excluded, t.pool, t.pstep, t.reservation, t.agent_id,
    t.agent_order, t.accepted_at, t.unserviceable, t.fallback_due, t.exhausted)
end
local function res_of(id, raw)
  local task_id, agent_id, queue, channel, offered_at, expires_at = cmsgpack.unpack(raw)
  return { id = id, task_id = task_id, agent_id = agent_id, queue = queue, channel = channel,
    offered_at = offered_at, expires_at = expires_at }
end
local function res_record(r)
  return cmsgpack.pack(r.task_id, r.agent_id, r.queue, r.channel, r.offered_at, r.expires_at)
end

-- Decoded live records are kept in the library across calls too, by prefix, so that a record a recent call read
-- or wrote is neither fetched nor decoded again (at the benchmark's scale, -6% of Redis's instructions). They are
-- tagged with the dataset's epoch (ep: "<clock>:<count>"), which every call that writes a record renews in the
-- MSET that writes it, and which read_first() reads in the MGET it already sends: the cache is trusted only while
-- ep still holds the value it last saw or wrote, so a dataset written by another library version (its own cache),
-- flushed, restored or rebuilt drops it. The clock is taken when a cache first writes, so each value is written once
-- by one cache: a copy of the dataset written elsewhere never comes back to a value a cache holds. The cached
-- records are the very tables a call changes, hence the check that the previous call ended (IN_CALL, see begin).
--
-- Bounded, since this memory is Redis's (used_memory_vm_functions: a decoded task takes about 1.5 kB): past
-- LIVE_LIMIT records (of all prefixes), the cache starts again empty. The benchmark's 5000 agents and 20000 tasks
-- fit, with their open reservations; an LRU or generations cost more per call than the misses they would save.
local LIVE_LIMIT = 40000
local function new_live(epoch)
  local old = LIVE[P]
  if old then
    LIVE_SIZE = LIVE_SIZE - old.n
  end
  local lv = { epoch = epoch, n = 0, ['a:'] = {}, ['t:'] = {}, ['r:'] = {} }
  LIVE[P] = lv
  return lv
end
-- Makes LV the cache for the dataset's epoch as just read (false: missing, which no cache is ever tagged with).
local function adopt(epoch)
  local lv = LIVE[P]
  if lv == nil or not epoch or lv.epoch ~= epoch then
    lv = new_live(epoch)
  end
  LV = lv
end
local function live()
  if LV == nil then
    adopt(call('GET', P .. 'ep'))
  end
  return LV
end
local function remember(prefix, id, record)
  local byid = LV[prefix]
  if byid[id] == nil then
    if LIVE_SIZE >= LIVE_LIMIT then
      -- Emptied, not retagged: the epoch still holds for this call and the cache's own next write.
      local epoch, base, count = LV.epoch, LV.base, LV.count
      LIVE, LIVE_SIZE = {}, 0
      LV = new_live(epoch)
      LV.base, LV.count = base, count
      byid = LV[prefix]
    end
    LIVE_SIZE = LIVE_SIZE + 1
    LV.n = LV.n + 1
  end
  byid[id] = record
end
local function forget(prefix, id)
  local byid = LV[prefix]
  if byid[id] ~= nil then
    byid[id] = nil
    LIVE_SIZE = LIVE_SIZE - 1
    LV.n = LV.n - 1
  end
end

-- A record read is decoded once per call and kept in its cache (false: no such record), where the decision's
-- changes accumulate until flush() writes them back; a decoded one is remembered across calls (LV must be set).
local function keep(prefix, id, raw)
  local record
  if prefix == 'a:' then
    if AC[id] == nil then
      record = raw and agent_of(id, raw)
      AC[id] = record or false
    end
  elseif prefix == 't:' then
    if TC[id] == nil then
      record = raw and task_of(id, raw)
      TC[id] = record or false
    end
  elseif RC[id] == nil then
    record = raw and res_of(id, raw)
    RC[id] = record or false
  end
  if record then
    remember(prefix, id, record)
  end
end
local function keep_cached(prefix, id, record)
  local calls = prefix == 'a:' and AC or prefix == 't:' and TC or RC
  if calls[id] == nil then
    calls[id] = record
  end
end
local function cached_or_read(prefix, id)
  local record = live()[prefix][id]
  if record then
    keep_cached(prefix, id, record)
  else
    keep(prefix, id, call('GET', P .. prefix .. id))
  end
end
local function agent(id)
  if AC[id] == nil then
    cached_or_read('a:', id)
  end
  return AC[id] or nil
end
local function task(id)
  if TC[id] == nil then
    cached_or_read('t:', id)
  end
  return TC[id] or nil
end
local function res(id)
  if RC[id] == nil then
    cached_or_read('r:', id)
  end
  return RC[id] or nil
end
-- A record dropped in this call stays dropped: marking it dirty afterwards must not bring it back.
local function dirty_agent(a)
  if AC[a.id] then
    AD[a.id] = a
  end
end
local function dirty_task(t)
  if TC[t.id] then
    TD[t.id] = t
  end
end

local function next_seq()
  if SEQ == nil then
    SEQ = tonumber(call('GET', P .. 'seq') or '0')
  end
  SEQ = SEQ + 1
  SEQ_DIRTY = true
  return SEQ
end

-- The records an operation knows it will read ({prefix, id, prefix, id...}) come with one MGET, together with the
-- sequence counter and the versions that most decisions read as well (an offer takes a sequence number, a look
-- for work checks the pools' and the listed pools' versions, a submit the roster's): a command costs about as
-- much as decoding a record. A version that is missing reads as false.
-- Records the library holds are not fetched: the MGET reads the epoch they were cached under, and in the rare case
-- that it moved on, they are read again one by one.
local function read_first(records)
  local cached = LV or LIVE[P]
  local keys, fetched, hits = {}, {}, nil
  for i = 1, #records, 2 do
    local prefix, id = records[i], records[i + 1]
    if cached and cached[prefix][id] then
      hits = hits or {}
      hits[#hits + 1] = prefix
      hits[#hits + 1] = id
    else
      fetched[#fetched + 1] = prefix
      fetched[#fetched + 1] = id
      keys[#keys + 1] = P .. prefix .. id
    end
  end
  local count = #keys
  keys[count + 1] = P .. 'seq'
  keys[count + 2] = P .. 'piv'
  keys[count + 3] = P .. 'pgv'
  keys[count + 4] = P .. 'rv'
  keys[count + 5] = P .. 'ep'
  local values = call('MGET', unpack(keys))
  if LV == nil then
    adopt(values[count + 5])
  end
  for i = 1, count do
    keep(fetched[2 * i - 1], fetched[2 * i], values[i])
  end
  if hits then
    for i = 1, #hits, 2 do
      cached_or_read(hits[i], hits[i + 1])
    end
  end
  if SEQ == nil then
    SEQ = tonumber(values[count + 1] or '0')
  end
  if PIV == nil then
    PIV = values[count + 2] or nil
  end
  if PGV == nil then
    PGV = values[count + 3]
  end
  if RV == nil then
    RV = values[count + 4]
  end
end

-- Versions that the library's caches are tagged with (the pool look-ups', the agent profiles'): "<clock>:<count>",
-- the clock being the server's when the dataset first needed one, so a dataset flushed and rebuilt never repeats a
-- tag kept from before.
local function clock_text()
  local clock = call('TIME')
  return clock[1] .. '.' .. clock[2]
end
local function fresh_version()
  return clock_text() .. ':0'
end
local function next_version(key, current)
  local base, count = string.match(current or call('GET', key) or fresh_version(), '^(.*):(%d+)$')
  local version = base .. ':' .. fmt('%d', tonumber(count) + 1)
  call('SET', key, version)
  return version
end

-- Statistics: the records StatisticsLedger keeps, kept in Redis so every process folds the same ones ---------------

-- Records are binary, doubles as 8 bytes little-endian like the replies' (exact, and no 17 digits to format or parse):
-- q:<queue> created_at .. task (see leave_queue); so:<queue> outcomes '<dBd' (at, kind, value); sh:<agent> the
-- agent's activity changes (at, then the activity), from which the reader replays the ledger's track (activity, since
-- and spans), so that a change costs one RPUSH (it was an HGET and an HSET of the agent's current activity as well).
-- A list is trimmed to the retention only once it has grown by TRIM_EVERY records since its last trim (its length
-- then is noted in the library across calls: a note lost or reset only brings a trim sooner), not at every record (a
-- LINDEX more each, and an LPOP and a LINDEX for every record past the horizon), since the readers leave out what
-- trimming at every record would have dropped.
local TRIM_EVERY = 32
local TRIMS = {}
-- Appends a record to a list whose records start with their time, and returns the list's length. A trim drops the
-- records older than `horizon` from the front but the last `keep` of them (a change is needed until the next one
-- falls past the horizon: the span between them is the ledger's until then).
local function stat_push(key, record, horizon, keep)
  local length = call('RPUSH', key, record)
  local trimmed = TRIMS[key]
  if trimmed ~= nil and length > trimmed and length < trimmed + TRIM_EVERY then
    return length
  end
  if trimmed == nil then
    -- Bounded: this memory is Redis's (used_memory_vm_functions).
    if SIZES.trims >= 20000 then
      TRIMS, SIZES.trims = {}, 0
    end
    SIZES.trims = SIZES.trims + 1
  end
  local left = length
  while true do
    local head = call('LRANGE', key, '0', '63')
    local old = 0
    while old < #head and struct.unpack('<d', head[old + 1]) < horizon do
      old = old + 1
    end
    if old > keep then
      call('LTRIM', key, old - keep, -1)
      left = left - (old - keep)
    end
    if old < 64 then
      TRIMS[key] = left
      return length
    end
  end
end
local function stat_record(queue, at, kind, value)
  stat_push(P .. 'so:' .. queue, struct.pack('<dBd', at, kind, value), at - RETENTION, 0)
end
-- An agent's activity changed at `now`: noted in SA (the agents in the order of their first change in the call, and
-- by agent the last activity), and written by flush().
local function stat_agent(agent_id, activity)
  if SA[agent_id] == nil then
    SA[#SA + 1] = agent_id
  end
  SA[agent_id] = activity
end

-- Writes leave in as few commands as possible: one MSET for every record rewritten and one DEL for every record
-- dropped (in chunks, since a command's arguments pass through Lua's stack), instead of one command per record.
local CHUNK = 512
local function send_chunked(command, args, key)
  for first = 1, #args, CHUNK do
    if key then
      call(command, key, unpack(args, first, math.min(first + CHUNK - 1, #args)))
    else
      call(command, unpack(args, first, math.min(first + CHUNK - 1, #args)))
    end
  end
end

-- The records written are the library's cached ones from then on, tagged with the epoch this call sets.
local function flush()
  local sets, dels = {}, {}
  local lv = (next(AD) ~= nil or next(TD) ~= nil or next(RD) ~= nil) and live()
  for id, a in pairs(AD) do
    if a then
      sets[#sets + 1] = P .. 'a:' .. id
      sets[#sets + 1] = agent_record(a)
      remember('a:', id, a)
    else
      dels[#dels + 1] = P .. 'a:' .. id
      dels[#dels + 1] = P .. 'ap:' .. id
      dels[#dels + 1] = P .. 'aj:' .. id
      forget('a:', id)
    end
  end
  for id, t in pairs(TD) do
    if t then
      sets[#sets + 1] = P .. 't:' .. id
      sets[#sets + 1] = task_record(t)
      if t.fixed then
        sets[#sets + 1] = P .. 'tf:' .. id
        sets[#sets + 1] = t.fixed
        t.fixed = nil
      end
      remember('t:', id, t)
    else
      dels[#dels + 1] = P .. 't:' .. id
      dels[#dels + 1] = P .. 'tf:' .. id
      forget('t:', id)
    end
  end
  for id, r in pairs(RD) do
    if r then
      sets[#sets + 1] = P .. 'r:' .. id
      sets[#sets + 1] = res_record(r)
      remember('r:', id, r)
    else
      dels[#dels + 1] = P .. 'r:' .. id
      forget('r:', id)
    end
  end
  if lv then
    lv = LV -- remember() may have started it again
    if lv.base == nil then
      lv.base, lv.count = clock_text(), 0
    end
    lv.count = lv.count + 1
    lv.epoch = lv.base .. ':' .. fmt('%d', lv.count)
    sets[#sets + 1] = P .. 'ep'
    sets[#sets + 1] = lv.epoch
  end
  if SEQ_DIRTY then
    sets[#sets + 1] = P .. 'seq'
    sets[#sets + 1] = fmt('%d', SEQ)
  end
  send_chunked('MSET', sets)
  send_chunked('DEL', dels)
  -- Each agent whose activity changed leaves one point, its last change's: the changes of one call are all at `now`,
  -- and the ledger records no span between two changes at one instant.
  for i = 1, #SA do
    local id = SA[i]
    if stat_push(P .. 'sh:' .. id, D(NOW) .. SA[id], NOW - RETENTION, 1) == 1 then
      call('RPUSH', P .. 'sao', id)
    end
  end
  IN_CALL = false
end

-- Events -------------------------------------------------------------------------------------------------------

-- A decision replies {'ok', <event>, <event>...}, flat: each event is a one-letter kind and then its fields, in the
-- order routing/redis_backend.py reads them. Its `at` is always `now`, which Python passed in, so it is left out.
-- Strings go as they are (a reply's strings are binary-safe: no escaping, no JSON to build or parse), integers as
-- Lua numbers (integer replies) and floats as D packs them.
local OK_ONLY = { 'ok' }
-- Where the next event's kind goes: the reply's first slot is its status.
local function ev_slot()
  local i = #EV
  if i == 0 then
    EV[1] = 'ok'
    return 2
  end
  return i + 1
end
-- Offers that end return their event, for end_offer to emit it in its place.
local function emit(ev)
  local i = ev_slot() - 1
  for k = 1, #ev do
    EV[i + k] = ev[k]
  end
end
local function ev_created(t, step_name, unserviceable)
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3] = 'C', t.id, t.queue, t.channel
  local created_at = D(t.created_at)
  e[i + 4], e[i + 5], e[i + 6], e[i + 7] = created_at, t.value, step_name, unserviceable and 1 or 0
  call('SADD', P .. 'q:' .. t.queue, created_at .. t.id)
end
local function ev_reserved(t, a, r)
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3] = 'R', t.id, t.queue, t.channel
  e[i + 4], e[i + 5], e[i + 6] = a.id, r.id, D(r.expires_at)
end
local function ev_accepted(t, agent_id, rid)
  local waited = NOW - t.created_at
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3] = 'A', t.id, t.queue, t.channel
  e[i + 4], e[i + 5], e[i + 6] = agent_id, rid, D(waited)
  stat_record(t.queue, NOW, 0, waited)
end
local function ev_rejected(r, reason)
  return { 'J', r.task_id, r.queue, r.agent_id, r.id, reason }
end
local function ev_timed_out(r)
  return { 'O', r.task_id, r.queue, r.agent_id, r.id }
end
local function ev_completed(t, agent_id, handle_time, wrap_up)
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3] = 'D', t.id, t.queue, t.channel
  e[i + 4], e[i + 5], e[i + 6] = agent_id, D(handle_time), D(wrap_up)
  stat_record(t.queue, NOW, 4, handle_time)
end
local function ev_abandoned(t)
  local waited = NOW - t.created_at
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3] = 'B', t.id, t.queue, D(waited)
  -- Stored as abandoned; whether it was a short abandon is the reader's policy.
  stat_record(t.queue, NOW, 1, waited)
end
local function ev_step(t, name)
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3], e[i + 4] = 'S', t.id, t.queue, t.step, name
end
local function ev_fallback(t, action, reason)
  local waited = NOW - t.created_at
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3], e[i + 4], e[i + 5] = 'F', t.id, t.queue, action, reason, D(waited)
  if action ~= 'queue' then
    stat_record(t.queue, NOW, 3, waited)
  end
end
local function ev_activity(a, previous, activity, reason)
  local e, i = EV, ev_slot()
  e[i], e[i + 1], e[i + 2], e[i + 3], e[i + 4] = 'G', a.id, previous, activity, reason
end

-- Requirements -------------------------------------------------------------------------------------------------

-- A requirement is read back from its signature: [channel, [[skill, level]...], team, [languages], agents|null].
-- Signatures are pure data, so the decoded form is kept across calls (bounded, like the engine's caches).
local REQ = {}
local function req_of(sig)
  local req = REQ[sig]
  if req == nil then
    if SIZES.req >= 10000 then
      REQ, SIZES.req = {}, 0
    end
    SIZES.req = SIZES.req + 1
    local raw = cjson.decode(sig)
    req = { channel = raw[1], skills = raw[2], languages = raw[4] }
    if raw[3] ~= NULL then
      req.team = raw[3]
    end
    if raw[5] ~= NULL then
      req.agents = raw[5]
      local set = {}
      for _, id in ipairs(raw[5]) do
        set[id] = true
      end
      req.agentset = set
    end
    REQ[sig] = req
  end
  return req
end

local function qualifies(req, a)
  if req.agentset and not req.agentset[a.id] then
    return false
  end
  if req.team and req.team ~= a.team then
    return false
  end
  -- Numeric loops here and in the other hot loops of this file: an ipairs loop calls its C iterator once per item,
  -- which costs Lua 5.1 far more than indexing the array.
  local skills, required = a.skills, req.skills
  for i = 1, #required do
    local pair = required[i]
    if (skills[pair[1]] or 0) < pair[2] then
      return false
    end
  end
  local langs, spoken = a.langs, req.languages
  for i = 1, #spoken do
    if not langs[spoken[i]] then
      return false
    end
  end
  return true
end

local function preference_score(skills, preferred)
  local total = 0
  for skill, wanted in pairs(preferred) do
    total = total + math.min(skills[skill] or 0, wanted)
  end
  return total
end

local function is_empty(map)
  return next(map) == nil
end

-- Agents: activity, load and the indexes of free agents ----------------------------------------------------------

local function open_channels(a)
  local out = {}
  if not ROUTABLE[a.activity] then
    return out
  end
  local loads = a.load
  local blocked = a.call_blocks and (loads[CALL] or 0) > 0
  for channel, slots in pairs(a.cap) do
    if (loads[channel] or 0) < slots and (not blocked or channel == CALL) then
      out[#out + 1] = channel
    end
  end
  return out
end

local function member_of(a)
  return fmt('%012d', a.order) .. a.id
end

-- Index upkeep is deferred: index_agent and unindex_agent only say whether the agent should be findable, and
-- sync_index() brings the sorted sets in line once, before anything reads them (find_agent) and when the call
-- ends. A decision that frees an agent and hands it the next task at once (complete, reject, time-out) so touches
-- no index at all instead of adding the agent to every bucket and taking it out again.
local function index_agent(a)
  if #open_channels(a) == 0 then
    return
  end
  a.entry = true
  PENDING[a.id] = a
  dirty_agent(a)
end

local function unindex_agent(a)
  if not a.entry then
    return
  end
  a.entry = false
  PENDING[a.id] = a
  dirty_agent(a)
end

-- An indexed agent's record keeps the channels it is indexed on (ich), not the bucket keys: those follow from the
-- profile (bk), so the live record every decision decodes and encodes stays a few fields. upsert_agent syncs the
-- removal under the old profile before it installs a new one. The agent's member and score are formatted (a sprintf
-- each) only when it joins or leaves a bucket.
local function sync_agent(a)
  local member = nil
  local wanted, list, channels = {}, {}, {}
  if a.entry then
    local open = open_channels(a)
    for i = 1, #open do
      local channel = open[i]
      channels[i] = channel
      local suffixes = a.bk[channel]
      for j = 1, #suffixes do
        local suffix = suffixes[j]
        wanted[suffix] = true
        list[#list + 1] = suffix
      end
    end
  end
  local had, ich = {}, a.ich
  for i = 1, #ich do
    local suffixes = a.bk[ich[i]]
    for j = 1, #suffixes do
      local suffix = suffixes[j]
      had[suffix] = true
      if not wanted[suffix] then
        member = member or member_of(a)
        call('ZREM', P .. 'av:' .. suffix, member)
      end
    end
  end
  local score = nil
  if #list > 0 then
    score = F(a.idle_since)
    local moved = a.bscore ~= score
    for i = 1, #list do
      local suffix = list[i]
      if moved or not had[suffix] then
        member = member or member_of(a)
        call('ZADD', P .. 'av:' .. suffix, score, member)
      end
    end
  end
  a.ich = channels
  a.bscore = score
  dirty_agent(a)
end

local function sync_index()
  for id, a in pairs(PENDING) do
    PENDING[id] = nil -- clearing the field being visited is allowed while traversing
    -- An agent freed and offered work again within the call, with no channel left open, was in no bucket and
    -- joins none: the common case of a busy contact center.
    if a.entry or #a.ich > 0 then
      sync_agent(a)
    end
  end
end

-- Whether anyone could ever serve a requirement is kept in the library by prefix and signature, under the
-- roster's version (rv, renewed by every roster change; missing until the first agent joins, when nobody can).
local SERVE = {}
local function roster_version()
  if RV == nil then
    RV = call('GET', P .. 'rv')
  end
  return RV
end
local function roster_changed()
  RV = next_version(P .. 'rv', roster_version() or nil)
end

local function roster_add(a)
  for _, suffix in ipairs(a.rk) do
    call('SADD', P .. 'ro:' .. suffix, a.id)
  end
  roster_changed()
end

local function roster_remove(a)
  for _, suffix in ipairs(a.rk) do
    call('SREM', P .. 'ro:' .. suffix, a.id)
  end
  roster_changed()
end

local function change(a, activity, reason)
  local previous = a.activity
  a.activity = activity
  dirty_agent(a)
  ev_activity(a, previous, activity, reason)
  stat_agent(a.id, activity)
end

local function refresh_activity(a, reason)
  if not ROUTABLE[a.activity] then
    return
  end
  local wanted = a.total_load > 0 and 'busy' or 'available'
  if wanted ~= a.activity then
    change(a, wanted, reason)
  end
end

local function release(a, channel)
  a.load[channel] = a.load[channel] - 1
  a.total_load = a.total_load - 1
  dirty_agent(a)
end

local function release_wrap_up(a)
  for _, channel in ipairs(a.wrap_slots) do
    release(a, channel)
  end
  a.wrap_slots = {}
  a.wrap_token = next_seq()
  dirty_agent(a)
end

local function remove_value(list, value)
  for i, item in ipairs(list) do
    if item == value then
      table.remove(list, i)
      return
    end
  end
end

-- Could anyone ever serve this requirement? Cached per requirement until the roster changes, like the engine.
local function could_serve(sig)
  local version = roster_version()
  local known = SERVE[P]
  if known == nil or known.v ~= version then
    known = { v = version }
    SERVE[P] = known
  end
  if known[sig] ~= nil then
    return known[sig]
  end
  local req = req_of(sig)
  local candidates
  if req.agents then
    candidates = req.agents
  elseif #req.skills > 0 then
    candidates = call('SMEMBERS', P .. 'ro:s:' .. esc(req.skills[1][1]))
  elseif req.team then
    candidates = call('SMEMBERS', P .. 'ro:t:' .. esc(req.team))
  elseif #req.languages > 0 then
    candidates = call('SMEMBERS', P .. 'ro:l:' .. esc(req.languages[1]))
  else
    candidates = call('SRANDMEMBER', P .. 'ro:c:' .. esc(req.channel), '1')
  end
  local found = false
  for _, id in ipairs(candidates) do
    local a = agent(id)
    if a and (a.cap[req.channel] or 0) > 0 and qualifies(req, a) then
      found = true
      break
    end
  end
  if SIZES.serve >= 10000 then
    known = { v = version }
    SERVE, SIZES.serve = { [P] = known }, 0
  end
  SIZES.serve = SIZES.serve + 1
  known[sig] = found
  return found
end

-- Timers -------------------------------------------------------------------------------------------------------

-- The timers a call sets leave together, as one ZADD when it ends (a submit sets a step's and an offer's). Set
-- when one of them is already due: tick() must send them and read the timers again before firing the next.
--
-- A timer's member is its sequence number (16 digits: timers due at one instant fire in the order they were set, as
-- the engine's heap has them), its kind's letter and then, an offer's, the reservation id ("o" .. ref), or the
-- token and the ref ("s" or "w" .. token .. "|" .. ref): read back by position, with no pattern to match, and the
-- token compared as text, with no number to parse.
local DUE_PUSHED = false
local OFFER, STEP, WRAP = 111, 115, 119 -- string.byte of 'o', 's', 'w'
-- An offer's timer is numbered by its reservation (R<n>), whose number reserve() takes just before the timer's own:
-- no other timer's lies between them, so the order is the same, and an accept can name the timer to remove it (an
-- accepted offer's timer, left to be skipped, cost every tick more than one ZREM costs the accept).
local ZEROS = '0000000000000000'
local function offer_timer(rid)
  local digits = string.sub(rid, 2)
  return string.sub(ZEROS, #digits + 1) .. digits .. 'o' .. rid
end
local function push_timer(due, kind, ref, token)
  local seq = next_seq()
  if due <= NOW then
    DUE_PUSHED = true
  end
  TIMERS[#TIMERS + 1] = F(due)
  if kind == 'offer' then
    TIMERS[#TIMERS + 1] = offer_timer(ref)
  else
    TIMERS[#TIMERS + 1] = fmt('%016d', seq) .. string.sub(kind, 1, 1) .. fmt('%d', token) .. '|' .. ref
  end
end
local function send_timers()
  if #TIMERS > 0 then
    send_chunked('ZADD', TIMERS, P .. 'timers')
    TIMERS = emptied(TIMERS)
  end
end

-- Returns the kind's letter (OFFER, STEP or WRAP), the token as text (nil for an offer) and the ref.
local function parse_timer(member)
  local kind = string.byte(member, 17)
  if kind == OFFER then
    return kind, nil, string.sub(member, 18)
  end
  local bar = string.find(member, '|', 18, true)
  return kind, string.sub(member, 18, bar - 1), string.sub(member, bar + 1)
end

-- Pools of waiting tasks -----------------------------------------------------------------------------------------

-- The pools agents look up (all but those of listed agents) are registered once, when first created, in the list
-- pl (<facet>, <signature> for each, in the order registered), and the dataset's pool version piv
-- ("<clock>:<count>") counts them. A pool that empties stays registered (its head field in ph is simply gone):
-- were it unregistered, every pool that drains and fills again would change the registry. The library keeps the
-- list by prefix and reads only the entries it has not seen (one LRANGE after a pool was created elsewhere), and
-- an agent's profile keeps the pools it qualifies for, listed from the lists each facet keeps per kind of agent
-- (see registered and qualifying_pools): a new pool costs one test per kind of agent that looks for work, where a
-- version bump made every agent read and test all its look-ups again. Pools of listed agents (sticky routing: one
-- pool per customer's last agent, say) are the exception, since there is no bound on how many come and go: they
-- are registered under the listed agent's own facet (pi:g:<agent>) only while they hold tasks, and read by the
-- agent looking for work only after one of those sets changed (see listed_pools). A dataset without a version
-- starts it from the server clock, so a flushed and rebuilt dataset never matches a registry kept from before.
local REGISTRY = {}

local function pool_version()
  if PIV == nil then
    PIV = call('GET', P .. 'piv')
    if not PIV then
      PIV = fresh_version()
      call('SET', P .. 'piv', PIV)
    end
  end
  return PIV
end

-- The library's registry holds each facet's pools in the order registered, so that an agent brings its pools up
-- to date by looking at its own facets' lists only, and what those pools ask of an agent: the skills, teams and
-- languages any of them names (its shape). Whether an agent qualifies for a facet's pools depends only on its
-- levels in those skills, which of those teams it is in and which of those languages it speaks (a registered pool
-- lists no agents), so agents alike in that respect share one list of the facet's pools they qualify for, tested
-- once (see qualifying_pools): an agent's first look for work runs no qualification test unless it is the first of
-- its kind. A pool that names something new changes the facet's shape, and its lists are made again.
local function registered(reg, facet, sig)
  local f = reg.byfacet[facet]
  if f == nil then
    f = { sigs = {}, skills = {}, teams = {}, nteams = 0, langs = {}, named = {}, groups = {}, ngroups = 0 }
    reg.byfacet[facet] = f
  end
  f.sigs[#f.sigs + 1] = sig
  local req, named, changed = req_of(sig), f.named, false
  for _, pair in ipairs(req.skills) do
    if not named['s' .. pair[1]] then
      named['s' .. pair[1]] = true
      f.skills[#f.skills + 1] = pair[1]
      changed = true
    end
  end
  if req.team and not f.teams[req.team] then
    f.nteams = f.nteams + 1
    f.teams[req.team] = f.nteams
    changed = true
  end
  for _, lang in ipairs(req.languages) do
    if not named['l' .. lang] then
      named['l' .. lang] = true
      f.langs[#f.langs + 1] = lang
      changed = true
    end
  end
  if changed then
    f.groups, f.ngroups = {}, 0
  end
  reg.n = reg.n + 1
  SIZES.registry = SIZES.registry + 1
end

local function pool_registry()
  local version = pool_version()
  local reg = REGISTRY[P]
  if reg and reg.v == version then
    return reg
  end
  local base, count = string.match(version, '^(.*):(%d+)$')
  count = tonumber(count)
  if reg == nil or reg.base ~= base or reg.n > count then
    if SIZES.registry >= 50000 then
      REGISTRY, SIZES.registry = {}, 0
    end
    reg = { base = base, n = 0, byfacet = {} }
    REGISTRY[P] = reg
  end
  if reg.n < count then
    local entries = call('LRANGE', P .. 'pl', fmt('%d', 2 * reg.n), fmt('%d', 2 * count - 1))
    for i = 1, #entries, 2 do
      registered(reg, entries[i], entries[i + 1])
    end
  end
  reg.v = version
  return reg
end

-- The listed pools an agent can look up (pi:g:<agent>) are kept in the library by set, under the version of all
-- such sets (pgv, renewed whenever one changes, missing while none ever had a member), so an agent looking for
-- work reads its set only after some listed pool filled or emptied, and never in a dataset without listed pools.
local LISTED = {}
local NO_POOLS = {}
local function listed_pools(a)
  if PGV == nil then
    PGV = call('GET', P .. 'pgv')
  end
  if not PGV then
    return NO_POOLS
  end
  local key = P .. 'pi:' .. a.gk
  local hit = LISTED[key]
  if hit and hit[1] == PGV then
    return hit[2]
  end
  if hit == nil then
    if SIZES.listed >= 50000 then
      LISTED, SIZES.listed = {}, 0
    end
    SIZES.listed = SIZES.listed + 1
  end
  local sigs = call('SMEMBERS', key)
  LISTED[key] = { PGV, sigs }
  return sigs
end
local function listed_pools_changed()
  if PGV == nil then
    PGV = call('GET', P .. 'pgv')
  end
  PGV = next_version(P .. 'pgv', PGV or nil)
end

-- A pool looked up by one facet (Python gives every pool but a listed one exactly one).
local function register_pool(facet, sig)
  local reg = pool_registry()
  call('RPUSH', P .. 'pl', facet, sig)
  PIV = next_version(P .. 'piv', PIV)
  registered(reg, facet, sig)
  reg.v = PIV
end

-- A pool is a sorted set ordered by its members alone, every score 0. A member starts with the task's priority key
-- as 16 hex digits (its bits, mapped by Python's _pool_key so that their order is the keys'), then its sequence
-- number (16 digits: ties by arrival), a flag and the task id. Why not the key as the score: Redis keeps a small
-- sorted set (most pools) as a listpack, where a score that is not an integer is text, so every insert parsed
-- (strtod) the score of every entry it walked past, and every read of a head's score parsed one and formatted it
-- again; ordered by member, nothing is parsed. The flag is 'x' when some agent is excluded from the task.
-- Exclusions only change while a task is out of its pool (offered), so the flag never goes stale, and an agent
-- looking at a pool's head reads the task's record only in the rare case that someone was excluded.
local function pool_member(t)
  return t.kt .. fmt('%016d', t.seq) .. (next(t.excluded) and 'x' or '-') .. t.id
end

local function member_task(member)
  return string.sub(member, 34)
end

-- The priority key that a member's (or ph's) 16 hex digits stand for: the sign bit of a key >= 0 was set, every
-- bit of a negative one flipped, so that the digits sort as the keys do (read in two halves: a Lua number holds 53
-- bits). Exact, and no strtod.
local function pool_key(hex)
  local high, low = tonumber(string.sub(hex, 1, 8), 16), tonumber(string.sub(hex, 9, 16), 16)
  if high >= 2147483648 then
    high = high - 2147483648
  else
    high, low = 4294967295 - high, 4294967295 - low
  end
  return (struct.unpack('>d', struct.pack('>I4I4', high, low)))
end

local function excluded_from(member, agent_id)
  if string.byte(member, 33) ~= 120 then -- 'x'
    return false
  end
  return task(member_task(member)).excluded[agent_id] == true
end

-- Every pool's head is also kept in one hash, ph: <signature> -> its priority key (the member's 16 hex digits) and
-- #<signature> -> its member, equal to the pool's first entry after every call (set when a better task joins, moved
-- on when the head leaves, gone while the pool is empty). An agent looking for work so reads the heads' keys of all
-- the pools it qualifies for with one HMGET instead of one ZRANGE per pool, and the members only of the few heads
-- that can win: the replies are short, so the look costs one string per pool. One hash rather than two, so that
-- moving a head is one HSET and a task joining a pool reads its head's key and member with one HMGET.
-- A pool head's member, read at most once per call: an agent's look for work reads the winning head's member, and
-- the offer that follows takes that same task out of its pool.
local function head_member(sig)
  local member = PM[sig]
  if member == nil then
    member = call('HGET', P .. 'ph', '#' .. sig) or false
    PM[sig] = member
  end
  return member
end
local function set_head(sig, score, member)
  call('HSET', P .. 'ph', sig, score, '#' .. sig, member)
  PM[sig] = member
end

local function enqueue(t)
  local st = t.plan.steps[t.step + 1]
  local sig = st.g
  local head = call('HMGET', P .. 'ph', sig, '#' .. sig)
  local current = head[1]
  PM[sig] = head[2]
  if not current then
    if req_of(sig).agents then
      for _, suffix in ipairs(st.k) do
        call('SADD', P .. 'pi:' .. suffix, sig)
      end
      listed_pools_changed()
    elseif call('SADD', P .. 'pr', sig) == 1 then
      register_pool(st.k[1], sig)
    end
  end
  t.seq = next_seq()
  t.pool = sig
  t.pstep = t.step
  t.status = 'waiting'
  local member = pool_member(t)
  call('ZADD', P .. 'p:' .. sig, '0', member)
  -- Two members differ within their first 32 characters (the key's hex digits, then the sequence number's), which
  -- any collation orders as bytes.
  if not current or member < head[2] then
    set_head(sig, t.kt, member)
  end
  dirty_task(t)
end

local function dequeue(t)
  local sig = t.pool
  if not sig then
    return
  end
  local key = P .. 'p:' .. sig
  local member = pool_member(t)
  call('ZREM', key, member)
  if head_member(sig) == member then
    local top = call('ZRANGE', key, '0', '0')
    if #top > 0 then
      set_head(sig, string.sub(top[1], 1, 16), top[1])
    else
      call('HDEL', P .. 'ph', sig, '#' .. sig)
      PM[sig] = false
      if req_of(sig).agents then
        for _, suffix in ipairs(t.plan.steps[t.pstep + 1].k) do
          call('SREM', P .. 'pi:' .. suffix, sig)
        end
        listed_pools_changed()
      end
    end
  end
  t.pool = nil
  dirty_task(t)
end

-- A queue's unanswered tasks (q:<queue>) serve both the listings and the statistics' waiting tasks: a set of their
-- creation times as D packs them, each followed by the task id, so that a task costs one SADD when created and one
-- SREM when answered or gone, where a set of ids and a hash of creation times cost two of each. Not a hash (id ->
-- created_at): Redis keeps a hash of up to hash-max-listpack-entries fields (128 by default, 512 in some builds) as
-- one listpack that every HSET and HDEL walks, a queue's few hundred waiting tasks included, and it never does
-- that with a set of strings that are not integers (up to 7.0; 7.2 lists at most 128 of them).
local function leave_queue(t)
  call('SREM', P .. 'q:' .. t.queue, D(t.created_at) .. t.id)
end

local function drop(t)
  dequeue(t)
  leave_queue(t)
  TC[t.id] = false
  TD[t.id] = false
end

local function requirement(t)
  return req_of(t.plan.steps[t.step + 1].g)
end

local function step_at(t)
  local deadlines, count = t.u, #t.plan.steps
  for i = 1, count do
    if not deadlines[i] or NOW < deadlines[i] then
      return i - 1
    end
  end
  return count
end

local function schedule_step(t)
  local due = t.u[t.step + 1]
  if due and not t.exhausted then
    push_timer(due, 'step', t.id, t.step)
  end
end

-- Matching -----------------------------------------------------------------------------------------------------

local reserve, end_offer, apply_activity, feed, place, fallback

local function scan(key, req, excluded, limit)
  local found = {}
  local start, chunk = 0, 16
  while true do
    local members = call('ZRANGE', key, int_text(start), int_text(start + chunk - 1))
    for i = 1, #members do
      local id = string.sub(members[i], 13)
      if not excluded[id] then
        local a = agent(id)
        if qualifies(req, a) then
          found[#found + 1] = a
          if #found >= limit then
            return found
          end
        end
      end
    end
    if #members < chunk then
      return found
    end
    start = start + chunk
    chunk = chunk * 2
  end
end

local function most_preferred(found, preferred)
  if #found == 1 or is_empty(preferred) then
    return found[1]
  end
  local best, best_score = nil, nil
  for _, a in ipairs(found) do
    local s = preference_score(a.skills, preferred)
    if best == nil or s > best_score then
      best, best_score = a, s
    end
  end
  return best
end

local function before(x, y) -- lexicographic comparison of equal-length arrays of numbers
  for i = 1, #x do
    if x[i] ~= y[i] then
      return x[i] < y[i]
    end
  end
  return false
end

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then
      return true
    end
  end
  return false
end

local function best_listed(req, excluded, preferred)
  local channel = req.channel
  local candidates = {}
  for _, id in ipairs(req.agents) do
    local a = agent(id)
    if a and a.entry and not excluded[id] and contains(open_channels(a), channel) and qualifies(req, a) then
      candidates[#candidates + 1] = a
    end
  end
  if #candidates == 0 then
    return nil
  end
  local primary = req.skills[1] and req.skills[1][1] or ''
  local best, best_key = nil, nil
  for _, a in ipairs(candidates) do
    local key
    if STRATEGY == 'longest_idle' then
      key = { a.idle_since, a.order }
    else
      key = { -(a.skills[primary] or 0), -preference_score(a.skills, preferred), a.idle_since, a.order }
    end
    if best == nil or before(key, best_key) then
      best, best_key = a, key
    end
  end
  return best
end

local function find_agent(t)
  sync_index()
  local req = requirement(t)
  local excluded = t.excluded
  local preferred = t.preferred
  if req.agents then
    return best_listed(req, excluded, preferred)
  end
  local st = t.plan.steps[t.step + 1]
  if #req.skills > 0 then
    if call('EXISTS', P .. 'av:' .. st.b .. '*') == 0 then
      return nil -- nobody with the primary skill is free, at any level
    end
    local minimum = req.skills[1][2]
    if STRATEGY == 'longest_idle' then
      local best = nil
      for level = minimum, MAXLEVEL do
        local found = scan(P .. 'av:' .. st.b .. level, req, excluded, 1)
        local a = found[1]
        if a and (best == nil or before({ a.idle_since, a.order }, { best.idle_since, best.order })) then
          best = a
        end
      end
      return best
    end
    local limit = is_empty(preferred) and 1 or LOOKAHEAD
    for level = MAXLEVEL, minimum, -1 do
      local found = scan(P .. 'av:' .. st.b .. level, req, excluded, limit)
      if #found > 0 then
        return most_preferred(found, preferred)
      end
    end
    return nil
  end
  local limit = 1
  if not is_empty(preferred) and STRATEGY == 'best_skill' then
    limit = LOOKAHEAD
  end
  local found = scan(P .. 'av:' .. st.k[1], req, excluded, limit)
  if #found > 0 then
    return most_preferred(found, preferred)
  end
  return nil
end

-- The best task of a pool whose head this agent is excluded from (the rare path: the agent already missed the
-- best tasks there): {priority key, member, task id}, or nil.
local function head_past_exclusions(sig, agent_id)
  local key = P .. 'p:' .. sig
  local start, chunk = 1, 16
  while true do
    local members = call('ZRANGE', key, start, start + chunk - 1)
    for _, member in ipairs(members) do
      if not excluded_from(member, agent_id) then
        return { pool_key(member), member, member_task(member) }
      end
    end
    if #members < chunk then
      return nil
    end
    start = start + chunk
  end
end

-- Which of a facet's pools an agent qualifies for follows from what the facet's shape names (see registered): the
-- agent's levels in its skills, which of its teams it is in and which of its languages it speaks. The facet's
-- groups are a tree with one level per thing named, keyed by the agent's answer (a number or a boolean, never a
-- string: turning numbers into text costs a sprintf each), whose leaves hold the groups' lists.
local function child(node, key)
  local next_node = node[key]
  if next_node == nil then
    next_node = {}
    node[key] = next_node
  end
  return next_node
end

-- The facet's pools that agents of a's kind qualify for, brought up to date by testing, with a, only the pools
-- registered since the list was last looked at. Bounded per facet, like the library's other caches.
local function facet_pools(f, a)
  if f.ngroups >= 1000 then
    f.groups, f.ngroups = {}, 0
  end
  local skills, langs, node = a.skills, a.langs, f.groups
  local named = f.skills
  for i = 1, #named do
    node = child(node, skills[named[i]] or 0)
  end
  node = child(node, a.team and f.teams[a.team] or 0)
  named = f.langs
  for i = 1, #named do
    node = child(node, langs[named[i]] == true)
  end
  local group = node.group
  if group == nil then
    f.ngroups = f.ngroups + 1
    group = { n = 0, sigs = {} }
    node.group = group
  end
  local pools = f.sigs
  if group.n < #pools then
    local sigs = group.sigs
    for i = group.n + 1, #pools do
      if qualifies(req_of(pools[i]), a) then
        sigs[#sigs + 1] = pools[i]
      end
    end
    group.n = #pools
  end
  return group.sigs
end

-- The pools an agent qualifies for on a channel. They change only with the agent's profile or the registry, which
-- only grows, so they are kept on the profile's cached metatable with the registry's size they were listed at, and
-- listed again from its facets' shared lists only after a pool was registered: a complete that hands an agent its
-- next task runs no qualification test in the steady state.
local function qualifying_pools(a, channel)
  local reg = pool_registry()
  local meta = getmetatable(a)
  local cache = meta.pools
  if cache == nil or cache.reg ~= reg then
    cache = { reg = reg }
    meta.pools = cache
  end
  local found = cache[channel]
  if found == nil or found.n < reg.n then
    local sigs = {}
    local facets = a.pk[channel]
    for i = 1, #facets do
      local f = reg.byfacet[facets[i]]
      if f then
        local pools = facet_pools(f, a)
        for j = 1, #pools do
          sigs[#sigs + 1] = pools[j]
        end
      end
    end
    found = { n = reg.n, sigs = sigs }
    cache[channel] = found
  end
  return found.sigs
end

-- A head's key as a number. Decoding it costs more than a table look-up, and a pool's head changes only when its best
-- task leaves, so most of the keys an agent reads were decoded before: Lua strings are interned, and the decoded
-- values are kept by their text (bounded, like the other caches).
local HEAD_KEYS = {}
local function head_key(text)
  local key = HEAD_KEYS[text]
  if key == nil then
    if SIZES.head_keys >= 20000 then
      HEAD_KEYS, SIZES.head_keys = {}, 0
    end
    SIZES.head_keys = SIZES.head_keys + 1
    key = pool_key(text)
    HEAD_KEYS[text] = key
  end
  return key
end

local function best_entry_for(a)
  local channels = open_channels(a)
  local listed = listed_pools(a)
  local sigs
  if #channels == 1 and #listed == 0 then
    -- The common case reads the cached list itself (never changed here) instead of copying it.
    sigs = qualifying_pools(a, channels[1])
  else
    sigs = {}
    for i = 1, #channels do
      local pools = qualifying_pools(a, channels[i])
      for j = 1, #pools do
        sigs[#sigs + 1] = pools[j]
      end
    end
    for _, sig in ipairs(listed) do
      local req = req_of(sig)
      if contains(channels, req.channel) and qualifies(req, a) then
        sigs[#sigs + 1] = sig
      end
    end
  end
  if #sigs == 0 then
    return nil
  end
  local heads = call('HMGET', P .. 'ph', unpack(sigs))
  local scores, low, at, ties = {}, nil, nil, 0
  for i = 1, #heads do
    local value = heads[i]
    if value then
      -- head_key's own look-up, inlined for the common hit: a function call costs about 500 instructions here.
      local score = HEAD_KEYS[value] or head_key(value)
      scores[i] = score
      if low == nil or score < low then
        low, at, ties = score, i, 1
      elseif score == low then
        ties = ties + 1
      end
    end
  end
  if low == nil then
    return nil
  end
  -- The common look: one pool holds the lowest key, and its head does not exclude this agent.
  local member = head_member(sigs[at])
  if ties == 1 and not excluded_from(member, a.id) then
    return { low, member, member_task(member) }
  end
  -- Only a pool whose head's key is at most the best found so far can hold the winner: take the pools with the
  -- lowest head key, read their members (ties are broken by member, and a head this agent was excluded from gives
  -- way to the pool's best entry past the exclusions, whose key may be higher), and repeat while any untried pool
  -- could still beat the best. The pass that takes the lowest keys also finds the next lowest.
  local best = nil
  while low ~= nil and (best == nil or low <= best[1]) do
    local after = nil
    for i, score in pairs(scores) do
      if score == low then
        scores[i] = nil
        member = head_member(sigs[i])
        local h
        if excluded_from(member, a.id) then
          h = head_past_exclusions(sigs[i], a.id)
        else
          h = { score, member, member_task(member) }
        end
        if h and (best == nil or h[1] < best[1] or (h[1] == best[1] and h[2] < best[2])) then
          best = h
        end
      elseif after == nil or score < after then
        after = score
      end
    end
    low = after
  end
  return best
end

reserve = function(t, a)
  dequeue(t)
  local seq = next_seq()
  local timeout = t.rt or RT
  local r = {
    id = fmt('R%d', seq),
    task_id = t.id,
    agent_id = a.id,
    queue = t.queue,
    channel = t.channel,
    offered_at = NOW,
    expires_at = NOW + timeout,
  }
  RC[r.id] = r
  RD[r.id] = r
  t.status = 'reserved'
  t.reservation = r.id
  t.agent_id = a.id
  t.agent_order = a.order
  dirty_task(t)
  unindex_agent(a)
  a.load[t.channel] = (a.load[t.channel] or 0) + 1
  a.total_load = a.total_load + 1
  a.idle_since = NOW
  a.reservations[#a.reservations + 1] = r.id
  dirty_agent(a)
  ev_reserved(t, a, r)
  refresh_activity(a, 'offer')
  index_agent(a)
  push_timer(r.expires_at, 'offer', r.id, 0)
end

place = function(t)
  local a = find_agent(t)
  if a then
    reserve(t, a)
  end
end

feed = function(a)
  while a.entry do
    local best = best_entry_for(a)
    if best == nil then
      return
    end
    reserve(task(best[3]), a)
  end
end

fallback = function(t, reason)
  local action = #t.plan.steps > 0 and t.plan.f or 'voicemail'
  if action ~= 'queue' and t.status == 'reserved' then
    t.fallback_due = true
    dirty_task(t)
    return
  end
  ev_fallback(t, action, reason)
  if action ~= 'queue' then
    drop(t)
  elseif reason == 'timeout' then
    t.exhausted = true
    dirty_task(t)
  end
end

end_offer = function(r, event, exclude, miss)
  RC[r.id] = false
  RD[r.id] = false
  emit(event)
  local t = task(r.task_id)
  t.status = 'waiting'
  t.reservation = nil
  t.agent_id = nil
  if exclude then
    t.excluded[r.agent_id] = true
  end
  dirty_task(t)
  local a = agent(r.agent_id)
  if a then
    remove_value(a.reservations, r.id)
    unindex_agent(a)
    release(a, r.channel)
    if miss then
      a.misses = a.misses + 1
    end
    refresh_activity(a, 'offer_ended')
    index_agent(a)
  end
  if t.fallback_due then
    fallback(t, 'timeout')
  else
    enqueue(t)
    place(t)
  end
  if a == nil or not ROUTABLE[a.activity] then
    return
  end
  if miss and MAXMISS > 0 and a.misses >= MAXMISS then
    apply_activity(a, 'away', 'missed_offers')
  else
    feed(a)
  end
end

apply_activity = function(a, activity, reason)
  unindex_agent(a)
  release_wrap_up(a)
  if activity == 'available' then
    a.misses = 0
    a.idle_since = NOW
    change(a, a.total_load > 0 and 'busy' or 'available', reason)
    index_agent(a)
    feed(a)
    return
  end
  change(a, activity, reason)
  -- Offers still ringing for an agent who left go straight to someone else, without blame.
  local ringing = {}
  for i, rid in ipairs(a.reservations) do
    ringing[i] = rid
  end
  for _, rid in ipairs(ringing) do
    local r = res(rid)
    end_offer(r, ev_rejected(r, 'agent_unavailable'), false, false)
  end
end

local function next_step(t)
  local steps = t.plan.steps
  if t.step + 1 >= #steps then
    fallback(t, 'timeout')
    return
  end
  t.step = t.step + 1
  dirty_task(t)
  ev_step(t, steps[t.step + 1].n)
  schedule_step(t)
  if t.status == 'waiting' then
    dequeue(t)
    enqueue(t)
    place(t)
  end
end

local function open_reservation(rid, agent_id)
  local r = res(rid)
  if r == nil then
    return nil, { 'err', 'gone', '' }
  end
  if r.agent_id ~= agent_id then
    return nil, { 'err', 'not_yours', '' }
  end
  if NOW >= r.expires_at then
    return nil, { 'err', 'expired', F(r.expires_at) }
  end
  return r, nil
end

-- The record a live timer is about, or nil when the timer is stale.
local function timer_record(kind, token, ref)
  if kind == OFFER then
    return res(ref)
  elseif kind == STEP then
    -- An answered task has left its workflow: its step deadlines no longer mean anything.
    local t = task(ref)
    if t and int_text(t.step) == token and t.status ~= 'assigned' then
      return t
    end
    return nil
  end
  local a = agent(ref)
  if a and a.activity == 'wrap_up' and fmt('%d', a.wrap_token) == token then
    return a
  end
  return nil
end

local function done()
  if #EV == 0 then
    return OK_ONLY
  end
  return EV
end

-- Operations ---------------------------------------------------------------------------------------------------

local OPS = {}

-- ARGV[4] JSON: id, activity, skills, langs, team, cap, call_blocks and the key suffixes bk, pk, gk, rk;
-- ARGV[5] the profile as agent_to_dict gave it, returned as is by get_agent.
OPS.upsert_agent = function()
  local s = cjson.decode(ARGV[4])
  local wanted = s.activity
  if wanted == 'busy' or wanted == 'wrap_up' then
    wanted = 'available'
  end
  local langs = {}
  for _, lang in ipairs(s.langs) do
    langs[lang] = true
  end
  local profile = { skills = s.skills, langs = langs, cap = s.cap, call_blocks = s.call_blocks, bk = s.bk,
    pk = s.pk, gk = s.gk, rk = s.rk }
  if s.team ~= NULL then
    profile.team = s.team
  end
  local a = agent(s.id)
  if a == nil then
    local order = tonumber(call('INCR', P .. 'order'))
    a = {
      id = s.id,
      order = order,
      activity = 'offline',
      load = {},
      total_load = 0,
      idle_since = NOW,
      misses = 0,
      entry = false,
      ich = {},
      reservations = {},
      wrap_slots = {},
      wrap_token = 0,
      wrap_until = 0,
    }
    AC[s.id] = a
  else
    unindex_agent(a)
    sync_index()
    roster_remove(a)
  end
  a.pv = next_version(P .. 'apv')
  call('SET', P .. 'ap:' .. s.id, cmsgpack.pack(profile))
  call('SET', P .. 'aj:' .. s.id, ARGV[5])
  setmetatable(a, install_profile(s.id, a.pv, profile))
  dirty_agent(a)
  roster_add(a)
  index_agent(a)
  local already_working = wanted == 'available' and a.activity ~= 'away' and a.activity ~= 'offline'
  if wanted ~= a.activity and not already_working then
    apply_activity(a, wanted, 'requested')
  else
    feed(a)
  end
  return done()
end

OPS.remove_agent = function()
  read_first({ 'a:', ARGV[4] })
  local a = agent(ARGV[4])
  if a == nil then
    return { 'err', 'unknown_agent', '' }
  end
  if a.activity ~= 'offline' then
    apply_activity(a, 'offline', 'removed')
  end
  unindex_agent(a)
  roster_remove(a)
  AC[a.id] = false
  AD[a.id] = false
  return done()
end

OPS.set_activity = function()
  read_first({ 'a:', ARGV[4] })
  local a = agent(ARGV[4])
  local activity = ARGV[5]
  if a == nil then
    return { 'err', 'unknown_agent', '' }
  end
  if activity == 'available' and ROUTABLE[a.activity] then
    return done()
  end
  if activity == a.activity then
    return done()
  end
  apply_activity(a, activity, 'requested')
  return done()
end

-- ARGV[4] task id, [5] queue, [6] channel, [7] created_at, [8] value, [9] priority key (16 hex digits, see
-- pool_member), [10] task JSON, [11] plan JSON {f, rt?, s: [{n, g, k, b?}]}, [12] preferred skills JSON, [13] the
-- steps' deadlines "<until>|<until>|..." (empty: none).
OPS.submit = function()
  local id = ARGV[4]
  read_first({ 't:', id })
  if TC[id] then
    return { 'err', 'duplicate', '' }
  end
  local pid, plan = plan_of_text(ARGV[11])
  local steps = plan.steps
  local deadlines = {}
  for part in string.gmatch(ARGV[13] .. '|', '([^|]*)|') do
    deadlines[#deadlines + 1] = tonumber(part) or false
  end
  local t = setmetatable({
    id = id,
    queue = ARGV[5],
    channel = ARGV[6],
    created_at = tonumber(ARGV[7]),
    value = tonumber(ARGV[8]),
    key = pool_key(ARGV[9]),
    kt = ARGV[9], -- the key as its pool members' 16 hex digits (see pool_member)
    rt = plan.rt,
    pid = pid,
    u = deadlines,
    pt = ARGV[12],
    fixed = cmsgpack.pack(ARGV[11], ARGV[10]), -- written by flush() with the live record
    plan = plan,
    preferred = preferred_of(ARGV[12]),
    step = 0,
    status = 'waiting',
    seq = 0,
    excluded = {},
  }, TASK_META)
  local serviceable = false
  for _, st in ipairs(steps) do
    if could_serve(st.g) then
      serviceable = true
      break
    end
  end
  local at = step_at(t)
  local step = math.min(at, math.max(#steps - 1, 0))
  local step_name = steps[step + 1] and steps[step + 1].n or ''
  ev_created(t, step_name, not serviceable)
  t.step = step
  if not serviceable then
    t.unserviceable = true
  end
  TC[id] = t
  dirty_task(t)
  if not serviceable then
    fallback(t, 'unserviceable')
    if not TC[id] then
      return done()
    end
  elseif at >= #steps then
    -- Created so long ago that every step has already timed out.
    fallback(t, 'timeout')
    if not TC[id] then
      return done()
    end
  end
  enqueue(t)
  schedule_step(t)
  place(t)
  return done()
end

OPS.accept = function()
  local rid, agent_id = ARGV[4], ARGV[5]
  read_first({ 'r:', rid, 'a:', agent_id })
  local r, err = open_reservation(rid, agent_id)
  if err then
    return err
  end
  RC[rid] = false
  RD[rid] = false
  call('ZREM', P .. 'timers', offer_timer(rid))
  local t = task(r.task_id)
  t.status = 'assigned'
  t.reservation = nil
  t.accepted_at = NOW
  dirty_task(t)
  leave_queue(t)
  local a = agent(agent_id)
  if a then
    remove_value(a.reservations, rid)
    a.misses = 0
    dirty_agent(a)
  end
  ev_accepted(t, agent_id, rid)
  return done()
end

OPS.reject = function()
  local rid, agent_id = ARGV[4], ARGV[5]
  read_first({ 'r:', rid, 'a:', agent_id })
  local r, err = open_reservation(rid, agent_id)
  if err then
    return err
  end
  end_offer(r, ev_rejected(r, 'rejected'), true, COUNTREJ)
  return done()
end

OPS.complete = function()
  local id, wrap_up = ARGV[4], tonumber(ARGV[5])
  read_first({ 't:', id })
  local t = task(id)
  if t == nil then
    return { 'err', 'unknown_task', '' }
  end
  if t.status ~= 'assigned' then
    return { 'err', 'not_assigned', t.status }
  end
  TC[id] = false
  TD[id] = false
  local agent_id = t.agent_id or ''
  ev_completed(t, agent_id, NOW - t.accepted_at + wrap_up, wrap_up)
  local a = agent(agent_id)
  -- An agent removed while assigned and added again under the same id is a new agent: nothing to release.
  if a == nil or a.order ~= t.agent_order then
    return done()
  end
  if wrap_up > 0 and (ROUTABLE[a.activity] or a.activity == 'wrap_up') then
    unindex_agent(a)
    a.wrap_slots[#a.wrap_slots + 1] = t.channel
    a.wrap_until = math.max(a.wrap_until, NOW + wrap_up)
    a.wrap_token = next_seq()
    dirty_agent(a)
    push_timer(a.wrap_until, 'wrap', a.id, a.wrap_token)
    if a.activity ~= 'wrap_up' then
      change(a, 'wrap_up', 'wrap_up')
    end
    return done()
  end
  unindex_agent(a)
  release(a, t.channel)
  a.idle_since = NOW
  refresh_activity(a, 'task_completed')
  index_agent(a)
  feed(a)
  return done()
end

OPS.abandon = function()
  local id = ARGV[4]
  read_first({ 't:', id })
  local t = task(id)
  if t == nil then
    return { 'err', 'unknown_task', '' }
  end
  if t.status == 'assigned' then
    return { 'err', 'assigned', '' }
  end
  ev_abandoned(t)
  drop(t)
  local rid = t.reservation
  if rid then
    local r = res(rid)
    RC[rid] = false
    RD[rid] = false
    local a = agent(r.agent_id)
    if a then
      remove_value(a.reservations, rid)
      unindex_agent(a)
      release(a, r.channel)
      refresh_activity(a, 'offer_withdrawn')
      index_agent(a)
      feed(a)
    end
  end
  return done()
end

local TIMER_RECORD = { [OFFER] = 'r:', [STEP] = 't:', [WRAP] = 'a:' }
local TIMER_BATCH = 256

local function fire(kind, token, ref)
  local record = timer_record(kind, token, ref)
  if record == nil then
    return
  end
  if kind == OFFER then
    end_offer(record, ev_timed_out(record), true, true)
  elseif kind == STEP then
    next_step(record)
  else
    apply_activity(record, 'available', 'wrap_up_ended')
  end
end

-- Due timers are read and removed in batches, in their order: one ZRANGEBYSCORE, their records with one MGET, one
-- ZREM for the fired ones, instead of a ZRANGE, a ZREM and a GET per timer. A fired timer may set another that is
-- already due (a workflow step whose time has passed) and may come before the rest of the batch: the batch then
-- stops there and the timers are read again. A batch shorter than its limit that set none leaves nothing due.
OPS.tick = function()
  local key = P .. 'timers'
  while true do
    local due = call('ZRANGEBYSCORE', key, '-inf', F(NOW), 'LIMIT', '0', int_text(TIMER_BATCH))
    if #due == 0 then
      break
    end
    local records, kinds, tokens = {}, {}, {}
    for i, member in ipairs(due) do
      local kind, token, ref = parse_timer(member)
      kinds[i], tokens[i] = kind, token
      records[2 * i - 1], records[2 * i] = TIMER_RECORD[kind], ref
    end
    read_first(records)
    local fired = #due
    DUE_PUSHED = false
    for i = 1, #due do
      fire(kinds[i], tokens[i], records[2 * i])
      if DUE_PUSHED then
        fired = i
        break
      end
    end
    call('ZREM', key, unpack(due, 1, fired))
    send_timers()
    if not DUE_PUSHED and #due < TIMER_BATCH then
      break
    end
  end
  return done()
end

-- Reads --------------------------------------------------------------------------------------------------------

OPS.next_due = function()
  local key = P .. 'timers'
  while true do
    local top = call('ZRANGE', key, '0', '0', 'WITHSCORES')
    if #top == 0 then
      return { 'ok', 'null' }
    end
    if timer_record(parse_timer(top[1])) then
      return { 'ok', top[2] }
    end
    call('ZREM', key, top[1])
  end
end

-- The other reads, and the JSON output only they use, live in a block of their own: Lua 5.1 allows a function
-- (this chunk included) at most 200 local variables, and the decisions' helpers above need most of them.
do
  local ESC = {
    ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
  }
  local function q(s)
    if not string.find(s, '[%c"\\]') then
      return '"' .. s .. '"'
    end
    local escaped = string.gsub(s, '[%c"\\]', function(c)
      return ESC[c] or fmt('\\u%04x', string.byte(c))
    end)
    return '"' .. escaped .. '"'
  end
  local function n(x)
    if x == NOW and NOW_N ~= nil then
      return NOW_N
    end
    local s = F(x)
    if not string.find(s, '[%.eEn]') then
      s = s .. '.0'
    end
    if x == NOW then
      NOW_N = s
    end
    return s
  end
  local function qn(s) -- optional string
    if s == nil then
      return 'null'
    end
    return q(s)
  end
  local function int_map(map)
    local parts = {}
    for k, v in pairs(map) do
      if v ~= 0 then
        parts[#parts + 1] = q(k) .. ':' .. fmt('%d', v)
      end
    end
    return '{' .. table.concat(parts, ',') .. '}'
  end

  local function reservation_json(r)
    return '{"id":' .. q(r.id) .. ',"task_id":' .. q(r.task_id) .. ',"agent_id":' .. q(r.agent_id) .. ',"queue":'
      .. q(r.queue) .. ',"channel":' .. q(r.channel) .. ',"offered_at":' .. n(r.offered_at) .. ',"expires_at":'
      .. n(r.expires_at) .. '}'
  end

  local function step_name(t)
    local st = t.plan.steps[t.step + 1]
    return st and st.n or ''
  end

  OPS.get_task = function()
    local t = task(ARGV[4])
    if t == nil then
      return { 'ok', 'null' }
    end
    local reservation = 'null'
    if t.reservation then
      reservation = reservation_json(res(t.reservation))
    end
    return { 'ok', '{"task":' .. t.tj .. ',"status":' .. q(t.status) .. ',"step_index":' .. fmt('%d', t.step)
      .. ',"step":' .. q(step_name(t)) .. ',"priority_key":' .. n(t.key) .. ',"unserviceable":'
      .. (t.unserviceable and 'true' or 'false') .. ',"reservation":' .. reservation .. ',"agent_id":'
      .. qn(t.agent_id) .. '}' }
  end

  OPS.get_agent = function()
    local a = agent(ARGV[4])
    if a == nil then
      return { 'ok', 'null' }
    end
    return { 'ok', '{"profile":' .. call('GET', P .. 'aj:' .. a.id) .. ',"activity":' .. q(a.activity) .. ',"load":'
      .. int_map(a.load) .. ',"idle_since":' .. n(a.idle_since) .. ',"consecutive_misses":' .. fmt('%d', a.misses)
      .. '}' }
  end

  OPS.agent_reservations = function()
    local a = agent(ARGV[4])
    local parts = {}
    if a then
      for _, rid in ipairs(a.reservations) do
        parts[#parts + 1] = reservation_json(res(rid))
      end
    end
    return { 'ok', '[' .. table.concat(parts, ',') .. ']' }
  end

  local function queue_listing(queue)
    local parts = {}
    for _, member in ipairs(call('SMEMBERS', P .. 'q:' .. queue)) do
      local id = string.sub(member, 9)
      local t = task(id)
      parts[#parts + 1] = '[' .. q(id) .. ',' .. q(t.status) .. ',' .. n(t.key) .. ',' .. n(t.created_at) .. ','
        .. q(step_name(t)) .. ']'
    end
    return '[' .. table.concat(parts, ',') .. ']'
  end

  OPS.waiting = function()
    return { 'ok', queue_listing(ARGV[4]) }
  end

  OPS.position = function()
    local t = task(ARGV[4])
    if t == nil or t.status == 'assigned' then
      return { 'ok', 'null' }
    end
    return { 'ok', '{"queue":' .. q(t.queue) .. ',"tasks":' .. queue_listing(t.queue) .. '}' }
  end

  -- Outcomes newest first, those of the window the ledger still keeps: within the retention of the newest one, as
  -- trimming at every record would have left them (see stat_push): the very same records, unless records came out of
  -- time order and the window reaches back past the retention of the latest.
  OPS.queue_stats = function()
    local queue, start = ARGV[4], tonumber(ARGV[5])
    local waiting = call('SMEMBERS', P .. 'q:' .. queue)
    local key = P .. 'so:' .. queue
    local outcomes = {}
    local stop, chunk = -1, 64
    while true do
      local batch = call('LRANGE', key, stop - chunk + 1, stop)
      for i = #batch, 1, -1 do
        local at = struct.unpack('<d', batch[i])
        if #outcomes == 0 then
          start = math.max(start, at - RETENTION)
        end
        if at < start then
          return { 'ok', waiting, outcomes }
        end
        outcomes[#outcomes + 1] = batch[i]
      end
      if #batch < chunk then
        return { 'ok', waiting, outcomes }
      end
      stop = stop - chunk
      chunk = chunk * 2
    end
  end

  OPS.agent_stats = function()
    local out = {}
    for i, id in ipairs(call('LRANGE', P .. 'sao', 0, -1)) do
      out[i] = call('LRANGE', P .. 'sh:' .. id, 0, -1)
    end
    return { 'ok', out }
  end

  OPS.ping = function()
    return { 'ok', '[]' }
  end
end

-- The one entry point: FCALL <name> 1 <prefix> <op> <now> <settings> <args...>.
local function main(keys, args)
  begin(keys, args)
  local op = OPS[OP]
  if op == nil then
    return { 'err', 'unknown_operation', OP }
  end
  local reply = op()
  sync_index()
  send_timers()
  flush()
  return reply
end

redis.register_function(FUNCTION_NAME, main)
