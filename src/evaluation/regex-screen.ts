import type { FlagDefinitionCacheData } from 'posthog-node';
import type { RegexVerdict } from './regex-safety-checker.js';

/** A flag posthog-node must not evaluate: one of its regex conditions could stall the process. */
export interface UnsafeFlag {
  key: string;
  pattern: string;
  reason: string;
}

type Judge = (pattern: string) => Promise<RegexVerdict>;

/** Patterns remembered across definitions changes; a bound so a hostile source cannot grow it. */
const MAX_REMEMBERED_PATTERNS = 10_000;

/**
 * Finds the flags whose `regex` / `not_regex` conditions (directly, through a cohort, or through a
 * flag they depend on) are unsafe or not judged yet. Those flags are undetermined: the evaluator
 * never asks posthog-node for them, so a catastrophic pattern is never run.
 */
export class RegexScreen {
  /** Flags not to evaluate: unsafe, or waiting for their verdict. */
  blocked: ReadonlySet<string> = new Set();
  unsafe: readonly UnsafeFlag[] = [];
  /** Every flag key of the current definitions. */
  allKeys: readonly string[] = [];
  private readonly verdicts = new Map<string, RegexVerdict>();
  private data: FlagDefinitionCacheData | undefined;
  private settled: Promise<void> = Promise.resolve();

  constructor(
    private readonly judge: Judge,
    /** Reports new unsafe flags; `blockedChanged`: memoized results may be stale. */
    private readonly onChange: (newlyUnsafe: UnsafeFlag[], blockedChanged: boolean) => void,
  ) {}

  /** Screens new definitions: synchronous for known patterns, new ones are judged in the background. */
  screen(data: FlagDefinitionCacheData): void {
    this.data = data;
    this.allKeys = data.flags.map((flag) => flag.key);
    const unjudged = [...patternsOf(data)].filter((p) => !this.verdicts.has(p));
    this.recompute();
    if (unjudged.length === 0) return;
    if (this.verdicts.size + unjudged.length > MAX_REMEMBERED_PATTERNS) this.verdicts.clear();
    this.settled = Promise.all(
      unjudged.map(async (pattern) => this.verdicts.set(pattern, await this.judge(pattern))),
    ).then(() => {
      if (this.data === data) this.recompute();
    });
  }

  /** Resolves when every pattern of the current definitions has a verdict. */
  whenSettled(): Promise<void> {
    return this.settled;
  }

  get hasPending(): boolean {
    return this.data !== undefined && [...patternsOf(this.data)].some((p) => !this.verdicts.has(p));
  }

  private recompute(): void {
    const data = this.data;
    if (!data) return;
    const before = new Set(this.unsafe.map((u) => `${u.key}\u0000${u.pattern}`));
    const unsafe: UnsafeFlag[] = [];
    const blocked = new Set<string>();
    const firstBadPattern = (value: unknown): string | undefined =>
      [...patternsIn(value)].find((p) => this.verdicts.get(p)?.safe !== true);
    // Conservative like posthog-node's own cohort matching: any cohort condition counts when some
    // cohort has a bad pattern (cohorts can nest).
    const cohortPattern = firstBadPattern(data.cohorts ?? {});
    for (const flag of data.flags) {
      const filters = flag.filters ?? {};
      let pattern = firstBadPattern(filters);
      if (pattern === undefined && cohortPattern !== undefined && usesCohort(filters)) {
        pattern = cohortPattern;
      }
      if (pattern === undefined) continue;
      blocked.add(flag.key);
      const verdict = this.verdicts.get(pattern);
      if (verdict) unsafe.push({ key: flag.key, pattern, reason: verdict.reason });
    }
    const direct = new Set(blocked);
    blockDependents(data, blocked);
    const pending = blocked.size > unsafe.length && this.hasPending;
    for (const key of blocked) {
      if (!direct.has(key) && !pending) {
        unsafe.push({ key, pattern: '', reason: 'depends on a flag with an unsafe regex' });
      }
    }
    const blockedChanged =
      blocked.size !== this.blocked.size || [...blocked].some((k) => !this.blocked.has(k));
    this.blocked = blocked;
    this.unsafe = unsafe;
    const newlyUnsafe = unsafe.filter((u) => !before.has(`${u.key}\u0000${u.pattern}`));
    if (blockedChanged || newlyUnsafe.length > 0) this.onChange(newlyUnsafe, blockedChanged);
  }
}

/** Every pattern of a regex condition anywhere in the definitions (flags and cohorts). */
function patternsOf(data: FlagDefinitionCacheData): Set<string> {
  const patterns = patternsIn(data.cohorts ?? {});
  for (const flag of data.flags) for (const p of patternsIn(flag.filters ?? {})) patterns.add(p);
  return patterns;
}

function patternsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) patternsIn(item, found);
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ((record.operator === 'regex' || record.operator === 'not_regex') && 'value' in record) {
      // posthog-node runs String(value) as the pattern.
      found.add(String(record.value));
    }
    for (const child of Object.values(record)) {
      if (child && typeof child === 'object') patternsIn(child, found);
    }
  }
  return found;
}

function usesCohort(filters: unknown): boolean {
  return JSON.stringify(filters).includes('"cohort"');
}

/** A flag that depends on a blocked flag (posthog-node evaluates its dependency chain) is blocked too. */
function blockDependents(data: FlagDefinitionCacheData, blocked: Set<string>): void {
  let grew = blocked.size > 0;
  while (grew) {
    grew = false;
    for (const flag of data.flags) {
      if (blocked.has(flag.key)) continue;
      if (flagDependencies(flag.filters).some((key) => blocked.has(key))) {
        blocked.add(flag.key);
        grew = true;
      }
    }
  }
}

function flagDependencies(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) flagDependencies(item, found);
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record.type === 'flag') {
      if (typeof record.key === 'string') found.push(record.key);
      if (Array.isArray(record.dependency_chain))
        found.push(...record.dependency_chain.map(String));
    }
    for (const child of Object.values(record)) {
      if (child && typeof child === 'object') flagDependencies(child, found);
    }
  }
  return found;
}
