// The app's own Redis client (ioredis), handed to the module as `{ client }`. Whichever major the
// app has (5 speaks RESP2, 6 defaults to RESP3): the module must work with it as it comes.
import { Redis } from 'ioredis';

export const redisLibrary = 'ioredis';

export async function connectRedis(
  url: string,
): Promise<{ client: Redis; close: () => Promise<unknown> }> {
  const client = new Redis(url);
  return { client, close: () => client.quit() };
}
