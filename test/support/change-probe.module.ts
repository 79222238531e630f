/**
 * What a multi-process test watches of `@OnFlagChange` in a worker: every call of a listener on
 * `new-checkout` (with the time it ran and what the flag evaluates to inside it), of a listener on
 * an unrelated flag, and of a listener that always throws. `GET /change-probe` returns them, and
 * each call is also sent to the parent over IPC (`{ type: 'change-probe', record }`): a test
 * waiting for a change need not poll the very processes whose latency it measures.
 */
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { FeatureFlagsService, OnFlagChange, type FlagsChangeEvent } from '../../src/index.js';

export interface ProbeCall {
  event: FlagsChangeEvent;
  /** `Date.now()` when the listener ran (one machine: comparable with the other processes). */
  firedAt: number;
  /** `new-checkout` for `user-1`, evaluated inside the listener. */
  checkoutEnabled?: boolean;
}

export interface ProbeRecord {
  checkout: ProbeCall[];
  unrelated: ProbeCall[];
  throwingCalls: number;
}

@Injectable()
export class ChangeProbe {
  readonly record: ProbeRecord = { checkout: [], unrelated: [], throwingCalls: 0 };

  constructor(private readonly moduleRef: ModuleRef) {}

  /** The app's flags module is not global: found across modules, as an app's own provider could. */
  private get flags(): FeatureFlagsService {
    return this.moduleRef.get(FeatureFlagsService, { strict: false });
  }

  // Declared first: it runs before the others, and must not keep them from running.
  @OnFlagChange('new-checkout')
  alwaysThrows(): void {
    this.record.throwingCalls++;
    throw new Error('a broken listener');
  }

  @OnFlagChange('new-checkout')
  async checkoutChanged(event: FlagsChangeEvent): Promise<void> {
    const firedAt = Date.now();
    const call: ProbeCall = { event, firedAt };
    this.record.checkout.push(call);
    call.checkoutEnabled = await this.flags.isEnabled('new-checkout', 'user-1');
    this.report();
  }

  @OnFlagChange('express-shipping')
  shippingChanged(event: FlagsChangeEvent): void {
    this.record.unrelated.push({ event, firedAt: Date.now() });
    this.report();
  }

  private report(): void {
    process.send?.({ type: 'change-probe', record: this.record });
  }
}

@Controller('change-probe')
export class ChangeProbeController {
  constructor(private readonly probe: ChangeProbe) {}

  @Get()
  get(): ProbeRecord {
    return this.probe.record;
  }
}

@Module({ providers: [ChangeProbe], controllers: [ChangeProbeController] })
export class ChangeProbeModule {}
