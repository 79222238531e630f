import {
  announcedHash,
  decodeCompressedEnvelope,
  InvalidEnvelopeError,
  type DefinitionsEnvelope,
} from './definitions-envelope.js';
import type { LeaseProtocol, SharedCopyKind } from './lease-protocol.js';
import { decodeLegacyEnvelope } from './legacy-envelope.js';

/**
 * Reads the copy meta announces (`metaHash`): the compressed one when it holds that content, else
 * the JSON one, which a leader of the previous release writes alone (its compressed copy is then
 * stale or absent until this release leads and writes again). Null when there is no copy.
 * Throws InvalidEnvelopeError for a copy that must not reach the SDK; other errors are Redis's.
 */
export async function readSharedCopy(
  lease: LeaseProtocol,
  metaHash: string,
  maxBytes: number,
): Promise<DefinitionsEnvelope | null> {
  const compressed = await readSized(lease, 'compressed', maxBytes);
  if (compressed !== null && announcedHash(compressed) === metaHash) {
    return decodeCompressedEnvelope(compressed, maxBytes);
  }
  const json = await readSized(lease, 'json', maxBytes);
  if (json === null) return null;
  const envelope = decodeLegacyEnvelope(json);
  if (envelope.hash !== metaHash) {
    throw new InvalidEnvelopeError('stored definitions do not match the hash in meta');
  }
  return envelope;
}

/** Sized before it is read: a copy no leader would write is not pulled over the network. */
async function readSized(
  lease: LeaseProtocol,
  copy: SharedCopyKind,
  maxBytes: number,
): Promise<Buffer | null> {
  const size = await lease.definitionsSize(copy);
  if (size > maxBytes) {
    throw new InvalidEnvelopeError(`stored definitions are ${size} bytes, over ${maxBytes}`);
  }
  return size === 0 ? null : lease.readDefinitions(copy);
}
