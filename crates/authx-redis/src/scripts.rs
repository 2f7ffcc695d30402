//! The Lua scripts behind the store. Each runs atomically in Redis, in one round trip, and
//! mirrors the matching method of `authx_core::limit::MemoryLimitStore` line for line.
//!
//! Every decision uses the `now` the caller passes (the service's clock); the key's expiry only
//! collects garbage, and is always later than the logic needs the key.

use std::sync::LazyLock;

use redis::Script;

/// Counts one event under a sliding-window rate limit, unless the limit is reached.
///
/// `KEYS[1]`: the list of the instants (Unix milliseconds) of the last counted events, newest
/// first. `ARGV`: `now` in milliseconds, the window in milliseconds, `max` (at least 1), and
/// seconds to keep the key. Returns 0 when the event is counted, else the milliseconds until
/// the oldest of the last `max` counted events leaves the window (at least 1); a refused event
/// is not counted.
///
/// As `MemoryLimitStore::hit`: only the newest `max` events matter (more remain only if `max`
/// was lowered), and only those after `now - window`.
pub(crate) static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('LTRIM', KEYS[1], 0, max - 1)
while true do
  local oldest = redis.call('LINDEX', KEYS[1], -1)
  if not oldest or tonumber(oldest) > now - window then break end
  redis.call('RPOP', KEYS[1])
end
if redis.call('LLEN', KEYS[1]) < max then
  redis.call('LPUSH', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 0
end
return tonumber(redis.call('LINDEX', KEYS[1], -1)) + window - now
",
    )
});

/// Records one failed login and the lock it earns.
///
/// `KEYS[1]`: the failure hash (`failures`, `locked_until`, `forget_at`). `ARGV`: `now`, then the
/// lockout's `threshold`, `base`, `max` and `memory` in seconds, then the expiry margin.
/// Returns `{failures, locked_until or nil}`.
///
/// Lua numbers are doubles: the caller keeps every input below 2^52, so the arithmetic is exact
/// (`base * 2^doublings` may round only when it is far above `max`, which then wins).
pub(crate) static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function int(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local memory = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])

local state = redis.call('HMGET', KEYS[1], 'failures', 'locked_until', 'forget_at')
local failures = tonumber(state[1]) or 0
local locked_until = tonumber(state[2])
if (tonumber(state[3]) or 0) <= now then
  -- Forgotten (or never seen): start again.
  failures = 0
  locked_until = nil
end

failures = math.min(failures + 1, 4294967295)
-- Lockout::lock_seconds
local lock = 0
if threshold > 0 and failures >= threshold then
  lock = math.min(base * 2 ^ math.min(failures - threshold, 30), max)
end
if lock > 0 then
  locked_until = now + lock
end
local keep = math.max(memory, lock)

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'failures', int(failures), 'forget_at', int(now + keep))
if locked_until then
  redis.call('HSET', KEYS[1], 'locked_until', int(locked_until))
end
redis.call('EXPIRE', KEYS[1], int(keep + margin))
return {failures, locked_until or false}
",
    )
});

/// Marks sessions revoked, each kept until the later of its stored and the new `keep_until`.
///
/// `KEYS`: the revocation keys, one per session. `ARGV[1]`: `keep_until`; `ARGV[2]`: seconds to
/// keep a key whose `keep_until` this call moves later. A key whose stored `keep_until` is
/// already as late is left as it is, its expiry with it.
pub(crate) static REVOKE_SESSIONS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local keep = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local stored = tonumber(redis.call('GET', key))
  if stored == nil or stored < keep then
    redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
  end
end
return 0
",
    )
});

/// Moves a cut-off (of one user, or of everyone) to the later of the stored one and the new
/// one, never back, and keeps it until the later of the stored and the new `keep_until`.
///
/// `KEYS[1]`: the cut-off key, a string `{cutoff_ms}:{keep_until}`. `ARGV`: the new cut-off in
/// milliseconds, the new `keep_until`, the system clock's `now` in seconds (only for the key's
/// expiry), the longest expiry and the expiry margin in seconds.
///
/// The caller keeps every instant below 2^52, so comparisons and the expiry are exact; the
/// winning values are copied as the strings they came as.
pub(crate) static CUT_OFF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cutoff, keep = ARGV[1], ARGV[2]
local stored = redis.call('GET', KEYS[1])
if stored then
  local stored_cutoff, stored_keep = string.match(stored, '^(%-?%d+):(%-?%d+)$')
  if stored_cutoff then
    if tonumber(stored_cutoff) > tonumber(cutoff) then cutoff = stored_cutoff end
    if tonumber(stored_keep) > tonumber(keep) then keep = stored_keep end
  end
end
local needed = math.min(math.max(tonumber(keep) - tonumber(ARGV[3]), 0), tonumber(ARGV[4]))
redis.call('SET', KEYS[1], cutoff .. ':' .. keep, 'EX', string.format('%d', needed + tonumber(ARGV[5])))
return 0
",
    )
});

/// Moves a marker forward, as `MemoryLimitStore::advance`.
///
/// `KEYS[1]`: the marker, a string `{value}:{keep_until}`. `ARGV`: the new value, `now`,
/// `keep_until` and the key's expiry in seconds. Returns 1 when the marker moved (no marker
/// kept at `now`, or one below the value), else 0.
pub(crate) static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local stored = redis.call('GET', KEYS[1])
if stored then
  local value, keep = string.match(stored, '^(%-?%d+):(%-?%d+)$')
  if value and tonumber(keep) > tonumber(ARGV[2]) and tonumber(value) >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'EX', ARGV[4])
return 1
",
    )
});
