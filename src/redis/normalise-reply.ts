/**
 * A reply as the module reads it: strings, numbers, null and arrays of them, whatever the client
 * library and protocol. Binary strings (node-redis `typeMapping`, ioredis `*Buffer` commands)
 * become UTF-8 strings and RESP3 big numbers plain numbers.
 */
export function normaliseReply(reply: unknown): unknown {
  if (reply instanceof Uint8Array) return Buffer.from(reply).toString('utf8');
  if (Array.isArray(reply)) return reply.map(normaliseReply);
  if (typeof reply === 'bigint') return Number(reply);
  return reply;
}

/** A reply that must be a string or null (GET, HMGET fields). */
export function stringOrNull(reply: unknown): string | null {
  const value = normaliseReply(reply);
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : String(value as number);
}
