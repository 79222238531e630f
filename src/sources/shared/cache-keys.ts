import { createHash } from 'node:crypto';

/** The Redis names of one PostHog project. They share a hash tag, so they sit in one Cluster slot. */
export interface CacheKeys {
  /** The plain JSON copy (envelope version 1): what every release so far reads. */
  definitions: string;
  /** The compressed copy (version 2): what this release reads. */
  definitionsCompressed: string;
  meta: string;
  lease: string;
  changedChannel: string;
}

/** A short, non-reversible fingerprint of the project API key: keys never carry the key itself. */
export function projectFingerprint(projectApiKey: string): string {
  return createHash('sha256').update(projectApiKey).digest('hex').slice(0, 16);
}

export function cacheKeys(keyPrefix: string, projectApiKey: string): CacheKeys {
  const base = `${keyPrefix}:{${projectFingerprint(projectApiKey)}}`;
  return {
    definitions: `${base}:definitions`,
    definitionsCompressed: `${base}:definitions:v2`,
    meta: `${base}:meta`,
    lease: `${base}:lease`,
    changedChannel: `${base}:changed`,
  };
}
