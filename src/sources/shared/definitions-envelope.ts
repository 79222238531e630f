import type { FlagDefinitionCacheData } from 'posthog-node';
import { definitionsShapeProblem } from '../../definitions-shape.js';
import { compressDefinitions, decompressDefinitions } from './compressed-envelope.js';
import { contentHash, InvalidEnvelopeError } from './envelope-hash.js';
import { LEGACY_ENVELOPE_VERSION } from './legacy-envelope.js';

export { contentHash, InvalidEnvelopeError } from './envelope-hash.js';

/** Bumped when the stored layout changes; readers refuse versions they do not know. */
export const ENVELOPE_SCHEMA_VERSION = 2;

/** A shared copy as read, whichever version was stored. */
export interface DefinitionsEnvelope {
  v: number;
  /** The content hash meta announces: SHA-256 of the definitions' JSON, in every version. */
  hash: string;
  fetchedAt: number;
  data: FlagDefinitionCacheData;
}

const NEWLINE = 0x0a;
/** Longer than any header this release writes; a copy without a newline before it is no version 2. */
const MAX_HEADER_BYTES = 256;
const HEADER =
  /^\{"v":2,"hash":"([0-9a-f]{16})","body":"([0-9a-f]{16})","fetchedAt":(\d{1,16}),"codec":"br"\}$/;

/**
 * Both copies of one fetch. Version 1 (`json`) is the plain JSON envelope every earlier release
 * reads; version 2 (`compressed`) is one JSON header line, then the brotli-compressed JSON:
 * `{"v":2,"hash":"<content>","body":"<stored body>","fetchedAt":<ms>,"codec":"br"}\n<bytes>`.
 * `hash` is the content hash (the same in both copies, so processes of either release agree on
 * what changed); `body` covers the compressed bytes as stored, so a follower checks them before it
 * inflates or parses anything and never serializes again to verify. The header is text:
 * `redis-cli GET` shows the version.
 */
export function encodeEnvelope(
  data: FlagDefinitionCacheData,
  fetchedAt: number,
): { hash: string; json: string; compressed: Buffer } {
  const serialized = JSON.stringify(data);
  const hash = contentHash(serialized);
  const json = `{"v":${LEGACY_ENVELOPE_VERSION},"hash":"${hash}","fetchedAt":${fetchedAt},"data":${serialized}}`;
  const body = compressDefinitions(serialized);
  const header = `{"v":${ENVELOPE_SCHEMA_VERSION},"hash":"${hash}","body":"${contentHash(body)}","fetchedAt":${fetchedAt},"codec":"br"}\n`;
  return { hash, json, compressed: Buffer.concat([Buffer.from(header, 'latin1'), body]) };
}

/** The content hash alone, for a process that adopts definitions but writes no copy (standalone). */
export function definitionsHash(data: FlagDefinitionCacheData): string {
  return contentHash(JSON.stringify(data));
}

/** The content hash a compressed copy's header names (undefined when it has no such header). */
export function announcedHash(stored: Buffer): string | undefined {
  return headerOf(stored)?.[1];
}

/**
 * Checks a compressed copy before the SDK may see it: header and version, that the stored bytes
 * match their hash, at most `maxDecodedBytes` once inflated (refused, not inflated), JSON, and the
 * shape posthog-node expects.
 */
export async function decodeCompressedEnvelope(
  stored: Buffer,
  maxDecodedBytes: number,
): Promise<DefinitionsEnvelope> {
  const header = headerOf(stored);
  if (!header) {
    throw new InvalidEnvelopeError('stored definitions have an unknown header or schema version');
  }
  const [line, hash, bodyHash, fetchedAt] = header;
  const body = stored.subarray(line.length + 1);
  if (contentHash(body) !== bodyHash) {
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
  const envelope = { v: ENVELOPE_SCHEMA_VERSION, hash, fetchedAt: Number(fetchedAt) };
  return { ...envelope, data: data as FlagDefinitionCacheData };
}

function headerOf(stored: Buffer): RegExpExecArray | null {
  const newline = stored.subarray(0, MAX_HEADER_BYTES).indexOf(NEWLINE);
  return newline < 0 ? null : HEADER.exec(stored.subarray(0, newline).toString('latin1'));
}
