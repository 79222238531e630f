/**
 * Fault cases 7 and 11: definitions unchanged far longer than every TTL (304 forever), and bad or
 * huge 200 answers (no `flags`, truncated JSON, not JSON, a multi-megabyte payload). Real worker
 * processes, a real redis-server, the fake PostHog.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  FakePostHog,
  booleanFlag,
  manyFlags,
  type DefinitionsFault,
  type FlagDefinitionsPayload,
} from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { readStoredDefinitions } from '../support/stored-definitions.js';
import {
  LoadLoop,
  checkoutDefinitions,
  definitionsRequestsBy,
  definitionsRequestsOf,
  fleetOptions,
  httpGet,
  keysOf,
  record,
  secretKeys,
  sharedModeOf,
  sleep,
  startFleet,
  startWorker,
  statusesOf,
  waitUntil,
  type FleetWorker,
} from './support-kit.js';
import { expectNoSecretInOutputs } from './support-secrets.js';
import { startFaultServers, stopFaultServers } from './support-servers.js';
import { KeySampler, envelopeHash, redisStats } from './support-redis-watch.js';

/** CPU time (user + system) a process has used so far, in ms (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime: 100 ticks/s
}

/** `new-checkout` on, many varied flags, and flags with 64 KB payloads: several megabytes. */
function bigDefinitions(): FlagDefinitionsPayload {
  const payload = 'x'.repeat(64 * 1024);
  return {
    flags: [
      booleanFlag('new-checkout'),
      ...manyFlags(8_000),
      ...Array.from({ length: 40 }, (_, i) => booleanFlag(`big-payload-${i}`, { payload })),
    ],
  };
}

describe('fault injection: what PostHog sends', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  const keys = secretKeys('payload', 10);

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
  });
  afterAll(async () => stopFaultServers({ fake, redis, client }));

  it('case 7: definitions unchanged far longer than every TTL (304 forever) — the shared copy stays, new processes start from Redis without fetching', async () => {
    const intervalMs = 100;
    const leaseTtlMs = 300;
    const maxAgeMs = 500;
    const prefix = 'faults-c7';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    const options = fleetOptions(fake, redis.url, prefix, {
      pollingIntervalMs: intervalMs,
      leaseTtlMs,
      maxAgeMs,
    });
    const fleet = await startFleet('c7', keys.slice(0, 2), options);
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' });
    const verifiedBefore = Number(await client.hget(k.meta, 'v'));
    const windowStart = Date.now();
    await sleep(3_000); // 10 lease TTLs, 6 × maxAge, 30 polls
    const windowMs = Date.now() - windowStart;
    const polls = definitionsRequestsOf(fake, fleet, windowStart);
    const exists = await client.exists(k.definitions);
    const pttl = await client.pttl(k.definitions);
    const verifiedAfter = Number(await client.hget(k.meta, 'v'));
    const health = await Promise.all(fleet.map((w) => httpGet(w.worker, '/health')));

    // Newcomers join while the copy is only ever verified by 304s.
    const newcomersAt = Date.now();
    const newcomers = await Promise.all([
      startWorker('c7-new-0', options(keys[2])),
      startWorker('c7-new-1', options(keys[3])),
    ]);
    const newStatuses = await statusesOf(newcomers);
    const newCheckouts = await Promise.all(
      newcomers.map((w) => httpGet(w.worker, '/checkout', 'erin')),
    );
    await sleep(5 * intervalMs);
    const newcomerFetches = newcomers.map(
      (w) => definitionsRequestsBy(fake, w.secretKey, newcomersAt).length,
    );

    record('7', 'definitions unchanged far longer than every TTL (304 forever)', {
      windowMs,
      leaseTtlMs,
      maxAgeMs,
      polls: polls.length,
      polls304: polls.filter((r) => r.status === 304).length,
      polls200: polls.filter((r) => r.status === 200).length,
      sharedCopyExists: exists === 1,
      sharedCopyPttl: pttl,
      verifiedAdvancedMs: verifiedAfter - verifiedBefore,
      healthStatusCodes: health.map((h) => h.status),
      newcomerBootMs: newcomers.map((w) => w.bootMs),
      newcomerFetches,
      newcomerRoles: newStatuses.map((s) => s.role),
    });
    expect(polls.length).toBeGreaterThanOrEqual(15);
    expect(polls.filter((r) => r.status === 304).length).toBe(polls.length);
    expect(exists).toBe(1);
    expect(pttl).toBe(-1); // no TTL to outlive
    expect(verifiedAfter - verifiedBefore).toBeGreaterThan(windowMs - 5 * intervalMs);
    expect(health.map((h) => h.status)).toEqual([200, 200]);
    expect(newcomerFetches).toEqual([0, 0]);
    for (const s of newStatuses) {
      expect(s).toMatchObject({ ready: true, role: 'follower', flagCount: 2, redis: 'ready' });
    }
    expect(newCheckouts.map((c) => c.status)).toEqual([200, 200]);
    await Promise.all([...fleet, ...newcomers].map((w) => w.worker.stop()));
  });

  describe('case 11: bad and huge 200 answers', () => {
    const intervalMs = 200;
    const prefix = 'faults-c11';
    let fleet: FleetWorker[];
    let load = new LoadLoop([]); // replaced once the fleet is up
    const k = () => keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });

    beforeAll(async () => {
      fake.setDefinitions(checkoutDefinitions(true, 'c11-0'));
      fleet = await startFleet(
        'c11',
        keys.slice(4, 7),
        fleetOptions(fake, redis.url, prefix, {
          pollingIntervalMs: intervalMs,
          leaseTtlMs: 3_000,
          startupTimeoutMs: 10_000,
        }),
      );
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' });
      load = new LoadLoop(fleet).start(); // new-checkout stays on in every version below
    });
    afterAll(async () => {
      await load.stop();
    });

    const bad: DefinitionsFault[] = [
      { kind: 'no-flags' },
      { kind: 'truncated' },
      { kind: 'invalid-json' },
    ];
    bad.forEach((fault, i) => {
      const kind = fault.kind;
      it(`writes nothing for a 200 with ${kind}, keeps serving, then takes the next good answer`, async () => {
        const before = envelopeHash(await client.get(k().definitions));
        const sampler = new KeySampler(client, async (c) =>
          envelopeHash(await c.get(k().definitions)),
        );
        const faultAt = Date.now();
        fake.setFault(fault, { times: 2 });
        fake.setDefinitions(checkoutDefinitions(true, `c11-${i + 1}`));
        const badAnswers = await waitUntil(
          () => {
            const answered = definitionsRequestsOf(fake, fleet, faultAt).filter(
              (r) => r.status === 200,
            );
            return answered.length >= 2 ? answered : undefined;
          },
          { timeoutMs: 5_000, what: `two ${kind} answers` },
        );
        const after = await waitUntil(
          async () => {
            const hash = envelopeHash(await client.get(k().definitions));
            return hash !== before ? hash : undefined;
          },
          { timeoutMs: 5_000, what: 'the next good definitions in Redis' },
        );
        const replacedMs = Date.now() - faultAt;
        await sleep(100);
        const changes = await sampler.stop();
        const stored = (await readStoredDefinitions(client, k()))!;
        const statuses = await statusesOf(fleet);
        record(`11-${kind}`, `200 with ${kind}`, {
          badAnswers: badAnswers.value.length,
          storedSequence: changes.map((c) =>
            c.value === before ? 'old' : c.value === after.value ? 'new' : c.value,
          ),
          goodCopyAfterMs: replacedMs,
          flagsStored: stored.data.flags.length,
          failedRequestsSoFar: load.failed,
        });
        // Exactly old → new: never empty, never unparsable, never a half-written copy.
        expect(changes.map((c) => c.value)).toEqual([before, after.value]);
        expect(stored.data.flags.map((f) => f.key)).toEqual([
          'new-checkout',
          `marker-c11-${i + 1}`,
        ]);
        for (const s of statuses) expect(s).toMatchObject({ ready: true, flagCount: 2 });
        expect(load.failed).toBe(0);
      });
    });

    it('writes and reads a multi-megabyte payload within a bound; followers do not re-read it while unchanged', async () => {
      const big = bigDefinitions();
      const flagCount = big.flags.length;
      const changedAt = Date.now();
      fake.setDefinitions(big);
      const everywhere = await waitUntil(
        async () => (await statusesOf(fleet)).every((s) => s.flagCount === flagCount),
        { timeoutMs: 20_000, intervalMs: 50, what: 'the big definitions in every process' },
      );
      const propagatedMs = Date.now() - changedAt;
      const storedBytes = await client.strlen(k().definitionsCompressed);
      await sleep(2 * intervalMs);

      // Unchanged from here on: followers read `meta` each poll, never the megabytes again. The
      // gated load pauses, so the CPU a process uses is its polling.
      await load.stop();
      const before = await redisStats(client);
      const cpuBefore = fleet.map((w) => cpuMs(w.worker.pid));
      const windowStart = Date.now();
      await sleep(15 * intervalMs);
      const windowMs = Date.now() - windowStart;
      const cpuAfter = fleet.map((w) => cpuMs(w.worker.pid));
      const after = await redisStats(client);
      load = new LoadLoop(fleet).start();
      const statuses = await statusesOf(fleet);
      const roles = statuses.map((s) => s.role);
      const metaReads = (after.calls.hmget ?? 0) - (before.calls.hmget ?? 0);
      const netOut = after.netOutputBytes - before.netOutputBytes;
      const polls = windowMs / intervalMs;
      const cpuPerPoll = fleet.map((_, i) =>
        Number(((cpuAfter[i] - cpuBefore[i]) / polls).toFixed(1)),
      );
      const followerCpuPerPoll = Math.max(...cpuPerPoll.filter((_, i) => roles[i] === 'follower'));
      // What reading the copy again would cost at the least: parsing it and hashing its content.
      const serialized = JSON.stringify(big);
      const parseStarted = performance.now();
      JSON.stringify(JSON.parse(serialized));
      const referenceParseMs = performance.now() - parseStarted;

      record('11-big', 'a multi-megabyte payload', {
        payloadBytes: serialized.length,
        storedBytes,
        flagCount,
        writtenAndReadEverywhereMs: propagatedMs,
        polled: everywhere.ms,
        windowMs,
        metaReadsWhileUnchanged: metaReads,
        redisBytesOutWhileUnchanged: netOut,
        cpuMsPerPoll: cpuPerPoll,
        roles,
        followerCpuMsPerPoll: followerCpuPerPoll,
        referenceParseMs: Number(referenceParseMs.toFixed(1)),
        failedRequests: load.failed,
        maxRequestMs: load.maxMs,
      });
      expect(serialized.length).toBeGreaterThan(5 * 1024 * 1024);
      expect(storedBytes * 5).toBeLessThan(serialized.length); // stored compressed
      expect(propagatedMs).toBeLessThan(5_000);
      expect(roles.filter((r) => r === 'follower')).toHaveLength(2);
      expect(metaReads).toBeGreaterThanOrEqual(polls); // two followers, one meta read a poll each
      expect(netOut).toBeLessThan(storedBytes); // not one full (compressed) copy went out
      expect(netOut).toBeLessThan(metaReads * 1_000); // small meta reads, and nothing more
      expect(followerCpuPerPoll).toBeLessThan(referenceParseMs); // no re-parse on an unchanged poll
      for (const s of statuses) expect(s).toMatchObject({ ready: true, flagCount });
      expect(load.failed).toBe(0);
    }, 60_000);
  });

  it('case 14 (payload faults): no secret key in any process output', async () => {
    await expectNoSecretInOutputs('payloads', fake, [client]);
  });
});
