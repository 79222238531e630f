import type { FlagDefinitionCacheData } from 'posthog-node';
import { definitionsShapeProblem } from '../../definitions-shape.js';
import { compressDefinitions, decompressDefinitions } from './compressed-envelope.js';
import { contentHash, InvalidEnvelopeError } from './envelope-hash.js';
import { decodeLegacyEnvelope } from './legacy-envelope.js';

export { contentHash, InvalidEnvelopeError } from './envelope-hash.js';

/**
 * Bumped when the stored layout changes. Version 2 (compressed) is written; version 1 (plain JSON)
 * is still read. A process of the previous release cannot read version 2: it rejects that copy
 * and keeps serving what it holds, and takes a new copy whenever its own release leads.
 */
export const ENVELOPE_SCHEMA_VERSION = 2;

/** What a reader gets from the `definitions` key, whichever version was stored. */
export interface DefinitionsEnvelope {
  v: number;
  hash: string;
  fetchedAt: number;
  data: FlagDefinitionCacheData;
}

/** The header line's longest form: the rest of the value is the compressed body. */
const MAX_HEADER_BYTES = 256;
const NEWLINE = 0x0a;
const HEADER = /^\{"v":2,"hash":"([0-9a-f]{16})","fetchedAt":(\d{1,16}),"codec":"br"\}$/;

/**
 * Version 2, as stored: one JSON header line, then the brotli-compressed JSON of the definitions.
 * `{"v":2,"hash":"<16 hex>","fetchedAt":<ms>,"codec":"br"}\n<brotli bytes>`. The hash covers
 * the compressed bytes as stored, so a follower checks it before it inflates or parses anything
 * and never serializes again to verify. The header is text, so `redis-cli GET` shows the version.
 */
export function encodeEnvelope(
  data: FlagDefinitionCacheData,
  fetchedAt: number,
): { hash: string; stored: Buffer } {
  const body = compressDefinitions(JSON.stringify(data));
  const hash = contentHash(body);
  const header = `{"v":${ENVELOPE_SCHEMA_VERSION},"hash":"${hash}","fetchedAt":${fetchedAt},"codec":"br"}\n`;
  return { hash, stored: Buffer.concat([Buffer.from(header, 'latin1'), body]) };
}

/**
 * Checks what Redis holds before the SDK may see it: layout and version, that the content matches
 * its hash (and the hash `meta` announced, when given), at most `maxDecodedBytes` once inflated,
 * JSON, and the shape posthog-node expects.
 */
export async function decodeEnvelope(
  stored: Buffer,
  expectedHash: string | undefined,
  maxDecodedBytes: number,
): Promise<DefinitionsEnvelope> {
  const newline = stored.subarray(0, MAX_HEADER_BYTES).indexOf(NEWLINE);
  // JSON.stringify never writes a raw newline: a version 1 copy has none.
  const envelope =
    newline < 0
      ? decodeLegacyEnvelope(stored)
      : await decodeCompressed(stored, newline, maxDecodedBytes);
  if (expectedHash !== undefined && expectedHash !== envelope.hash) {
    throw new InvalidEnvelopeError('stored definitions do not match the hash in meta');
  }
  return envelope;
}

async function decodeCompressed(
  stored: Buffer,
  newline: number,
  maxDecodedBytes: number,
): Promise<DefinitionsEnvelope> {
  const header = HEADER.exec(stored.subarray(0, newline).toString('latin1'));
  if (!header) {
    throw new InvalidEnvelopeError('stored definitions have an unknown header or schema version');
  }
  const [, hash, fetchedAt] = header;
  const body = stored.subarray(newline + 1);
  if (contentHash(body) !== hash) {
    throw new InvalidEnvelopeError('stored definitions do not match their content hash');
  }
  let data: unknown;
  try {
    data = JSON.parse(await decompressDefinitions(body, maxDecodedBytes));
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new InvalidEnvelopeError(
      tooLarge
        ? `stored definitions inflate past ${maxDecodedBytes} bytes`
        : 'stored definitions are not compressed JSON',
    );
  }
  const problem = definitionsShapeProblem(data);
  if (problem) throw new InvalidEnvelopeError(`stored definitions: ${problem}`);
  return {
    v: ENVELOPE_SCHEMA_VERSION,
    hash,
    fetchedAt: Number(fetchedAt),
    data: data as FlagDefinitionCacheData,
  };
}
