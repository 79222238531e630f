// The app's own node-redis client (no ioredis in this app), connected as node-redis apps do and
// handed to the module as `{ client }`.
import { createClient } from 'redis';

export const redisLibrary = 'redis';

export async function connectRedis(url: string) {
  const client = createClient({ url });
  await client.connect();
  return { client, close: () => client.close() };
}
