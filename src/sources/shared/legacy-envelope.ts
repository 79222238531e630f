import type { FlagDefinitionCacheData } from 'posthog-node';
import { definitionsShapeProblem } from '../../definitions-shape.js';
import { contentHash, InvalidEnvelopeError } from './envelope-hash.js';

/** The first layout (plain JSON): still read, so a leader of the previous release can lead a
 * fleet of this one during a rolling deploy; never written any more. */
export const LEGACY_ENVELOPE_VERSION = 1;

export interface LegacyEnvelope {
  v: 1;
  hash: string;
  fetchedAt: number;
  data: FlagDefinitionCacheData;
}

/** `{"v":1,"hash":…,"fetchedAt":…,"data":…}`: the hash covers `JSON.stringify(data)`, so checking
 * it means serializing the parsed data again (the cost the compressed layout removes). */
export function decodeLegacyEnvelope(stored: Buffer): LegacyEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored.toString('utf8'));
  } catch {
    throw new InvalidEnvelopeError('stored definitions are not JSON');
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new InvalidEnvelopeError('stored definitions are not an object');
  }
  const envelope = parsed as Partial<LegacyEnvelope>;
  if (envelope.v !== LEGACY_ENVELOPE_VERSION) {
    throw new InvalidEnvelopeError(
      `stored definitions have schema version ${String(envelope.v)}, expected 1 or 2`,
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
  return envelope as LegacyEnvelope;
}
