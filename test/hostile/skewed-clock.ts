/**
 * Preloaded into a worker (`NODE_OPTIONS=--import …`): moves the process's wall clock by
 * CLOCK_SKEW_MS, as on a host whose clock is off. `Date.now()` and `new Date()` move; the monotonic
 * clocks (`performance.now()`, `process.hrtime`) do not, as on a real host.
 */
const skewMs = Number(process.env.CLOCK_SKEW_MS ?? 0);
const RealDate = Date;

class SkewedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + skewMs);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return RealDate.now() + skewMs;
  }
}

globalThis.Date = SkewedDate as DateConstructor;
// What the process's wall clock reads, for the test to check the skew took.
process.stderr.write(`SKEWED-CLOCK ${new Date().toISOString()}\n`);

export {};
