import { BenchChild } from './child.js';
import type { BenchConfig } from './config.js';
import type { MicroReading } from './micro-probe.js';
import { fmt, round, type FigureRow } from './results.js';

/** The micro-benchmark, in a child of its own so nothing else shares its event loop or JIT. */
export async function runMicro(config: BenchConfig): Promise<MicroReading> {
  const child = await BenchChild.start('micro-probe.js', { timeoutMs: 30_000 });
  try {
    const reading = child.message<MicroReading>('micro', 120_000);
    child.send({
      type: 'run',
      iterations: config.microIterations,
      sdkIterations: config.microSdkIterations,
    });
    return await reading;
  } finally {
    await child.kill();
  }
}

export function microRows(m: MicroReading): FigureRow[] {
  return [
    {
      id: 'micro',
      title:
        'guard warm path per request, in-process (canActivate on a fresh ExecutionContextHost, memo hit)',
      subject: 'this module',
      value: round(m.guardUs, 3),
      unit: 'µs',
      display:
        `${fmt(m.guardUs, 2)} µs (peek ${fmt(m.peekUs, 2)} µs; on a handler reading @FlagValue ${fmt(m.guardReadingFlagsUs, 2)} µs) vs evaluateFlags(1 key, local) ${fmt(m.sdkUs, 1)} µs ` +
        `= ${fmt(m.sdkUs / Math.max(m.guardUs, 0.001), 0)}× (context build ${fmt(m.contextUs, 2)} µs excluded)`,
      goal: { op: '<=', target: 5, text: '≤ 5 µs' },
      details: { ...m },
    },
  ];
}
