/**
 * Shared tools of the fault-injection suite: worker bookkeeping (every worker a spec file starts is
 * remembered, so its output can be searched for secrets at the end), a load loop of gated requests,
 * polling helpers, and result recording (`FAULT-RESULT {json}` lines and `.build/fault-results/`).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { cacheKeys, type CacheKeys } from '../../src/sources/shared/cache-keys.js';
import {
  booleanFlag,
  type FakePostHog,
  type FakeRequestLogEntry,
  type FlagDefinitionsPayload,
} from '../support/fake-posthog.js';
import { redisClientKind } from '../support/redis-client-kind.js';
import { WorkerProcess } from '../support/worker-process.js';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** What the worker prints on an unhandled promise rejection. */
export const UNHANDLED = 'UNHANDLED REJECTION';

/** Polls `probe` until it returns something truthy; throws naming `what` after `timeoutMs`. */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  { timeoutMs, intervalMs = 20, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<{ value: NonNullable<T>; ms: number }> {
  const started = Date.now();
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return { value: last as NonNullable<T>, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${show(last)})`);
    }
    await sleep(intervalMs);
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Distinct bearer keys (one per process), so the fake can tell processes apart and target one. */
export function secretKeys(tag: string, count: number): string[] {
  const run = randomBytes(3).toString('hex');
  return Array.from({ length: count }, (_, i) => `phs_${tag}_${i}_${run}_SECRET`);
}

/** `new-checkout` on (100%) or off (0%), plus a marker flag that makes each version's content distinct. */
export function checkoutDefinitions(on: boolean, marker: string): FlagDefinitionsPayload {
  return {
    flags: [
      booleanFlag('new-checkout', { rolloutPercentage: on ? 100 : 0 }),
      booleanFlag(`marker-${marker}`),
    ],
  };
}

export function keysOf(options: { keyPrefix: string; projectApiKey: string }): CacheKeys {
  return cacheKeys(options.keyPrefix, options.projectApiKey);
}

// --- Workers ----------------------------------------------------------------------------------

export interface FleetWorker {
  name: string;
  worker: WorkerProcess;
  secretKey: string;
  /** From fork to the app listening. */
  bootMs: number;
  options: PostHogFlagsModuleOptions;
}

/** Every worker started by this spec file (a module instance per file under Jest). */
const started: FleetWorker[] = [];
/** Every secret handed to a worker of this spec file. */
const secrets = new Set<string>();

export function registerSecret(secret: string): void {
  secrets.add(secret);
}

export async function startWorker(
  name: string,
  options: PostHogFlagsModuleOptions,
  timeoutMs = 30_000,
  /** Extra environment of the child (e.g. a preloaded module through NODE_OPTIONS). */
  env: Record<string, string> = {},
): Promise<FleetWorker> {
  if (options.secretKey) secrets.add(options.secretKey);
  const startedAt = Date.now();
  const worker = await WorkerProcess.start(options, { timeoutMs, env });
  const entry: FleetWorker = {
    name,
    worker,
    secretKey: options.secretKey ?? '',
    bootMs: Date.now() - startedAt,
    options,
  };
  started.push(entry);
  return entry;
}

export function startedWorkers(): readonly FleetWorker[] {
  return started;
}

export function isAlive(w: FleetWorker): boolean {
  return w.worker.child.exitCode === null && w.worker.child.signalCode === null;
}

/** SIGKILL every worker still running (afterAll safety net). */
export async function killAll(): Promise<void> {
  await Promise.all(
    started.map(async (w) => {
      if (isAlive(w)) w.worker.signal('SIGCONT');
      await w.worker.kill();
    }),
  );
}

/** Graceful stop (SIGTERM) of every worker still running, so shutdown logs are captured too. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    started.map(async (w) => {
      if (isAlive(w)) w.worker.signal('SIGCONT');
      await w.worker.stop(10_000);
    }),
  );
}

/** Where each secret of this file shows up in any worker's output (case 14). */
export function secretLeaks(extra: string[] = []): Array<{ worker: string; secretIndex: number }> {
  const all = [...secrets, ...extra];
  const leaks: Array<{ worker: string; secretIndex: number }> = [];
  for (const w of started) {
    all.forEach((secret, secretIndex) => {
      if (w.worker.output.includes(secret)) leaks.push({ worker: w.name, secretIndex });
    });
  }
  return leaks;
}

export function allSecrets(): string[] {
  return [...secrets];
}

export function unhandledRejections(): string[] {
  return started.filter((w) => w.worker.output.includes(UNHANDLED)).map((w) => w.name);
}

// --- HTTP ---------------------------------------------------------------------------------------

export interface HttpResult {
  status: number;
  body: any;
  ms: number;
}

/** GET with a timeout: a stopped (SIGSTOP) or black-holed process must not hang the test. */
export async function httpGet(
  worker: WorkerProcess,
  path: string,
  user?: string,
  timeoutMs = 3_000,
): Promise<HttpResult> {
  const started = Date.now();
  const response = await fetch(`${worker.url}${path}`, {
    headers: user ? { authorization: `Bearer ${user}` } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text
  }
  return { status: response.status, body, ms: Date.now() - started };
}

export interface WorkerStatus {
  ready: boolean;
  role: string;
  flagCount: number;
  fetchedAt: number | null;
  verifiedAt: number | null;
  ageMs: number | null;
  redis: string;
  leader: string | null;
  quotaLimited: boolean;
  lastError: string | null;
}

export async function statusOf(w: FleetWorker, timeoutMs = 3_000): Promise<WorkerStatus> {
  return (await httpGet(w.worker, '/flags/status', undefined, timeoutMs)).body as WorkerStatus;
}

export function statusesOf(ws: readonly FleetWorker[]): Promise<WorkerStatus[]> {
  return Promise.all(ws.map((w) => statusOf(w)));
}

export async function rolesOf(ws: readonly FleetWorker[]): Promise<string[]> {
  return (await statusesOf(ws)).map((s) => s.role);
}

/** The workers whose status says `leader`. */
export async function leadersOf(ws: readonly FleetWorker[]): Promise<FleetWorker[]> {
  const roles = await rolesOf(ws);
  return ws.filter((_, i) => roles[i] === 'leader');
}

/** Exactly one leader and every other worker a follower. */
export async function sharedModeOf(ws: readonly FleetWorker[]): Promise<FleetWorker | undefined> {
  const roles = await rolesOf(ws);
  if (roles.filter((r) => r === 'leader').length !== 1) return undefined;
  if (roles.filter((r) => r === 'follower').length !== ws.length - 1) return undefined;
  return ws[roles.indexOf('leader')];
}

/** The lease token (`host:pid:random`) belongs to this worker. */
export function tokenIsOf(token: string | null, w: FleetWorker): boolean {
  return token !== null && token.split(':').at(-2) === String(w.worker.pid);
}

// --- The fake's request log -------------------------------------------------------------------

/** Definitions requests made with one process's key (optionally since a time). */
export function definitionsRequestsBy(
  fake: FakePostHog,
  secretKey: string,
  since = 0,
): FakeRequestLogEntry[] {
  return fake.requests.filter(
    (r) =>
      r.path === '/flags/definitions' && r.at >= since && r.authorization === `Bearer ${secretKey}`,
  );
}

/** Definitions requests made with any of these keys (one fleet) since a time. */
export function definitionsRequestsOf(
  fake: FakePostHog,
  ws: readonly FleetWorker[],
  since = 0,
): FakeRequestLogEntry[] {
  const keys = new Set(ws.map((w) => `Bearer ${w.secretKey}`));
  return fake.requests.filter(
    (r) =>
      r.path === '/flags/definitions' && r.at >= since && keys.has(r.authorization ?? '<none>'),
  );
}

/** GET on a connection of its own (`Connection: close`): nothing lingers in a keep-alive pool. */
export function httpGetOnce(
  worker: WorkerProcess,
  path: string,
  user: string,
  timeoutMs = 3_000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: worker.port,
        path,
        agent: false,
        headers: { authorization: `Bearer ${user}` },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
    );
    req.once('error', reject);
    req.end();
  });
}

/**
 * A client in the middle of a request (headers not finished, like a slow mobile upload): the HTTP
 * server counts the connection as busy and, when closing, waits for it. Destroy it to let go.
 */
export function openSlowRequest(worker: WorkerProcess, user = 'slow-client'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(worker.port, '127.0.0.1', () => {
      socket.write(
        `GET /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${user}\r\n`,
      );
      resolve(socket);
    });
    socket.on('error', () => undefined); // the server may drop it
    socket.once('error', reject);
  });
}

// --- Load ---------------------------------------------------------------------------------------

export interface LoadStats {
  ok: number;
  /** Answered with another status than expected. */
  badStatus: number;
  /** No answer: refused, reset, timed out (by error code). */
  errors: Record<string, number>;
  maxMs: number;
  samples: string[];
}

/**
 * Gated requests in a loop against each target (the requests a user cares about), counting every
 * answer that is not the expected status and every request that got no answer.
 */
export class LoadLoop {
  readonly stats = new Map<string, LoadStats>();
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private readonly stopped = new Set<string>();

  constructor(
    private readonly targets: readonly FleetWorker[],
    private readonly options: {
      path?: string;
      expectStatus?: number;
      /** Fresh user ids (exposure events pile up) instead of a small fixed set. */
      uniqueUsers?: boolean;
      /** A connection per request (`Connection: close`) instead of fetch's keep-alive pool. */
      connectionPerRequest?: boolean;
      pauseMs?: number;
      timeoutMs?: number;
      perTarget?: number;
    } = {},
  ) {
    for (const t of targets) {
      this.stats.set(t.name, { ok: 0, badStatus: 0, errors: {}, maxMs: 0, samples: [] });
    }
  }

  start(): this {
    this.running = true;
    for (const target of this.targets) {
      for (let i = 0; i < (this.options.perTarget ?? 1); i++) this.loops.push(this.loop(target));
    }
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Stops sending to one target (a load balancer that took it out of rotation). */
  stopTarget(name: string): void {
    this.stopped.add(name);
  }

  /** Requests made so far that failed (bad status or no answer), over every target. */
  get failed(): number {
    let n = 0;
    for (const s of this.stats.values()) {
      n += s.badStatus + Object.values(s.errors).reduce((a, b) => a + b, 0);
    }
    return n;
  }

  get total(): number {
    let n = 0;
    for (const s of this.stats.values()) {
      n += s.ok + s.badStatus + Object.values(s.errors).reduce((a, b) => a + b, 0);
    }
    return n;
  }

  get maxMs(): number {
    return Math.max(0, ...[...this.stats.values()].map((s) => s.maxMs));
  }

  of(name: string): LoadStats {
    return this.stats.get(name)!;
  }

  private async loop(target: FleetWorker): Promise<void> {
    const stats = this.stats.get(target.name)!;
    const path = this.options.path ?? '/checkout';
    const expected = this.options.expectStatus ?? 200;
    while (this.running && !this.stopped.has(target.name)) {
      const n = this.seq++;
      const user = this.options.uniqueUsers ? `load-${n}-${Date.now()}` : `load-user-${n % 16}`;
      const started = Date.now();
      try {
        const timeoutMs = this.options.timeoutMs ?? 2_000;
        const status = this.options.connectionPerRequest
          ? await httpGetOnce(target.worker, path, user, timeoutMs)
          : (await httpGet(target.worker, path, user, timeoutMs)).status;
        if (status === expected) stats.ok++;
        else {
          stats.badStatus++;
          if (stats.samples.length < 5) stats.samples.push(`status ${status}`);
        }
      } catch (error) {
        const code = errorCode(error);
        stats.errors[code] = (stats.errors[code] ?? 0) + 1;
        if (stats.samples.length < 5) stats.samples.push(code);
      }
      stats.maxMs = Math.max(stats.maxMs, Date.now() - started);
      await sleep(this.options.pauseMs ?? 5);
    }
  }
}

function errorCode(error: unknown): string {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  return e?.cause?.code ?? e?.code ?? e?.cause?.name ?? e?.name ?? 'error';
}

// --- Results ------------------------------------------------------------------------------------

const RESULTS_DIR = join(process.cwd(), '.build', 'fault-results');

/**
 * Records what a case measured: a `FAULT-RESULT {json}` line on stdout and a JSON file under
 * `.build/fault-results/` (the report's table is built from these files).
 */
export function record(caseId: string, title: string, figures: Record<string, unknown>): void {
  // A run on another client kind (FLAGS_REDIS_CLIENT) records rows of its own.
  const kind = redisClientKind();
  if (kind !== 'module') caseId = `${caseId} [client: ${kind}]`;
  const entry = { case: caseId, title, at: new Date().toISOString(), ...figures };
  const line = JSON.stringify(entry);
  process.stdout.write(`FAULT-RESULT ${line}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${caseId.replace(/[^\w.-]+/g, '_')}.json`;
  writeFileSync(join(RESULTS_DIR, file), `${line}\n`);
}

/** The shared options of one fleet: the fake, a Redis, a key prefix of the case's own. */
export function fleetOptions(
  fake: FakePostHog,
  redisUrl: string | undefined,
  keyPrefix: string,
  extra: Partial<PostHogFlagsModuleOptions> = {},
): (secretKey: string) => PostHogFlagsModuleOptions {
  return (secretKey) => ({
    projectApiKey: fake.projectApiKey,
    secretKey,
    host: fake.url,
    ...(redisUrl !== undefined && { redis: redisUrl }),
    keyPrefix,
    ...extra,
  });
}

/** Starts `keys.length` workers together (one per key). */
export function startFleet(
  tag: string,
  keys: readonly string[],
  optionsFor: (secretKey: string, index: number) => PostHogFlagsModuleOptions,
  timeoutMs?: number,
): Promise<FleetWorker[]> {
  return Promise.all(
    keys.map((key, i) => startWorker(`${tag}-${i}`, optionsFor(key, i), timeoutMs)),
  );
}
