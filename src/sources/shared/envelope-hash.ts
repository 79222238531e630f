import { createHash } from 'node:crypto';

/** 16 hex digits of SHA-256: what `meta` announces and the stored copy carries. */
export function contentHash(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export class InvalidEnvelopeError extends Error {
  override name = 'InvalidEnvelopeError';
}
