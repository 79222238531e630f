import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { WorkerProcess } from '../support/worker-process.js';
import { BenchChild } from './child.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { jsonOf, sleep } from './http-probe.js';
import type { SdkWorkerConfig } from './sdk-worker.js';

/** The three ways a fleet can get its definitions. */
export type Variant = 'module' | 'alone' | 'naive';

export const VARIANT_LABEL: Record<Variant, string> = {
  module: 'this module',
  alone: 'posthog-node alone',
  naive: 'naive pattern (posthog-node docs)',
};

export interface FleetSetup {
  variant: Variant;
  /** The fake PostHog's URL. */
  host: string;
  redisUrl: string;
  intervalMs: number;
  /** Module options on top of the fleet's (e.g. a longer interval for one process). */
  moduleOverrides?: Partial<PostHogFlagsModuleOptions>;
  /** Another build of the module's worker (the previous release's: test/support/previous-release.ts). */
  workerEntry?: string;
}

/** One process of a fleet: the example app with the module, or a posthog-node baseline process. */
export interface FleetMember {
  readonly url: string;
  /** `leader`/`follower`/… for the module; the variant for baselines. */
  role(): Promise<string | undefined>;
  ready(): Promise<boolean>;
  kill(): Promise<void>;
}

interface StatusBody {
  ready?: boolean;
  role?: string;
}

function moduleMember(worker: WorkerProcess): FleetMember {
  const status = (): Promise<StatusBody | undefined> => jsonOf(worker.url, '/flags/status');
  return {
    url: worker.url,
    role: async () => (await status())?.role,
    ready: async () => (await status())?.ready === true,
    kill: () => worker.kill(),
  };
}

function sdkMember(child: BenchChild): FleetMember {
  const status = (): Promise<StatusBody | undefined> => jsonOf(child.url, '/status');
  return {
    url: child.url,
    role: async () => (await status())?.role,
    ready: async () => (await status())?.ready === true,
    kill: () => child.kill(),
  };
}

export async function startMember(setup: FleetSetup): Promise<FleetMember> {
  if (setup.variant === 'module') {
    const worker = await WorkerProcess.start(
      {
        projectApiKey: PROJECT_API_KEY,
        secretKey: SECRET_KEY,
        host: setup.host,
        redis: setup.redisUrl,
        pollingIntervalMs: setup.intervalMs,
        ...setup.moduleOverrides,
      },
      { timeoutMs: 30_000, entry: setup.workerEntry },
    );
    return moduleMember(worker);
  }
  const config: SdkWorkerConfig = {
    mode: setup.variant,
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    host: setup.host,
    pollingIntervalMs: setup.intervalMs,
    redisUrl: setup.redisUrl,
  };
  const child = await BenchChild.start('sdk-worker.js', {
    env: { BENCH_SDK_WORKER: JSON.stringify(config) },
    timeoutMs: 30_000,
  });
  return sdkMember(child);
}

/** Resolves once `member` reports ready; false after `timeoutMs`. */
export async function waitReady(member: FleetMember, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await member.ready()) return true;
    await sleep(10);
  }
  return false;
}

/** N processes of one variant sharing one fake PostHog (and one Redis). */
export class Fleet {
  members: FleetMember[] = [];

  constructor(readonly setup: FleetSetup) {}

  /**
   * Starts `count` processes at once. Resolves each one's time from the common start until it
   * answered ready (listening and holding definitions), in ms.
   */
  async startTogether(count: number): Promise<number[]> {
    const started = performance.now();
    const readyAfter = await Promise.all(
      Array.from({ length: count }, async () => {
        const member = await startMember(this.setup);
        this.members.push(member);
        const ready = await waitReady(member);
        return ready ? performance.now() - started : Number.NaN;
      }),
    );
    return readyAfter;
  }

  /** Kills all but `count` processes, keeping the module's leader (a follower's exit is free). */
  async shrinkTo(count: number): Promise<void> {
    const roles = await Promise.all(this.members.map((m) => m.role()));
    const order = this.members
      .map((member, i) => ({ member, leader: roles[i] === 'leader' }))
      .sort((a, b) => Number(b.leader) - Number(a.leader));
    const keep = order.slice(0, count).map((o) => o.member);
    const drop = order.slice(count).map((o) => o.member);
    await Promise.all(drop.map((m) => m.kill()));
    this.members = keep;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    this.members = [];
  }
}
