import {
  decodeEnvelope,
  type DefinitionsEnvelope,
} from '../../src/sources/shared/definitions-envelope.js';

/** Any ioredis client or cluster: the bytes of a key, as stored. */
interface BinaryReader {
  getBuffer(key: string): Promise<Buffer | null>;
}

/** The shared copy as a follower reads it (either envelope version), or null when absent. */
export async function readStoredDefinitions(
  client: BinaryReader,
  key: string,
): Promise<DefinitionsEnvelope | null> {
  const stored = await client.getBuffer(key);
  return stored === null ? null : decodeEnvelope(stored, undefined, 64 * 1024 * 1024);
}
