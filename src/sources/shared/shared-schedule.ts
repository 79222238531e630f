import type { Logger } from '@nestjs/common';
import { IntervalScheduler } from '../interval-scheduler.js';
import type { ChangeSubscription } from './change-subscription.js';
import { QUOTA_NOTICE } from './notices.js';
import type { RoleMachine } from './role-machine.js';
import type { SharedCopyReader } from './shared-copy-reader.js';
import type { DefinitionsClient } from './redis-flag-definition-cache.js';

/**
 * When the bound client loads, in shared and reader modes: the leader fetches each interval; the
 * others read meta each interval (the safety net) or on a change notice, and load only a new hash.
 */
export class SharedSchedule {
  private scheduler?: IntervalScheduler;
  /** True once the client's first load is over: from then on it loads only when asked. */
  private owningClient = false;
  /** What the load the schedule started is for (undefined: a load posthog-node began itself). */
  private loadIntent?: 'fetch' | 'read';
  /** The schedule's loads, one at a time. */
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly machine: RoleMachine,
    private readonly reader: SharedCopyReader,
    private readonly intervalMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly changes?: ChangeSubscription,
  ) {}

  get owning(): boolean {
    return this.owningClient;
  }

  /** A client is bound: its loads are the schedule's, also the first one still under way. */
  get bound(): boolean {
    return this.scheduler !== undefined;
  }

  get intent(): 'fetch' | 'read' | undefined {
    return this.loadIntent;
  }

  bind(client: DefinitionsClient): void {
    if (this.scheduler) return;
    this.scheduler = new IntervalScheduler(
      this.intervalMs,
      () => this.tick(client),
      (error) => this.logger.warn(`Definitions load failed: ${String(error)}`),
    );
    // The client's first load (begun in its constructor) decides as an unbound load would; the
    // schedule owns every load after it. (This reload joins that first load.)
    void client
      .reloadFeatureFlags()
      .catch(() => undefined)
      .finally(() => {
        this.owningClient = true;
        this.scheduler?.start();
      });
    this.changes?.start({
      onReleased: () => this.machine.noticeRelease(),
      onChange: (announced) => this.reloadFor(client, announced),
    });
  }

  stop(): void {
    this.scheduler?.stop();
  }

  /** One interval: the leader fetches; the others read meta and load only what changed. */
  private async tick(client: DefinitionsClient): Promise<void> {
    const kind = this.machine.kind;
    if (kind === 'closed') return;
    if (kind === 'reader' || kind === 'leaving' || kind === 'follower' || kind === 'steppedDown') {
      const meta = await this.reader.peekMeta();
      if (kind === 'reader' && meta !== 'failed') this.machine.noteRedisReachable();
      if (kind === 'reader' || kind === 'leaving' || this.machine.mayRest(meta)) {
        if (meta === 'failed' || !meta) return;
        if (this.reader.differs(meta)) return this.load(client, 'read');
        this.reader.noteUnchanged(meta);
        return;
      }
    }
    const decision = await this.machine.decide();
    if (decision === 'fetch') {
      await this.machine.restoreSharedHash();
      await this.load(client, 'fetch');
      this.machine.noteUnusableBody();
    } else if (decision === 'read') {
      const meta = await this.reader.peekMeta();
      if (meta === 'failed' || !meta) return;
      if (this.reader.differs(meta)) await this.load(client, 'read');
      else this.reader.noteUnchanged(meta);
    }
  }

  /** Makes the client load, for `intent`; the schedule's loads never overlap. */
  private load(client: DefinitionsClient, intent: 'fetch' | 'read'): Promise<void> {
    const run = async (): Promise<void> => {
      this.loadIntent = intent;
      try {
        await client.reloadFeatureFlags();
      } finally {
        this.loadIntent = undefined;
      }
    };
    this.loading = this.loading.then(run, run);
    return this.loading;
  }

  /**
   * Reloads after a change notice. A reload can join a load that read Redis just before the
   * change, so it repeats (a few times at most) until the announced content is in.
   */
  private async reloadFor(client: DefinitionsClient, announced: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const kind = this.machine.kind;
      if (kind === 'leader' || kind === 'closed' || announced === this.reader.current?.hash) {
        return;
      }
      await this.load(client, 'read');
      if (announced === QUOTA_NOTICE) return;
    }
  }
}
