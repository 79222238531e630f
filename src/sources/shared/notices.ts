/** What the `changed` channel carries besides a new content hash. */
export const QUOTA_NOTICE = 'quota';
export const RELEASED_NOTICE = 'released';
