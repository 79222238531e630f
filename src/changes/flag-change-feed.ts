import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FlagDefinitionCacheData } from 'posthog-node';
import { Observable, Subject } from 'rxjs';
import { DefinitionsGeneration } from '../definitions-generation.js';
import type { FlagsChangeEvent } from './flag-change.js';
import { diffFlags, indexFlags } from './flag-definitions-diff.js';

/**
 * Turns each set of definitions this process adopts (whatever the mode) into a per-flag diff
 * against the set before it. The first set is the baseline, not a change.
 */
@Injectable()
export class FlagChangeFeed implements OnApplicationShutdown {
  private readonly subject = new Subject<FlagsChangeEvent>();
  private subscribers = 0;
  /** The definitions the next diff starts from. */
  private baseline?: FlagDefinitionCacheData;

  /** Every change this process adopts, after the SDK evaluates with it. */
  readonly changes: Observable<FlagsChangeEvent> = new Observable((subscriber) => {
    this.subscribers++;
    const inner = this.subject.subscribe(subscriber);
    return () => {
      this.subscribers--;
      inner.unsubscribe();
    };
  });

  constructor(generation: DefinitionsGeneration) {
    generation.onDefinitions((data) => {
      const at = new Date();
      // Deferred: the SDK applies what a cache read returns a few microtasks later, so a listener
      // that evaluates sees the new definitions; and the diff costs nothing on the load path.
      // setImmediate callbacks run in order, so changes are diffed in the order they came.
      setImmediate(() => this.adopt(data, at));
    });
  }

  private adopt(data: FlagDefinitionCacheData, at: Date): void {
    const before = this.baseline;
    this.baseline = data;
    // Nobody listens: no diff (8,000 flags take tens of ms to compare).
    if (this.subscribers === 0 || !before) return;
    const changes = diffFlags(indexFlags(before.flags), indexFlags(data.flags));
    if (changes.length === 0) return;
    this.subject.next({ keys: changes.map((change) => change.key), changes, at });
  }

  onApplicationShutdown(): void {
    this.subject.complete();
  }
}
