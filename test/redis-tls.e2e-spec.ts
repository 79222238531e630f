/**
 * Redis over TLS with a private CA this test makes (openssl): a fleet of real processes with client
 * certificates (`tls-auth-clients yes`) in ioredis options form, one on a `rediss://` URL trusting
 * the CA through NODE_EXTRA_CA_CERTS, and the certificates a client must refuse: a server signed by
 * another CA, and a server certificate for another host name.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { cacheKeys } from '../src/sources/shared/cache-keys.js';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { freePort } from './support/free-port.js';
import { RedisServer, sleep } from './support/redis-server.js';
import {
  TestCertificateAuthority,
  redisTlsArgs,
  type CertificatePair,
} from './support/test-certificates.js';
import { WorkerProcess } from './support/worker-process.js';

const INTERVAL_MS = 200;
const LOCAL_NAMES = 'IP:127.0.0.1,DNS:localhost';

const definitions = (on: boolean) => ({
  flags: [booleanFlag('new-checkout', { rolloutPercentage: on ? 100 : 0 })],
});

interface TlsRedis {
  server: RedisServer;
  tlsPort: number;
}

async function startTlsRedis(
  cert: CertificatePair,
  caFile: string,
  authClients: 'yes' | 'no',
): Promise<TlsRedis> {
  const tlsPort = await freePort();
  // `--port` stays plain: the launcher pings it; clients below use only the TLS port.
  const server = await RedisServer.start({
    args: redisTlsArgs(tlsPort, cert, caFile, authClients),
  });
  return { server, tlsPort };
}

async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 8_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('Redis over TLS with a private CA', () => {
  let ca: TestCertificateAuthority;
  let rogueCa: TestCertificateAuthority;
  let client: CertificatePair;
  let fake: FakePostHog;
  let mutual: TlsRedis; // client certificates required
  let serverOnly: TlsRedis; // `rediss://` URL, no client certificate
  const everyWorker: WorkerProcess[] = [];

  const base = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: INTERVAL_MS,
  });
  const tlsOptions = (port: number, tls: Record<string, string>): PostHogFlagsModuleOptions => ({
    ...base(),
    redis: { host: '127.0.0.1', port, tls },
  });
  const start = async (options: PostHogFlagsModuleOptions, env?: Record<string, string>) => {
    const worker = await WorkerProcess.start(options, { env });
    everyWorker.push(worker);
    return worker;
  };

  beforeAll(async () => {
    ca = TestCertificateAuthority.create('flags-test-ca');
    rogueCa = TestCertificateAuthority.create('rogue-ca');
    client = ca.issue('flags-client', 'DNS:posthog-flags', 'clientAuth');
    fake = await FakePostHog.start({ definitions: definitions(false) });
    const server = ca.issue('redis-server', LOCAL_NAMES, 'serverAuth');
    mutual = await startTlsRedis(server, ca.ca.certFile, 'yes');
    serverOnly = await startTlsRedis(server, ca.ca.certFile, 'no');
  });
  afterAll(async () => {
    await Promise.all(everyWorker.map((w) => w.kill()));
    await fake?.close();
    await Promise.all([mutual, serverOnly].map((r) => r?.server.stop()));
    ca?.remove();
    rogueCa?.remove();
  });

  it('the server requires a client certificate (a client without one is refused)', async () => {
    const ping = async (tls: Record<string, string>): Promise<string> => {
      const direct = new Redis({
        host: '127.0.0.1',
        port: mutual.tlsPort,
        tls,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      direct.on('error', () => undefined);
      try {
        await direct.connect();
        return await direct.ping();
      } catch (error) {
        return String((error as Error).message);
      } finally {
        direct.disconnect();
      }
    };
    expect(await ping({ ca: ca.ca.cert, cert: client.cert, key: client.key })).toBe('PONG');
    // TLS 1.3: the server's refusal arrives after the client's side of the handshake, as a close.
    expect(await ping({ ca: ca.ca.cert })).toMatch(/closed|certificate|ECONNRESET/i);
  });

  it('runs a fleet of 3 with client certificates: one leader, changes carried to all', async () => {
    const options = tlsOptions(mutual.tlsPort, {
      ca: ca.ca.cert,
      cert: client.cert,
      key: client.key,
    });
    const fleet = await Promise.all([0, 1, 2].map(() => start(options)));
    await waitFor(async () => {
      const all = await Promise.all(fleet.map((w) => w.status()));
      return all.every((s) => s.ready && s.redis === 'ready');
    }, 'a ready fleet');
    const roles = (await Promise.all(fleet.map((w) => w.status()))).map((s) => s.role as string);
    expect(roles.sort((a, b) => a.localeCompare(b))).toEqual(['follower', 'follower', 'leader']);

    fake.setDefinitions(definitions(true));
    await waitFor(
      async () =>
        (await Promise.all(fleet.map((w) => w.get('/checkout', 'alice')))).every(
          (r) => r.status === 200,
        ),
      'the change everywhere',
    );
    const statuses = await Promise.all(fleet.map((w) => w.status()));
    expect(statuses.map((s) => s.redis)).toEqual(['ready', 'ready', 'ready']);
    // The change-notice connections (duplicates of the command connection) are up over TLS too.
    const channel = cacheKeys('posthog:flags', fake.projectApiKey).changedChannel;
    const admin = new Redis(mutual.server.url); // the plain port, for the test only
    try {
      expect(await admin.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 3]);
    } finally {
      admin.disconnect();
    }
    await Promise.all(fleet.map((w) => w.stop()));
  });

  it('connects with a rediss:// URL, trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const worker = await start(
      { ...base(), redis: `rediss://127.0.0.1:${serverOnly.tlsPort}` },
      { NODE_EXTRA_CA_CERTS: ca.ca.certFile },
    );
    await waitFor(async () => (await worker.status()).role === 'leader', 'a leader over rediss://');
    expect((await worker.status()).redis).toBe('ready');
    await worker.stop();
  });

  it('refuses a server certificate from another CA', async () => {
    const rogue = await startTlsRedis(
      rogueCa.issue('rogue-redis', LOCAL_NAMES, 'serverAuth'),
      rogueCa.ca.certFile,
      'no',
    );
    try {
      const worker = await start(tlsOptions(rogue.tlsPort, { ca: ca.ca.cert }));
      const status = await worker.status();
      expect(status).toMatchObject({ redis: 'down', role: 'standalone', ready: true });
      expect(worker.output).toMatch(/self[- ]signed certificate|unable to verify/i);
      await worker.stop();
    } finally {
      await rogue.server.stop();
    }
  });

  it('refuses a certificate for another host name, even from the trusted CA', async () => {
    const elsewhere = await startTlsRedis(
      ca.issue('redis-elsewhere', 'DNS:redis.elsewhere.example', 'serverAuth'),
      ca.ca.certFile,
      'no',
    );
    try {
      const worker = await start(tlsOptions(elsewhere.tlsPort, { ca: ca.ca.cert }));
      const status = await worker.status();
      expect(status).toMatchObject({ redis: 'down', role: 'standalone', ready: true });
      expect(worker.output).toMatch(/does not match certificate's altnames/i);
      await worker.stop();
    } finally {
      await elsewhere.server.stop();
    }
  });
});
