import type { CacheKeys } from '../../src/sources/shared/cache-keys.js';
import {
  decodeCompressedEnvelope,
  type DefinitionsEnvelope,
} from '../../src/sources/shared/definitions-envelope.js';

/** Any ioredis client or cluster. */
interface RedisReader {
  get(key: string): Promise<string | null>;
  getBuffer(key: string): Promise<Buffer | null>;
}

/**
 * The shared copy as a follower of this release reads it (the compressed copy), or null when
 * absent. Throws when the JSON copy beside it (what the previous release reads) holds other content.
 */
export async function readStoredDefinitions(
  client: RedisReader,
  keys: Pick<CacheKeys, 'definitions' | 'definitionsCompressed'>,
): Promise<DefinitionsEnvelope | null> {
  const stored = await client.getBuffer(keys.definitionsCompressed);
  if (stored === null) return null;
  const envelope = await decodeCompressedEnvelope(stored, 64 * 1024 * 1024);
  const json = JSON.parse((await client.get(keys.definitions)) ?? 'null') as { hash?: string };
  if (json?.hash !== envelope.hash) {
    throw new Error(`the JSON copy holds ${json?.hash}, the compressed one ${envelope.hash}`);
  }
  return envelope;
}
