import { expect } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { FakePostHog } from '../support/fake-posthog.js';
import { readStoredDefinitions } from '../support/stored-definitions.js';
import {
  allSecrets,
  record,
  secretLeaks,
  startedWorkers,
  stopAll,
  unhandledRejections,
} from './support-kit.js';

/**
 * Case 14, for the processes of one spec file: stops every worker still running (gracefully, so
 * the shutdown logs are captured), then searches every worker's whole stdout+stderr for every
 * secret key this file handed out. Also searches what is left in Redis when a client is given.
 */
export async function expectNoSecretInOutputs(
  file: string,
  fake: FakePostHog,
  redisClients: Redis[] = [],
): Promise<void> {
  await stopAll();
  const workers = startedWorkers();
  const secrets = [...new Set([...allSecrets(), fake.secretKey])];
  const leaks = secretLeaks([fake.secretKey]);
  let redisValuesScanned = 0;
  const redisLeaks: string[] = [];
  for (const client of redisClients) {
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      const value =
        type === 'string'
          ? await readableValue(client, key)
          : type === 'hash'
            ? JSON.stringify(await client.hgetall(key))
            : '';
      redisValuesScanned++;
      if (secrets.some((s) => value.includes(s) || key.includes(s))) redisLeaks.push(key);
    }
  }
  const outputBytes = workers.reduce((n, w) => n + w.worker.output.length, 0);
  record(`14-${file}`, 'no secret in any process output', {
    processes: workers.length,
    outputBytes,
    secretsSearched: secrets.length,
    leaks: leaks.length,
    redisValuesScanned,
    redisLeaks: redisLeaks.length,
    unhandledRejections: unhandledRejections().length,
  });
  expect(workers.length).toBeGreaterThan(0);
  expect(outputBytes).toBeGreaterThan(0);
  expect(leaks).toEqual([]);
  expect(redisLeaks).toEqual([]);
  expect(unhandledRejections()).toEqual([]);
}

/** A string key as text; the compressed shared copy is searched as a follower reads it. */
async function readableValue(client: Redis, key: string): Promise<string> {
  if (key.endsWith(':definitions:v2')) {
    const definitions = key.slice(0, -':v2'.length);
    const stored = await readStoredDefinitions(client, { definitions, definitionsCompressed: key });
    return stored ? JSON.stringify(stored) : '';
  }
  return (await client.get(key)) ?? '';
}
