import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** recheck's judgement of one pattern, reduced to what the module acts on. */
export interface RegexVerdict {
  safe: boolean;
  /** Why: `exponential`, `polynomial (degree 3)`, `check timed out`, … */
  reason: string;
}

/**
 * Runs in a worker thread: recheck's pure-JS build is 5.6 MB that takes ~300 ms to load and up to
 * ~0.5 s per pattern, which must not stall the app's event loop. `pure` keeps it in this thread
 * (no native binary, no JVM, no child process). CommonJS because eval'd workers are scripts.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
process.env.RECHECK_SYNC_BACKEND = 'pure';
const { checkSync } = require(workerData.recheckPath);
parentPort.on('message', ({ id, pattern, timeoutMs }) => {
  let result;
  try {
    const d = checkSync(pattern, '', { timeout: timeoutMs });
    result = { status: d.status, complexity: d.complexity, error: d.error && d.error.kind };
  } catch (error) {
    result = { status: 'unknown', error: String(error && error.message).slice(0, 200) };
  }
  parentPort.postMessage({ id, result });
});
`;

interface RawResult {
  status: 'safe' | 'vulnerable' | 'unknown';
  complexity?: {
    type: 'constant' | 'linear' | 'safe' | 'polynomial' | 'exponential';
    degree?: number;
  };
  error?: string;
}

/**
 * Judges regex patterns with recheck (automaton-based ReDoS analysis) in a worker thread that
 * lives only while there is work. posthog-node runs flag regexes without flags (`new RegExp(p)`),
 * so patterns are checked without flags too.
 */
export class RegexSafetyChecker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (verdict: RegexVerdict) => void>();

  /**
   * @param maxInputLength the longest string a pattern can be run on (`maxPropertyLength`):
   *   polynomial patterns are safe when `length ^ degree` stays under `stepBudget`.
   */
  constructor(
    private readonly maxInputLength: number,
    // Generous: a busy machine slows the check, and a timed-out safe pattern would deny its flag.
    private readonly timeoutMs = 10_000,
    private readonly stepBudget = 1e7,
  ) {}

  check(pattern: string): Promise<RegexVerdict> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, pattern, timeoutMs: this.timeoutMs });
    });
  }

  /** Stops the worker; pending checks resolve as unsafe (undetermined). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll('the checker was stopped');
    await worker?.terminate();
  }

  private start(): Worker {
    const recheckPath = createRequire(import.meta.url).resolve('recheck');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { recheckPath } });
    worker.unref();
    worker.on('message', ({ id, result }: { id: number; result: RawResult }) => {
      const resolve = this.waiting.get(id);
      this.waiting.delete(id);
      resolve?.(this.judge(result));
      // Idle: give back the worker's memory (~100 MB with recheck loaded) until the next change.
      if (this.waiting.size === 0 && this.worker === worker) {
        this.worker = undefined;
        void worker.terminate();
      }
    });
    const fail = (reason: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(reason);
    };
    worker.on('error', (error) => fail(`the checker failed: ${error.message.slice(0, 200)}`));
    worker.on('exit', () => fail('the checker exited'));
    this.worker = worker;
    return worker;
  }

  private failAll(reason: string): void {
    for (const resolve of this.waiting.values()) resolve({ safe: false, reason });
    this.waiting.clear();
  }

  private judge(result: RawResult): RegexVerdict {
    if (result.status === 'safe') return { safe: true, reason: 'linear' };
    if (result.status === 'unknown') {
      // A pattern JavaScript cannot compile never runs: posthog-node treats it as no match.
      if (result.error === 'invalid') return { safe: true, reason: 'not a valid pattern' };
      if (result.error === 'timeout') return { safe: false, reason: 'check timed out' };
      return { safe: false, reason: `check failed (${result.error ?? 'unknown'})` };
    }
    const complexity = result.complexity;
    if (complexity?.type === 'polynomial' && complexity.degree !== undefined) {
      const steps = this.maxInputLength ** complexity.degree;
      const reason = `polynomial (degree ${complexity.degree})`;
      return { safe: steps <= this.stepBudget, reason };
    }
    return { safe: false, reason: complexity?.type ?? 'vulnerable' };
  }
}
