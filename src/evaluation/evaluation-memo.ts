import type { EvaluationRecord } from './feature-flags-snapshot.js';

interface MemoEntry {
  expiresAt: number;
  record: EvaluationRecord;
  bytes: number;
}

/** Bookkeeping a Map entry and its objects cost beyond their strings (measured order, not exact). */
const ENTRY_OVERHEAD_BYTES = 512;
const PER_FLAG_OVERHEAD_BYTES = 96;

/**
 * Memoized evaluations of one definitions generation, bounded by entries and by (estimated) bytes,
 * oldest first out. A plain Map, not lru-cache: the size estimate is ours either way, the expiry of
 * clock-dependent results is checked on read, and first-in-first-out eviction is O(1) without
 * reordering on every hit of the hot path.
 */
export class EvaluationMemo {
  private readonly entries = new Map<string, MemoEntry>();
  private totalBytes = 0;
  generation = -1;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, generation: number, now = Date.now()): EvaluationRecord | undefined {
    if (generation !== this.generation) return undefined;
    const entry = this.entries.get(key);
    return entry && entry.expiresAt >= now ? entry.record : undefined;
  }

  set(key: string, record: EvaluationRecord, generation: number, expiresAt: number): void {
    if (this.maxEntries === 0) return;
    if (generation !== this.generation) {
      this.entries.clear();
      this.totalBytes = 0;
      this.generation = generation;
    }
    const bytes = estimateBytes(key, record);
    // One entry bigger than a fair share of the budget would evict everyone else: not kept.
    if (bytes > this.maxBytes / 4) return;
    const previous = this.entries.get(key);
    if (previous) {
      this.entries.delete(key);
      this.totalBytes -= previous.bytes;
    }
    while (
      this.entries.size > 0 &&
      (this.entries.size >= this.maxEntries || this.totalBytes + bytes > this.maxBytes)
    ) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.totalBytes -= oldest.bytes;
    }
    this.entries.set(key, { expiresAt, record, bytes });
    this.totalBytes += bytes;
  }
}

/**
 * UTF-16 bytes of the key twice (the key, and the id and properties the SDK's result keeps), plus
 * the values and payloads. Payload sizes come from the JSON PostHog sent, so they are measured.
 */
function estimateBytes(key: string, record: EvaluationRecord): number {
  let bytes = ENTRY_OVERHEAD_BYTES + key.length * 4;
  for (const [flag, value] of Object.entries(record.values)) {
    bytes += PER_FLAG_OVERHEAD_BYTES + flag.length * 2;
    if (typeof value === 'string') bytes += value.length * 2;
  }
  for (const payload of Object.values(record.payloads)) {
    bytes += typeof payload === 'string' ? payload.length * 2 : jsonBytes(payload);
  }
  return bytes;
}

function jsonBytes(value: unknown): number {
  try {
    return (JSON.stringify(value)?.length ?? 0) * 2;
  } catch {
    return 1_024;
  }
}
