/**
 * The least-privilege Redis ACL the module needs, in one place: the README's "Redis in production"
 * section shows `flagsAclRule()` verbatim (test/redis-acl.e2e-spec.ts checks that it does), and the
 * same spec runs a fleet under it. A new Redis command in src/ means a new entry here.
 */

/**
 * Every command the module sends, and why. Commands called from Lua scripts count: Redis checks a
 * script's `redis.call()` against the caller's ACL too.
 */
export const FLAGS_COMMANDS = {
  // Lease scripts (src/sources/shared/lease-scripts.ts), by SHA, and in full on NOSCRIPT.
  scripts: ['evalsha', 'eval'],
  // Inside the scripts.
  scriptBodies: [
    'get',
    'set',
    'pexpire',
    'pttl',
    'exists',
    'hget',
    'hset',
    'del',
    'type',
    'publish',
    'time',
  ],
  // Followers' reads (src/redis/flags-redis.ts): meta, the definitions, their size, presence.
  reads: ['hmget', 'get', 'strlen', 'exists'],
  // Change notices, on a connection of their own.
  pubsub: ['subscribe'],
  // ioredis's ready check on connect. (QUIT, on a graceful close, is not ACL-checked.)
  connection: ['info'],
} as const;

/** The module's commands, deduplicated, in a stable order. */
export function flagsCommands(): string[] {
  return [...new Set(Object.values(FLAGS_COMMANDS).flat())];
}

export interface FlagsAclOptions {
  /** The module's `keyPrefix`. Default `posthog:flags`. */
  keyPrefix?: string;
  /** Confine the user to one project: `projectFingerprint(projectApiKey)` (src/sources/shared/cache-keys.ts). */
  fingerprint?: string;
}

/**
 * The ACL rules (everything after `ACL SETUSER <name> on ><password>`): the module's keys and
 * channel only, and only its commands.
 */
export function flagsAclRule({ keyPrefix = 'posthog:flags', fingerprint }: FlagsAclOptions = {}) {
  const names = fingerprint ? `${keyPrefix}:{${fingerprint}}:*` : `${keyPrefix}:*`;
  const commands = flagsCommands().map((command) => `+${command}`);
  return ['resetkeys', `~${names}`, 'resetchannels', `&${names}`, '-@all', ...commands].join(' ');
}

/**
 * A deployment in reader mode (no secretKey: it reads what another deployment's leader writes)
 * never runs the lease scripts: read commands, the change channel and the ready check suffice.
 */
export function flagsReaderAclRule({
  keyPrefix = 'posthog:flags',
  fingerprint,
}: FlagsAclOptions = {}) {
  const names = fingerprint ? `${keyPrefix}:{${fingerprint}}:*` : `${keyPrefix}:*`;
  const { reads, pubsub, connection } = FLAGS_COMMANDS;
  const commands = [...new Set([...reads, ...pubsub, ...connection])].map((c) => `+${c}`);
  return ['resetkeys', `%R~${names}`, 'resetchannels', `&${names}`, '-@all', ...commands].join(' ');
}

/**
 * Additions some setups need, each with its reason (the README lists them under the rule).
 * `+client|setinfo` is refused by `ACL SETUSER` on Redis < 7.2, which has no such subcommand.
 */
export const FLAGS_ACL_ADDITIONS = {
  'Redis ≥ 7.2 (ioredis and node-redis send CLIENT SETINFO on connect)': '+client|setinfo',
  'Redis Cluster (ioredis reads the slot map, names its connections)':
    '+cluster|slots +cluster|info +client|setname',
  'node-redis (HELLO on connect; CLIENT SETNAME with `name`)': '+hello +client|setname',
  'a database other than 0 in the URL': '+select',
} as const;
