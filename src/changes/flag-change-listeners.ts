import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import { errorSummary, RateLimitedWarning } from '../evaluation/rate-limited-warning.js';
import type { FlagsChangeEvent } from './flag-change.js';
import { FlagChangeFeed } from './flag-change-feed.js';
import { ON_FLAG_CHANGE_METADATA, type FlagChangeFilter } from './on-flag-change.decorator.js';

interface Listener {
  name: string;
  filter: FlagChangeFilter;
  call: (event: FlagsChangeEvent) => unknown;
  failures: RateLimitedWarning;
}

/** Methods already bound, so a module imported twice does not call a listener twice. */
const bound = new WeakMap<object, Set<string>>();

/** Finds the `@OnFlagChange` methods of the app's providers and controllers and calls them. */
@Injectable()
export class FlagChangeListeners implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('PostHogFlags');
  private subscription?: Subscription;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly feed: FlagChangeFeed,
  ) {}

  onApplicationBootstrap(): void {
    const listeners = this.discover();
    if (listeners.length === 0) return;
    this.subscription = this.feed.changes.subscribe((event) => {
      for (const listener of listeners) {
        if (listener.filter === null || event.keys.some((key) => listener.filter!.has(key))) {
          this.deliver(listener, event);
        }
      }
    });
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** Calls one listener; whatever it throws or rejects with stays here. */
  private deliver(listener: Listener, event: FlagsChangeEvent): void {
    const fail = (error: unknown) =>
      listener.failures.warn(
        () => `@OnFlagChange listener ${listener.name} failed: ${errorSummary(error)}`,
      );
    try {
      const result = listener.call(event);
      if (isThenable(result)) Promise.resolve(result).catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  private discover(): Listener[] {
    const listeners: Listener[] = [];
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || wrapper.isAlias) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const filter = Reflect.getMetadata(ON_FLAG_CHANGE_METADATA, fn) as
          FlagChangeFilter | undefined;
        if (filter === undefined) continue;
        const name = `${instance.constructor.name}.${method}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(`@OnFlagChange on ${name} is ignored: its provider is request-scoped`);
          continue;
        }
        const seen = bound.get(instance) ?? new Set<string>();
        if (seen.has(method)) continue;
        seen.add(method);
        bound.set(instance, seen);
        listeners.push({
          name,
          filter,
          call: (event) => (fn as (event: FlagsChangeEvent) => unknown).call(instance, event),
          failures: new RateLimitedWarning(this.logger),
        });
      }
    }
    return listeners;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
