import { QUOTA_NOTICE, RELEASED_NOTICE } from './notices.js';

/**
 * The lease protocol's atomic steps. Each script touches only keys of one project, which share a
 * hash tag, so they also run on Redis Cluster.
 */

// Milliseconds on Redis's clock: the fleet's backoff deadline is compared on one clock, never
// across hosts whose clocks disagree.
const REDIS_NOW_MS = `local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: lease, definitions, meta. ARGV: token, ttlMs, coldTtlMs. Returns [state, definitionsExist,
 * metaHash, leasePttl, backoffRemainingMs]: state 2 = acquired a free lease, 1 = renewed our own,
 * 0 = another process holds it (and leasePttl is how long its lease still runs, in ms).
 * backoffRemainingMs: how long the fleet must still leave PostHog alone (0 = not backed off).
 * A lease taken while no shared copy exists runs coldTtlMs until the first write: followers wait
 * for that copy instead of fetching their own, a leader that dies before writing holds them up no
 * longer than that, and one whose first fetch is slow keeps the lease without renewing it.
 * metaHash is '' while the compressed copy does not hold meta's
 * content (a previous-release leader wrote the JSON copy alone): a leader of this release is then
 * out of step and rewrites both copies once. */
export const ACQUIRE_OR_RENEW = `
${REDIS_NOW_MS}
local backoffUntil = tonumber(redis.call('HGET', KEYS[3], 'bu') or '0') or 0
local backoffRemaining = math.max(0, backoffUntil - nowMs)
-- A lease of another type (someone wrote a hash or a list there) is junk: removed, the lease is free.
local leaseType = redis.call('TYPE', KEYS[1])['ok']
if leaseType ~= 'none' and leaseType ~= 'string' then redis.call('DEL', KEYS[1]) end
local holder = redis.call('GET', KEYS[1])
-- A value no process could hold (no expiry, or far longer than any token) is junk: the lease is free.
if holder and holder ~= ARGV[1] and (redis.call('PTTL', KEYS[1]) < 0 or string.len(holder) > 256) then
  holder = false
end
local state = 0
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  state = 1
elseif not holder then
  local ttl = ARGV[2]
  if redis.call('EXISTS', KEYS[2]) == 0 then ttl = ARGV[3] end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  state = 2
end
local metaHash = redis.call('HGET', KEYS[3], 'h') or ''
if redis.call('HGET', KEYS[3], 'z') ~= metaHash then metaHash = '' end
return { state, redis.call('EXISTS', KEYS[2]), metaHash, redis.call('PTTL', KEYS[1]), backoffRemaining }
`;

/** KEYS: lease, definitions (JSON), meta, definitions (compressed). ARGV: token, JSON envelope,
 * hash, fetchedAt, verifiedAt, channel, compressed envelope, ttlMs. Writes only while the lease is
 * ours, and gives a cold lease its full length.
 * Returns 0 = fenced off, 1 = written (same content), 2 = written and changed (published).
 * Both copies carry the same content hash, which meta announces: processes of the previous release
 * read the JSON copy, this release the compressed one. Meta field z says which hash the compressed
 * copy holds; a leader of the previous release writes the JSON copy and meta only, so a compressed
 * copy left behind is rewritten with the next write, even of unchanged content. */
export const FENCED_WRITE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
local changed = redis.call('HGET', KEYS[3], 'h') ~= ARGV[3] or redis.call('EXISTS', KEYS[2]) == 0
local quota = redis.call('HGET', KEYS[3], 'q')
if changed then redis.call('SET', KEYS[2], ARGV[2]) end
if changed or redis.call('HGET', KEYS[3], 'z') ~= ARGV[3] or redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], ARGV[7])
end
redis.call('HSET', KEYS[3], 'h', ARGV[3], 'z', ARGV[3], 'f', ARGV[4], 'v', ARGV[5], 'l', ARGV[1], 'q', '0', 'bn', '0', 'bu', '0')
-- New content, or the end of a quota limit: followers reload now.
if changed or (quota and quota ~= '0') then
  redis.call('PUBLISH', ARGV[6], ARGV[3])
  return 2
end
return 1
`;

/** KEYS: lease, definitions, meta. ARGV: token, verifiedAt. A 304: PostHog confirmed the copy.
 * Returns 0 = fenced off, -1 = the shared copy is missing (must be refetched), 1 = verified. */
export const VERIFY = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('HSET', KEYS[3], 'v', ARGV[2], 'l', ARGV[1], 'q', '0', 'bn', '0', 'bu', '0')
return 1
`;

/** KEYS: lease, definitions, meta. ARGV: token, sha1 of the value this leader stored, its hash.
 * Meta names another copy than the one stored, yet the stored value is still byte for byte what
 * this leader wrote (meta alone was overwritten): meta is put right, with no full fetch from
 * PostHog. Returns 1 = restored, 0 = not (fenced off, or the stored value changed). */
export const RESTORE_META_HASH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local stored = redis.call('GET', KEYS[2])
if not stored or redis.sha1hex(stored) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], 'h', ARGV[3])
return 1
`;

/** KEYS: lease, meta. ARGV: token, at, channel. A 402: records the quota limit for everyone. */
export const RECORD_QUOTA_LIMITED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local was = redis.call('HGET', KEYS[2], 'q')
redis.call('HSET', KEYS[2], 'q', ARGV[2], 'l', ARGV[1])
if was == false or was == '0' then redis.call('PUBLISH', ARGV[3], '${QUOTA_NOTICE}') end
return 1
`;

/** KEYS: lease. ARGV: token, channel. Compare-and-delete: never removes another process's lease.
 * Announces the release, so followers try for the lease on their next poll. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '${RELEASED_NOTICE}')
return 1
`;

/** KEYS: lease, meta. ARGV: token, baseMs, capMs, jitter (0..1). A refused or failed fetch
 * (401/403/429/5xx): the fleet's failure count goes up and every process, whoever leads next,
 * leaves PostHog alone for min(cap, base × 2^failures × (1 + jitter/5)). A 200 or 304 (the write and
 * verify scripts) resets both. Returns [failures, delayMs], or 0 when fenced off. */
export const RECORD_BACKOFF = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
${REDIS_NOW_MS}
local failures = (tonumber(redis.call('HGET', KEYS[2], 'bn') or '0') or 0) + 1
local delay = tonumber(ARGV[2]) * (2 ^ math.min(failures, 30)) * (1 + tonumber(ARGV[4]) / 5)
delay = math.floor(math.min(tonumber(ARGV[3]), delay))
redis.call('HSET', KEYS[2], 'bn', failures, 'bu', nowMs + delay)
return { failures, delay }
`;
