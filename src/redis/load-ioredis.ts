import type * as IORedis from 'ioredis';

/**
 * ioredis, loaded only when the module opens a client itself (a URL, options, Sentinel or Cluster
 * `redis` option): an app that hands in a node-redis client never needs it installed.
 */
export async function loadIORedis(): Promise<typeof IORedis> {
  try {
    return await import('ioredis');
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      'The `redis` option as a URL, options, Sentinel or Cluster needs the `ioredis` package: ' +
        'install it (npm install ioredis), or pass a client you created as { client } ' +
        '(ioredis or node-redis).',
      { cause: error },
    );
  }
}
