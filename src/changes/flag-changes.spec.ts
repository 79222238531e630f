import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';
import { PostHogFlagsModule } from '../posthog-flags.module.js';
import { FeatureFlagsService } from '../posthog-flags.service.js';
import { PostHogFlagsTestingModule } from '../testing/posthog-flags-testing.module.js';
import { PostHogFlagsTesting } from '../testing/posthog-flags-testing.service.js';
import type { FlagsChangeEvent } from './flag-change.js';
import { OnFlagChange } from './on-flag-change.decorator.js';

/** A user's provider: listeners on one flag, on any flag, on an unrelated flag, and broken ones. */
@Injectable()
class CheckoutWatcher {
  readonly onX: Array<{ event: FlagsChangeEvent; xEnabled: boolean }> = [];
  readonly onAny: FlagsChangeEvent[] = [];
  readonly onUnrelated: FlagsChangeEvent[] = [];
  readonly onXOrY: FlagsChangeEvent[] = [];

  constructor(private readonly flags: FeatureFlagsService) {}

  @OnFlagChange('x')
  async xChanged(event: FlagsChangeEvent) {
    // What a listener usually does next: evaluate. It must see the new definitions already.
    this.onX.push({ event, xEnabled: await this.flags.isEnabled('x', 'user-1') });
  }

  @OnFlagChange()
  anyChanged(event: FlagsChangeEvent) {
    this.onAny.push(event);
  }

  @OnFlagChange('unrelated')
  unrelatedChanged(event: FlagsChangeEvent) {
    this.onUnrelated.push(event);
  }

  @OnFlagChange(['x', 'y'])
  @OnFlagChange('y')
  xOrYChanged(event: FlagsChangeEvent) {
    this.onXOrY.push(event);
  }

  @OnFlagChange('x')
  throwsAtOnce(): void {
    throw new Error('listener bug (sync)');
  }

  @OnFlagChange('x')
  async rejects(): Promise<void> {
    await Promise.resolve();
    throw new Error('listener bug (async)');
  }
}

/** Controllers are scanned too. */
@Controller('pricing')
class PricingController {
  readonly calls: FlagsChangeEvent[] = [];

  @OnFlagChange('y')
  yChanged(event: FlagsChangeEvent) {
    this.calls.push(event);
  }
}

class Warnings implements LoggerService {
  readonly lines: string[] = [];
  log() {}
  error(message: unknown) {
    this.lines.push(String(message));
  }
  warn(message: unknown) {
    this.lines.push(String(message));
  }
}

/** Lets deferred deliveries and async listeners finish: until `done` (at most 2 s), then 100 ms more. */
async function settle(done: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('flag change events in one process', () => {
  let app: INestApplication | undefined;
  afterEach(async () => app?.close());

  async function boot(imports: unknown[]) {
    const warnings = new Warnings();
    const moduleRef = await Test.createTestingModule({
      imports: imports as never[],
      providers: [CheckoutWatcher],
      controllers: [PricingController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: warnings });
    await app.init();
    await settle();
    return { watcher: app.get(CheckoutWatcher), warnings };
  }

  it('testing module: the first load is no change; each edit fires the listeners of its keys', async () => {
    const { watcher, warnings } = await boot([
      PostHogFlagsTestingModule.forRoot({ flags: { unrelated: true, x: false, y: true } }),
    ]);
    const seen: FlagsChangeEvent[] = [];
    app!
      .get(FeatureFlagsService)
      .changes()
      .subscribe((event) => seen.push(event));
    expect(watcher.onAny).toEqual([]);

    const testing = app!.get(PostHogFlagsTesting);
    const before = Date.now();
    await testing.setFlags({ unrelated: true, x: true, y: true });
    await settle(() => watcher.onX.length > 0);

    expect(watcher.onX).toHaveLength(1);
    const { event, xEnabled } = watcher.onX[0];
    expect(xEnabled).toBe(true);
    expect(event.keys).toEqual(['x']);
    expect(event.changes).toEqual([
      {
        key: 'x',
        kind: 'changed',
        previous: expect.objectContaining({ key: 'x', active: false }),
        current: expect.objectContaining({ key: 'x', active: true }),
      },
    ]);
    expect(event.at.getTime()).toBeGreaterThanOrEqual(before);
    expect(watcher.onAny).toEqual([event]);
    expect(watcher.onXOrY).toEqual([event]);
    expect(watcher.onUnrelated).toEqual([]);
    expect(seen).toEqual([event]);
    // Both broken listeners were logged, and the others (above) ran regardless.
    expect(warnings.lines.filter((line) => line.includes('@OnFlagChange'))).toEqual([
      expect.stringContaining('CheckoutWatcher.throwsAtOnce failed: Error: listener bug (sync)'),
      expect.stringContaining('CheckoutWatcher.rejects failed: Error: listener bug (async)'),
    ]);

    // The same definitions again: nothing changed, nothing fires.
    await testing.setFlags({ unrelated: true, x: true, y: true });
    await settle();
    expect(seen).toHaveLength(1);

    // A flag added and one removed in one edit: one event with both.
    await testing.setFlags({ unrelated: true, x: true, z: 'variant-a' });
    await settle();
    expect(seen).toHaveLength(2);
    expect(seen[1].keys).toEqual(['y', 'z']);
    expect(seen[1].changes.map(({ key, kind }) => ({ key, kind }))).toEqual([
      { key: 'y', kind: 'removed' },
      { key: 'z', kind: 'added' },
    ]);
    expect(seen[1].changes[0].current).toBeUndefined();
    expect(seen[1].changes[1].previous).toBeUndefined();
    expect(watcher.onX).toHaveLength(1);
    expect(watcher.onXOrY).toHaveLength(2);
    expect(app!.get(PricingController).calls).toEqual([seen[1]]);

    // The broken listeners failed again within the minute: still two lines, not four.
    await testing.setFlags({ unrelated: true, x: false, z: 'variant-a' });
    await settle(() => watcher.onX.length > 1);
    expect(watcher.onX).toHaveLength(2);
    expect(warnings.lines.filter((line) => line.includes('@OnFlagChange'))).toHaveLength(2);
  });

  it('compares each flag by its definition, not the order of its fields', async () => {
    const definitions = (flags: FlagDefinitions['flags']): FlagDefinitions => ({ flags });
    await boot([
      PostHogFlagsTestingModule.forRoot({
        definitions: definitions([
          { id: 1, key: 'x', active: true, filters: { groups: [{ rollout_percentage: 50 }] } },
        ]),
      }),
    ]);
    const seen: FlagsChangeEvent[] = [];
    app!
      .get(FeatureFlagsService)
      .changes()
      .subscribe((event) => seen.push(event));
    const testing = app!.get(PostHogFlagsTesting);
    await testing.setDefinitions(
      definitions([
        { filters: { groups: [{ rollout_percentage: 50 }] }, active: true, key: 'x', id: 1 },
      ]),
    );
    await settle();
    expect(seen).toEqual([]);
    await testing.setDefinitions(
      definitions([
        { id: 1, key: 'x', active: true, filters: { groups: [{ rollout_percentage: 60 }] } },
      ]),
    );
    await settle();
    expect(seen.map((event) => event.keys)).toEqual([['x']]);
  });

  it('offline mode: booting on given definitions fires nothing', async () => {
    const { watcher } = await boot([
      PostHogFlagsModule.forRoot({
        projectApiKey: 'phc_offline',
        definitions: { flags: [{ id: 1, key: 'x', active: true, filters: { groups: [] } }] },
      }),
    ]);
    expect(await app!.get(FeatureFlagsService).isEnabled('x', 'user-1')).toBe(false);
    await settle();
    expect(watcher.onAny).toEqual([]);
    expect(watcher.onX).toEqual([]);
  });
});
