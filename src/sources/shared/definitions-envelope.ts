import { createHash } from 'node:crypto';
import type { FlagDefinitionCacheData } from 'posthog-node';
import { definitionsShapeProblem } from '../../definitions-shape.js';

/** Bumped when the stored layout changes; readers ignore other versions. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/** What the `definitions` key holds. */
export interface DefinitionsEnvelope {
  v: number;
  hash: string;
  fetchedAt: number;
  data: FlagDefinitionCacheData;
}

export function contentHash(serializedData: string): string {
  return createHash('sha256').update(serializedData).digest('hex').slice(0, 16);
}

/** Serializes definitions once; the hash covers exactly the bytes stored. */
export function encodeEnvelope(
  data: FlagDefinitionCacheData,
  fetchedAt: number,
): { hash: string; serialized: string } {
  const serializedData = JSON.stringify(data);
  const hash = contentHash(serializedData);
  const serialized = `{"v":${ENVELOPE_SCHEMA_VERSION},"hash":"${hash}","fetchedAt":${fetchedAt},"data":${serializedData}}`;
  return { hash, serialized };
}

export class InvalidEnvelopeError extends Error {
  override name = 'InvalidEnvelopeError';
}

/**
 * Parses and checks what Redis holds before the SDK may see it: JSON, schema version, shape, and
 * that the content matches its hash (and the hash `meta` announced, when given).
 */
export function decodeEnvelope(raw: string, expectedHash?: string): DefinitionsEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidEnvelopeError('stored definitions are not JSON');
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new InvalidEnvelopeError('stored definitions are not an object');
  }
  const envelope = parsed as Partial<DefinitionsEnvelope>;
  if (envelope.v !== ENVELOPE_SCHEMA_VERSION) {
    throw new InvalidEnvelopeError(
      `stored definitions have schema version ${String(envelope.v)}, expected ${ENVELOPE_SCHEMA_VERSION}`,
    );
  }
  if (typeof envelope.hash !== 'string' || typeof envelope.fetchedAt !== 'number') {
    throw new InvalidEnvelopeError('stored definitions lack hash or fetchedAt');
  }
  const problem = definitionsShapeProblem(envelope.data);
  if (problem) throw new InvalidEnvelopeError(`stored definitions: ${problem}`);
  if (contentHash(JSON.stringify(envelope.data)) !== envelope.hash) {
    throw new InvalidEnvelopeError('stored definitions do not match their content hash');
  }
  if (expectedHash !== undefined && expectedHash !== envelope.hash) {
    throw new InvalidEnvelopeError('stored definitions do not match the hash in meta');
  }
  return envelope as DefinitionsEnvelope;
}
