import { performance } from 'node:perf_hooks';

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * Rejects with a `TimeoutError` naming `what` if `promise` takes longer than `ms`. The bound
 * measures the other side, not this process's stalls: when the timer fires, a reply that already
 * arrived is handled first (I/O runs before `setImmediate`), and a timer that fired late because
 * the event loop was starved (CPU contention at boot) gives the call one more bound.
 */
export async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (extended: boolean) => {
      const armedAt = performance.now();
      timer = setTimeout(() => {
        const starvedMs = performance.now() - armedAt - ms;
        immediate = setImmediate(() => {
          if (!extended && starvedMs > ms / 2) return arm(true);
          reject(new TimeoutError(`${what} took longer than ${ms} ms`));
        });
      }, ms);
    };
    arm(false);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  }
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());
