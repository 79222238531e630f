/** What the `changed` channel carries besides a new content hash. */
export const QUOTA_NOTICE = 'quota';
export const RELEASED_NOTICE = 'released';

/** A content hash as the leader writes it (meta's `h`, and a change notice). */
export const CONTENT_HASH = /^[0-9a-f]{16}$/;

/** What a leader publishes: a content hash, a quota limit or a release. */
export function isKnownNotice(message: string): boolean {
  return message === QUOTA_NOTICE || message === RELEASED_NOTICE || CONTENT_HASH.test(message);
}
