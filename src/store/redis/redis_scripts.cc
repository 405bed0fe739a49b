#include "store/redis/redis_scripts.h"

#include <array>
#include <initializer_list>
#include <utility>

namespace lynx::store::redis {

namespace {

constexpr size_t kScriptCount = static_cast<size_t>(ScriptId::kCount);

// Helpers shared by every script. Times arrive as ready-made RFC 3339 text and zset scores as
// decimal text (both formatted in C++), so the scripts never do time arithmetic.
constexpr const char* kPrelude = R"lua(
local P = ARGV[1]
local DATA_TTL = tonumber(ARGV[2])
local FIN_TTL = tonumber(ARGV[3])
local U, ALL, F, ID = P .. '_u', P .. '_all', P .. '_f', P .. '_id'

local function gkey(gid) return P .. '_g_' .. gid end
local function bkey(gid) return P .. '_b_' .. gid end
local function skey(gid) return P .. '_s_' .. gid end
local function akey(gid) return P .. '_a_' .. gid end
local function kvkey(cat, k) return P .. '_kv_' .. cat .. '_' .. k end
local function kvcat(cat) return P .. '_kvc_' .. cat end
local function finished(s) return s == 'succeed' or s == 'failed' end
local function text(v) if type(v) == 'string' then return v end return '' end

-- cjson writes integers of 1e14 and above in exponent form (precision 14 at most), and so does
-- Lua's tostring when a number is passed to redis.call: ids and versions always go through this.
local function int(n) return string.format('%d', n) end

-- Re-encodes a decoded DTM object. The top level is written here so its integers stay exact;
-- cjson encodes the nested values (branch_headers, steps). An empty steps/payloads array would
-- come back as {} from cjson, which Go cannot decode into a slice: dropped, as Go's omitempty
-- does anyway.
local function encode_by_member(t)
  local parts = {}
  for k, v in pairs(t) do
    local value
    if type(v) == 'number' and v == math.floor(v) and math.abs(v) < 2^53 then
      value = int(v)
    elseif not (type(v) == 'table' and next(v) == nil and (k == 'steps' or k == 'payloads')) then
      value = cjson.encode(v)
    end
    if value then parts[#parts + 1] = cjson.encode(k) .. ':' .. value end
  end
  -- cjson escapes every '/' as '\/' (so a backslash before '/' is always that escape); Go does
  -- not. Undone to keep the text as DTM would write it.
  return (string.gsub('{' .. table.concat(parts, ',') .. '}', '\\/', '/'))
end

-- The same text through one cjson.encode call when nothing needs the member-by-member way (no
-- number of 1e14 or more, no empty steps/payloads): encode_by_member was a fifth of the Lua
-- time of a status change.
local function encode(t)
  for k, v in pairs(t) do
    if (type(v) == 'number' and math.abs(v) >= 1e14) or
        (type(v) == 'table' and next(v) == nil and (k == 'steps' or k == 'payloads')) then
      return encode_by_member(t)
    end
  end
  local json = cjson.encode(t)
  if string.find(json, '\\/', 1, true) then json = string.gsub(json, '\\/', '/') end
  return json
end

-- The text of member `name` (given as '"name":"') when it is a string without escapes, else nil.
-- A plain find, not a pattern: Lua's pattern matcher tried every position of the row and was the
-- largest part of a branch write's Lua time. A quote inside a JSON string is always escaped, so
-- '"name":"' cannot match inside a value.
local function plain_member(raw, name)
  local _, last = string.find(raw, name, 1, true)
  if last == nil then return nil end
  local close = string.find(raw, '"', last + 1, true)
  if close == nil then return nil end
  local v = string.sub(raw, last + 1, close - 1)
  if string.find(v, '\\', 1, true) then return nil end
  return v
end

-- Bodies come from C++ without their id: "}" or ",<members>}".
local function with_id(id, body) return '{"id":' .. int(id) .. body end

-- omitempty: an empty string removes the member.
local function put(t, k, v) if v == '' then t[k] = nil else t[k] = v end end
-- create_time / update_time have no omitempty: no time is null.
local function stamp(v) if v == '' then return cjson.null end return v end

-- SET with the key's new TTL in the same command (0: none; a plain SET drops an old TTL): every
-- write command of a script is also an AOF / replica entry, so one command instead of two.
local function set_ttl(key, value, secs)
  if secs > 0 then return redis.call('SET', key, value, 'EX', secs) end
  return redis.call('SET', key, value)
end
local function expire(keys, secs)
  for _, k in ipairs(keys) do
    if secs > 0 then redis.call('EXPIRE', k, secs) else redis.call('PERSIST', k) end
  end
end

)lua";

// DTM's layout: the global's JSON in P_g, its status in P_s, the branches' JSON in the list P_b.
constexpr const char* kDtmLayout = R"lua(
local function trans_keys(gid) return {gkey(gid), bkey(gid), skey(gid)} end
-- The key of the branches when they are not in the global's own key.
local function branches_key(gid) return bkey(gid) end

-- The status (the compare-and-set token), or false when either key is missing.
local function status_of(gid)
  local st = redis.call('GET', skey(gid))
  if st == false or redis.call('EXISTS', gkey(gid)) == 0 then return false end
  return st
end

-- The decoded global and its status, or nil when either key is missing (absent or expired).
local function load(gid)
  local raw = redis.call('GET', gkey(gid))
  local st = redis.call('GET', skey(gid))
  if raw == false or st == false then return nil, nil end
  return cjson.decode(raw), st
end

local function save(gid, g)
  local json = encode(g)
  redis.call('SET', gkey(gid), json, 'KEEPTTL')
  return json
end
)lua";

// The compact layout (RedisOptions::layout): a transaction is one hash — field 'j' holds the
// global's JSON as created, one field per member that changes later (they win over j's), and
// per branch row its JSON (field 'r<len>:<branch_id><op>') and its later status and times
// ('s<len>:...'). No write decodes or re-encodes JSON, and one key means one EXPIRE per write.
constexpr const char* kCompactLayout = R"lua(
local function trans_keys(gid) return {gkey(gid)} end
local function branches_key(gid) return nil end
local function status_of(gid) return redis.call('HGET', gkey(gid), 'status') end

-- The members a write may change after creation, each kept as a field of the global's hash
-- ('' = absent, as omitempty; next_cron_interval as integer text). The same list as
-- CompactGlobalFields in redis_codec.cc, which reads them.
local MUTABLE = {'status', 'update_time', 'finish_time', 'rollback_time', 'rollback_reason',
                 'result', 'next_cron_time', 'next_cron_interval', 'owner'}

-- HMGET, not HGETALL: the hash also holds every branch row.
local function load(gid)
  local v = redis.call('HMGET', gkey(gid), 'j', unpack(MUTABLE))
  if not v[1] or not v[2] then return nil, nil end
  local g = cjson.decode(v[1])
  for i, k in ipairs(MUTABLE) do
    local x = v[i + 1]
    if x == '' then
      g[k] = nil
    elseif x and k == 'next_cron_interval' then
      g[k] = tonumber(x)
    elseif x then
      g[k] = x
    end
  end
  return g, v[2]
end

-- Writes the changeable members back; returns the whole global as JSON (LockOneGlobalTrans's
-- reply).
local function save(gid, g)
  local f = {}
  for _, k in ipairs(MUTABLE) do
    local v = g[k]
    if type(v) == 'number' then v = int(v) elseif type(v) ~= 'string' then v = '' end
    f[#f + 1] = k
    f[#f + 1] = v
  end
  redis.call('HSET', gkey(gid), unpack(f))
  return encode(g)
end

-- HSET of field/value pairs, 500 pairs per command (a saga may have thousands of rows).
local function hset_all(key, f)
  for from = 1, #f, 1000 do redis.call('HSET', key, unpack(f, from, math.min(#f, from + 999))) end
end
)lua";

// Shared by both layouts, after the layout's functions.
constexpr const char* kPreludeEnd = R"lua(
-- After a write: an unfinished transaction gets DataExpire again on all three keys (DTM renews
-- some of them per operation; renewing all makes them expire together). A finished one keeps
-- its FinishedDataExpire countdown, which a branch list created just now must share.
local function refresh(gid, status)
  local b = branches_key(gid)
  if not finished(status) then
    -- Renewed once half of DataExpire has run out, not on every write: three EXPIREs per write
    -- were a visible share of Redis' CPU per transaction (and of the AOF).
    -- A branch list created by this write has no TTL yet and always gets one.
    if DATA_TTL > 0 and redis.call('TTL', gkey(gid)) > DATA_TTL / 2 and
        (b == nil or redis.call('TTL', b) ~= -1) then
      return
    end
    return expire(trans_keys(gid), DATA_TTL)
  end
  if b == nil then return end
  local left = redis.call('PTTL', gkey(gid))
  if left > 0 then redis.call('PEXPIRE', b, left) end
end

-- A global written by DTM has id 0 and is in none of dtmd's own indexes: number and list it.
local function adopt(gid, g)
  if (tonumber(g.id) or 0) == 0 then
    g.id = redis.call('INCR', ID)
    redis.call('ZADD', ALL, int(g.id), gid)
  end
end
)lua";

// Lists a new transaction in the indexes (both layouts' MaySaveNewTrans): ARGV[7] its cron
// score, [8] its finish time in ms (the P_f score when it is stored finished).
constexpr const char* kIndexNewFn = R"lua(
local function index_new(gid, id, status)
  redis.call('ZADD', ALL, int(id), gid)
  if finished(status) then
    redis.call('ZREM', U, gid)
    redis.call('ZADD', F, ARGV[8], gid)
  else
    redis.call('ZADD', U, ARGV[7], gid)
    redis.call('ZREM', F, gid)
  end
end
)lua";

// ARGV[4] gid, [5] status, [6] global body, [7] cron score, [8] finish ms (P_f score when the
// transaction is stored finished), [9...] branch bodies. Returns the global's id; the branches
// get the ids that follow it.
constexpr const char* kSaveNew = R"lua(
local gid, status = ARGV[4], ARGV[5]
if redis.call('EXISTS', gkey(gid)) == 1 then return 'UNIQUE_CONFLICT' end
local n = #ARGV - 8
local id = redis.call('INCRBY', ID, n + 1) - n
local ttl = DATA_TTL
if finished(status) then ttl = FIN_TTL end
set_ttl(gkey(gid), with_id(id, ARGV[6]), ttl)
set_ttl(skey(gid), status, ttl)
-- A list can outlive its global (DTM renews only the list's TTL when it adds branches).
redis.call('DEL', bkey(gid))
if n > 0 then
  -- One RPUSH per 500 rows rather than one per row.
  local rows = {}
  for k = 1, n do rows[k] = with_id(id + k, ARGV[8 + k]) end
  for from = 1, n, 500 do
    redis.call('RPUSH', bkey(gid), unpack(rows, from, math.min(n, from + 499)))
  end
  if ttl > 0 then redis.call('EXPIRE', bkey(gid), ttl) end
end
index_new(gid, id, status)
return id
)lua";

// save_branches(gid, expected status, append, first, keep_ttl): the rows are ARGV[first...]
// (keep_ttl: the TTLs are left to a status change in the same script), 7 per row:
// branch_id, op, body, status, update_time, finish_time, rollback_time ('' = none).
// Append rejects a (branch_id, op) found anywhere in the list (DTM checks only the first new
// row) before writing anything. Upsert replaces status and times of the row with that key.
constexpr const char* kSaveBranchesFn = R"lua(
local function save_branches(gid, expected, append, first, keep_ttl)
  if status_of(gid) ~= expected then return 'NOT_FOUND' end
  local b = bkey(gid)
  -- A row's (branch_id, op) read from its text, not by decoding it: cjson.decode of every row on
  -- every branch write was the largest share of Redis' CPU per saga. A value with an escape in it,
  -- or an omitted (empty) member, takes the exact way.
  local function row_key(raw)
    local id = plain_member(raw, '"branch_id":"')
    local op = plain_member(raw, '"op":"')
    if id == nil or op == nil then
      local c = cjson.decode(raw)
      return text(c.branch_id) .. '\0' .. text(c.op)
    end
    return id .. '\0' .. op
  end
  local at = {}
  for i, raw in ipairs(redis.call('LRANGE', b, 0, -1)) do
    at[row_key(raw)] = i - 1
  end
  if append then
    for r = first, #ARGV, 7 do
      if at[ARGV[r] .. '\0' .. ARGV[r + 1]] ~= nil then return 'UNIQUE_CONFLICT' end
    end
  end
  for r = first, #ARGV, 7 do
    local key = ARGV[r] .. '\0' .. ARGV[r + 1]
    local i = at[key]
    if i == nil then
      at[key] = redis.call('RPUSH', b, with_id(redis.call('INCR', ID), ARGV[r + 2])) - 1
    else
      local c = cjson.decode(redis.call('LINDEX', b, i))
      put(c, 'status', ARGV[r + 3])
      c.update_time = stamp(ARGV[r + 4])
      put(c, 'finish_time', ARGV[r + 5])
      put(c, 'rollback_time', ARGV[r + 6])
      redis.call('LSET', b, i, encode(c))
    end
  end
  if not keep_ttl then refresh(gid, expected) end
  return 'OK'
end
)lua";

// change_status(gid, old status, a, checked): ARGV[a] new status, [a+1] now (time text), [a+2]
// now ms, [a+3] '1' when [a+4] is a rollback_reason to write, [a+5] '1' when [a+6] is a result
// to write. `checked`: the caller's script has just read the status and found `old` (the
// compact layout then skips reading it again; DTM's layout loads the global anyway).
constexpr const char* kChangeStatusFn = R"lua(
local function change_status(gid, old, a, checked)
  local new, now = ARGV[a], ARGV[a + 1]
  local g, st = load(gid)
  if g == nil or st ~= old then return 'NOT_FOUND' end
  g.status = new
  g.update_time = stamp(now)
  if new == 'succeed' then put(g, 'finish_time', now) end
  if new == 'failed' then put(g, 'rollback_time', now) end
  if ARGV[a + 3] == '1' then put(g, 'rollback_reason', ARGV[a + 4]) end
  if ARGV[a + 5] == '1' then put(g, 'result', ARGV[a + 6]) end
  adopt(gid, g)
  if finished(new) then
    -- The FinishedDataExpire countdown starts now, set with the values themselves.
    set_ttl(gkey(gid), encode(g), FIN_TTL)
    set_ttl(skey(gid), new, FIN_TTL)
    if FIN_TTL > 0 then redis.call('EXPIRE', bkey(gid), FIN_TTL) else redis.call('PERSIST', bkey(gid)) end
    redis.call('ZREM', U, gid)
    redis.call('ZADD', F, ARGV[a + 2], gid)
  else
    save(gid, g)
    redis.call('SET', skey(gid), new, 'KEEPTTL')
    refresh(gid, new)
  end
  return 'OK'
end
)lua";

// The bodies of the three scripts built on those two functions (in either layout).
// ARGV[4] gid, [5] expected status, [6] '1' append / '0' upsert, [7...] rows.
constexpr const char* kSaveBranches = R"lua(
return save_branches(ARGV[4], ARGV[5], ARGV[6] == '1', 7)
)lua";
// ARGV[4] gid, [5] old status, [6...12] the change.
constexpr const char* kChangeStatus = R"lua(
return change_status(ARGV[4], ARGV[5], 6)
)lua";
// A pass's last branch results and the status change they lead to, both or neither:
// ARGV[4] gid, [5] old status, [6...12] the change, [13...] rows (upserted).
constexpr const char* kSaveBranchesChangeStatus = R"lua(
-- `pending`: the compact layout's functions add their fields to it and change_status writes
-- them in one HSET; DTM's layout's functions write as they go and ignore it.
local pending = {}
local saved = save_branches(ARGV[4], ARGV[5], false, 13, true, pending)
if saved ~= 'OK' then return saved end
return change_status(ARGV[4], ARGV[5], 6, true, pending)
)lua";

// ARGV[4] gid, [5] expected status, [6] interval (s), [7] next_cron_time text, [8] its score,
// [9] now text, [10] now ms.
constexpr const char* kTouchCron = R"lua(
local gid = ARGV[4]
local g, st = load(gid)
if g == nil or st ~= ARGV[5] then return 'NOT_FOUND' end
local interval = tonumber(ARGV[6])
if interval == 0 then g.next_cron_interval = nil else g.next_cron_interval = interval end
g.next_cron_time = ARGV[7]
g.update_time = stamp(ARGV[9])
adopt(gid, g)
save(gid, g)
if finished(st) then
  redis.call('ZADD', F, 'XX', ARGV[10], gid)  -- the purge age follows update_time
else
  redis.call('ZADD', U, ARGV[8], gid)
  refresh(gid, st)
end
return 'OK'
)lua";

// ARGV[4] due bound (score, inclusive), [5] lease score, [6] owner, [7] now text, [8] lease
// text. Leases the due gid with the smallest score; returns its JSON after the update.
// Entries whose keys expired (or that are finished) are dropped on the way; 'RETRY' after many
// of them keeps one call short (the caller calls again).
constexpr const char* kLockOne = R"lua(
for _ = 1, 100 do
  local due = redis.call('ZRANGEBYSCORE', U, '-inf', ARGV[4], 'LIMIT', 0, 1)
  if #due == 0 then return 'NOT_FOUND' end
  local gid = due[1]
  local g, st = load(gid)
  if g == nil or finished(st) then
    redis.call('ZREM', U, gid)
  else
    g.next_cron_time = ARGV[8]
    put(g, 'owner', ARGV[6])
    g.update_time = stamp(ARGV[7])
    adopt(gid, g)
    local json = save(gid, g)
    redis.call('ZADD', U, ARGV[5], gid)
    refresh(gid, st)
    return json
  end
end
return 'RETRY'
)lua";

// ARGV[4] bound (score, exclusive), [5] limit, [6] now text, [7] now score.
// Returns {reset count, 1 when more than `limit` were due for a reset}.
constexpr const char* kResetCron = R"lua(
local limit = tonumber(ARGV[5])
local due, stale, offset = {}, {}, 0
while #due <= limit do
  local batch = redis.call('ZRANGEBYSCORE', U, '(' .. ARGV[4], '+inf', 'LIMIT', offset,
                           limit + 1 - #due)
  if #batch == 0 then break end
  offset = offset + #batch
  for _, gid in ipairs(batch) do
    local st = status_of(gid)
    if st == false or finished(st) then
      stale[#stale + 1] = gid
    else
      due[#due + 1] = gid
    end
  end
end
for _, gid in ipairs(stale) do redis.call('ZREM', U, gid) end
local n = math.min(#due, limit)
for i = 1, n do
  local gid = due[i]
  local g, st = load(gid)
  g.next_cron_time = ARGV[6]
  g.update_time = ARGV[6]
  adopt(gid, g)
  save(gid, g)
  redis.call('ZADD', U, ARGV[7], gid)
  refresh(gid, st)
end
local more = 0
if #due > limit then more = 1 end
return {n, more}
)lua";

// ARGV[4] gid, [5] now text, [6] now score, [7] now ms. Unlike DTM (which rewrites only the
// JSON), the schedule follows: the transaction is due at once.
constexpr const char* kResetOne = R"lua(
local gid = ARGV[4]
local g, st = load(gid)
if g == nil then return 'NOT_FOUND' end
g.next_cron_time = ARGV[5]
g.update_time = ARGV[5]
adopt(gid, g)
save(gid, g)
if finished(st) then
  redis.call('ZADD', F, 'XX', ARGV[7], gid)
else
  redis.call('ZADD', U, ARGV[6], gid)
  refresh(gid, st)
end
return 'OK'
)lua";

// ARGV[4] cut-off ms (exclusive), [5] limit. Returns how many finished transactions it removed.
// One whose keys had already expired still counts (its index entry is what is left of it), so a
// batch of expired ones looks full and the caller keeps going.
constexpr const char* kPurge = R"lua(
local gids = redis.call('ZRANGEBYSCORE', F, '-inf', '(' .. ARGV[4], 'LIMIT', 0, ARGV[5])
local n = 0
for _, gid in ipairs(gids) do
  redis.call('ZREM', F, gid)
  local st = status_of(gid)
  if st == false or finished(st) then
    redis.call('DEL', gkey(gid), bkey(gid), skey(gid), akey(gid))
    redis.call('ZREM', ALL, gid)
    redis.call('ZREM', U, gid)
    n = n + 1
  end
end
return n
)lua";

// ARGV[4] keep, then per attempt ARGV[i..i+4]: gid, branch_id, op, final ("1": do not trim for
// it), body (without its id). Each gid's attempts are one list, oldest first; per (branch_id, op)
// touched by a non-final attempt the oldest beyond `keep` go.
// The list expires with the transaction's keys (or after DataExpire when there are none).
constexpr const char* kAddAttempts = R"lua(
local keep = tonumber(ARGV[4])
local touched = {}
local gids = {}
for i = 5, #ARGV, 5 do
  local gid, b, op = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local id = redis.call('INCR', ID)
  redis.call('RPUSH', akey(gid), with_id(id, ARGV[i + 4]))
  if ARGV[i + 3] ~= '1' then touched[gid .. '\0' .. b .. '\0' .. op] = {gid, b, op} end
  gids[gid] = true
end
for _, t in pairs(touched) do
  local key, b, op = akey(t[1]), t[2], t[3]
  local list = redis.call('LRANGE', key, 0, -1)
  local same = 0
  local mine = {}
  for _, v in ipairs(list) do
    local a = cjson.decode(v)
    if a.branch_id == b and a.op == op then
      same = same + 1
      mine[#mine + 1] = v
    end
  end
  for j = 1, same - keep do redis.call('LREM', key, 1, mine[j]) end
end
for gid in pairs(gids) do
  local left = redis.call('PTTL', gkey(gid))
  if left > 0 then
    redis.call('PEXPIRE', akey(gid), left)
  elseif DATA_TTL > 0 then
    redis.call('EXPIRE', akey(gid), DATA_TTL)
  end
end
return 'OK'
)lua";

// ARGV[4...] gids seen in an index whose global was missing. Checked again here: the gid may
// have been saved anew since.
constexpr const char* kCleanGlobals = R"lua(
local n = 0
for i = 4, #ARGV do
  local gid = ARGV[i]
  if redis.call('EXISTS', gkey(gid)) == 0 then
    redis.call('ZREM', ALL, gid)
    redis.call('ZREM', F, gid)
    redis.call('ZREM', U, gid)
    n = n + 1
  end
end
return n
)lua";

// ARGV[4] cat, [5] k, [6] body. Returns the new id.
constexpr const char* kCreateKV = R"lua(
local cat, k = ARGV[4], ARGV[5]
if redis.call('EXISTS', kvkey(cat, k)) == 1 then return 'UNIQUE_CONFLICT' end
local id = redis.call('INCR', ID)
redis.call('SET', kvkey(cat, k), with_id(id, ARGV[6]))
redis.call('ZADD', kvcat(cat), int(id), k)
return id
)lua";

// ARGV[4] cat, [5] k, [6] expected version, [7] new v, [8] now text.
// DTM's key does not delimit cat from k ("a_b"+"c" = "a"+"b_c"), so the stored cat and k are
// compared too.
constexpr const char* kUpdateKV = R"lua(
local cat, k = ARGV[4], ARGV[5]
local raw = redis.call('GET', kvkey(cat, k))
if raw == false then return 'NOT_FOUND' end
local kv = cjson.decode(raw)
if kv.cat ~= cat or kv.k ~= k or tonumber(kv.version) ~= tonumber(ARGV[6]) then
  return 'NOT_FOUND'
end
kv.v = ARGV[7]
kv.version = kv.version + 1
kv.update_time = stamp(ARGV[8])
if (tonumber(kv.id) or 0) == 0 then kv.id = redis.call('INCR', ID) end  -- written by DTM
redis.call('ZADD', kvcat(cat), 'NX', int(kv.id), k)
redis.call('SET', kvkey(cat, k), encode(kv), 'KEEPTTL')
return 'OK'
)lua";

// ARGV[4] cat, [5] k.
constexpr const char* kDeleteKV = R"lua(
local cat, k = ARGV[4], ARGV[5]
local raw = redis.call('GET', kvkey(cat, k))
if raw == false then return 'NOT_FOUND' end
local kv = cjson.decode(raw)
if kv.cat ~= cat or kv.k ~= k then return 'NOT_FOUND' end
redis.call('DEL', kvkey(cat, k))
redis.call('ZREM', kvcat(cat), k)
return 'OK'
)lua";

// ARGV[4] cat, [5...] keys listed in the category index whose entry was missing.
constexpr const char* kCleanKV = R"lua(
local cat = ARGV[4]
local n = 0
for i = 5, #ARGV do
  if redis.call('EXISTS', kvkey(cat, ARGV[i])) == 0 then
    redis.call('ZREM', kvcat(cat), ARGV[i])
    n = n + 1
  end
end
return n
)lua";

// ARGV[4...] full names of P_kv_* keys. Numbers the entries DTM wrote (id 0) and lists every
// entry in its category index. Returns how many it listed anew.
constexpr const char* kAdoptKV = R"lua(
local n = 0
for i = 4, #ARGV do
  local raw = redis.call('GET', ARGV[i])
  if raw ~= false then
    local ok, kv = pcall(cjson.decode, raw)
    if ok and type(kv) == 'table' and type(kv.cat) == 'string' and type(kv.k) == 'string'
        and kvkey(kv.cat, kv.k) == ARGV[i] then
      if (tonumber(kv.id) or 0) == 0 then
        kv.id = redis.call('INCR', ID)
        redis.call('SET', ARGV[i], encode(kv), 'KEEPTTL')
      end
      n = n + redis.call('ZADD', kvcat(kv.cat), 'NX', int(kv.id), kv.k)
    end
  end
end
return n
)lua";

// The compact layout's forms of the three writes on every transaction's path.

// ARGV[4] gid, [5] status, [6] global body, [7] cron score, [8] finish ms, then per branch its
// field in the branch hash and its body. Returns the global's id; the branches get the ids that
// follow it.
constexpr const char* kCompactSaveNew = R"lua(
local gid, status = ARGV[4], ARGV[5]
local g = gkey(gid)
if redis.call('EXISTS', g) == 1 then return 'UNIQUE_CONFLICT' end
local n = (#ARGV - 8) / 2
local id = redis.call('INCRBY', ID, n + 1) - n
local f = {'j', with_id(id, ARGV[6]), 'status', status}
for k = 1, n do
  f[#f + 1] = ARGV[7 + 2 * k]
  f[#f + 1] = with_id(id + k, ARGV[8 + 2 * k])
end
hset_all(g, f)
local ttl = DATA_TTL
if finished(status) then ttl = FIN_TTL end
if ttl > 0 then redis.call('EXPIRE', g, ttl) end
index_new(gid, id, status)
return id
)lua";

// save_branches on the global's hash: 4 per row: its field, its state field, body, state
// (status and times, see redis_codec.h). An upsert of a listed row writes only its state field.
// With `pending` (the combined write) the fields are added to it for change_status's HSET.
constexpr const char* kCompactSaveBranchesFn = R"lua(
local function save_branches(gid, expected, append, first, keep_ttl, pending)
  if status_of(gid) ~= expected then return 'NOT_FOUND' end
  local g = gkey(gid)
  if append then
    for r = first, #ARGV, 4 do
      if redis.call('HEXISTS', g, ARGV[r]) == 1 then return 'UNIQUE_CONFLICT' end
    end
  end
  local f = pending or {}
  local added = {}  -- rows this call adds: a second row of the same key is an upsert of it
  for r = first, #ARGV, 4 do
    if not append and (added[ARGV[r]] or redis.call('HEXISTS', g, ARGV[r]) == 1) then
      f[#f + 1] = ARGV[r + 1]
      f[#f + 1] = ARGV[r + 3]
    else
      added[ARGV[r]] = true
      f[#f + 1] = ARGV[r]
      f[#f + 1] = with_id(redis.call('INCR', ID), ARGV[r + 2])
    end
  end
  if pending == nil then
    hset_all(g, f)
    if not keep_ttl then refresh(gid, expected) end
  end
  return 'OK'
end
)lua";

// change_status on the hash, arguments as in DTM's layout; `pending` holds fields of the same
// script's save_branches, written in the same HSET.
constexpr const char* kCompactChangeStatusFn = R"lua(
local function change_status(gid, old, a, checked, pending)
  local new, now = ARGV[a], ARGV[a + 1]
  if not checked and status_of(gid) ~= old then return 'NOT_FOUND' end
  local f = pending or {}
  f[#f + 1] = 'status'; f[#f + 1] = new
  f[#f + 1] = 'update_time'; f[#f + 1] = now
  if new == 'succeed' then f[#f + 1] = 'finish_time'; f[#f + 1] = now end
  if new == 'failed' then f[#f + 1] = 'rollback_time'; f[#f + 1] = now end
  if ARGV[a + 3] == '1' then f[#f + 1] = 'rollback_reason'; f[#f + 1] = ARGV[a + 4] end
  if ARGV[a + 5] == '1' then f[#f + 1] = 'result'; f[#f + 1] = ARGV[a + 6] end
  hset_all(gkey(gid), f)
  if finished(new) then
    expire(trans_keys(gid), FIN_TTL)  -- the FinishedDataExpire countdown starts now
    redis.call('ZREM', U, gid)
    redis.call('ZADD', F, ARGV[a + 2], gid)
  else
    refresh(gid, new)
  end
  return 'OK'
end
)lua";

// A script: the shared prelude, the layout's functions, the write functions it uses, its body.
ScriptSource Make(const char* name, const char* layout, std::initializer_list<const char*> parts) {
  std::string text = std::string("-- dtmd ") + name + "\n" + kPrelude + layout + kPreludeEnd;
  for (const char* part : parts) text += part;
  return ScriptSource{name, std::move(text)};
}

// Every script in both layouts: the compact one differs in the layout's functions and in the
// writes on every transaction's path.
std::array<ScriptSource, kScriptCount> MakeAll(const char* layout, bool compact) {
  const char* save_branches = compact ? kCompactSaveBranchesFn : kSaveBranchesFn;
  const char* change_status = compact ? kCompactChangeStatusFn : kChangeStatusFn;
  return {
      Make("MaySaveNewTrans", layout, {kIndexNewFn, compact ? kCompactSaveNew : kSaveNew}),
      Make("LockGlobalSaveBranches", layout, {save_branches, kSaveBranches}),
      Make("ChangeGlobalStatus", layout, {change_status, kChangeStatus}),
      Make("SaveBranchesChangeStatus", layout,
           {save_branches, change_status, kSaveBranchesChangeStatus}),
      Make("TouchCronTime", layout, {kTouchCron}),
      Make("LockOneGlobalTrans", layout, {kLockOne}),
      Make("ResetCronTime", layout, {kResetCron}),
      Make("ResetTransGlobalCronTime", layout, {kResetOne}),
      Make("PurgeFinished", layout, {kPurge}),
      Make("AddAttempts", layout, {kAddAttempts}),
      Make("CleanGlobals", layout, {kCleanGlobals}),
      Make("CreateKV", layout, {kCreateKV}),
      Make("UpdateKV", layout, {kUpdateKV}),
      Make("DeleteKV", layout, {kDeleteKV}),
      Make("CleanKV", layout, {kCleanKV}),
      Make("AdoptKV", layout, {kAdoptKV}),
  };
}

}  // namespace

const ScriptSource& Script(ScriptId id, bool compact) {
  static const auto dtm = MakeAll(kDtmLayout, false);
  static const auto compact_layout = MakeAll(kCompactLayout, true);
  return (compact ? compact_layout : dtm)[static_cast<size_t>(id)];
}

}  // namespace lynx::store::redis
