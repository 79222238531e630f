import {
  constants,
  brotliCompressSync,
  brotliDecompressSync,
  gunzipSync,
  gzipSync,
} from 'node:zlib';
import { BROTLI_QUALITY } from '../../src/sources/shared/compressed-envelope.js';
import { manyFlags } from '../support/fake-posthog.js';
import { variedFlags } from './flag-sets.js';
import type { BenchConfig } from './config.js';
import { fmt, fmtBytes, percentile, round, type FigureRow } from './results.js';

interface Codec {
  name: string;
  encode(input: Buffer): Buffer;
  decode(stored: Buffer): Buffer;
}

const brotli = (quality: number): Codec => ({
  name: `brotli q${quality}`,
  encode: (input) =>
    brotliCompressSync(input, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
      },
    }),
  decode: (stored) => brotliDecompressSync(stored),
});

const CODECS: Codec[] = [
  { name: 'gzip -6', encode: (input) => gzipSync(input), decode: (stored) => gunzipSync(stored) },
  { name: 'gzip -9', encode: (input) => gzipSync(input, { level: 9 }), decode: gunzipSync },
  brotli(4),
  brotli(BROTLI_QUALITY),
  brotli(9),
];

export interface CodecResult {
  flags: number;
  generator: 'uniform' | 'varied';
  jsonBytes: number;
  codecs: Array<{ name: string; bytes: number; encodeMs: number; decodeMs: number }>;
}

function medianMs(runs: number, work: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return percentile(times, 50);
}

/** Figure codec: stored size and encode/decode time of each candidate codec, on the definitions' JSON. */
export function runCodecs(config: BenchConfig): CodecResult[] {
  const results: CodecResult[] = [];
  for (const flags of [500, 8_000]) {
    for (const generator of ['uniform', 'varied'] as const) {
      const list = generator === 'uniform' ? manyFlags(flags) : variedFlags(flags);
      const json = Buffer.from(
        JSON.stringify({ flags: list, group_type_mapping: {}, cohorts: {} }),
      );
      const codecs = CODECS.map((codec) => {
        const stored = codec.encode(json);
        return {
          name: codec.name,
          bytes: stored.length,
          encodeMs: round(
            medianMs(Math.max(1, Math.ceil(config.codecRuns / 3)), () => codec.encode(json)),
            2,
          ),
          decodeMs: round(
            medianMs(config.codecRuns, () => codec.decode(stored)),
            2,
          ),
        };
      });
      results.push({ flags, generator, jsonBytes: json.length, codecs });
    }
  }
  return results;
}

export function codecRows(results: readonly CodecResult[]): FigureRow[] {
  const chosen = `brotli q${BROTLI_QUALITY}`;
  return results.map((r) => {
    const pick = r.codecs.find((c) => c.name === chosen)!;
    return {
      id: 'codec',
      title: `shared-copy codec, ${r.flags} flags (${r.generator} generator), JSON ${fmtBytes(r.jsonBytes)}: stored size, encode / decode median`,
      subject: `this module (${chosen})`,
      value: pick.bytes,
      unit: 'B',
      display: r.codecs
        .map(
          (c) =>
            `${c.name === chosen ? '**' : ''}${c.name}: ${fmtBytes(c.bytes)} (${fmt(r.jsonBytes / c.bytes, 0)}×), ${fmt(c.encodeMs, 1)} / ${fmt(c.decodeMs, 1)} ms${c.name === chosen ? '**' : ''}`,
        )
        .join(' · '),
      note: 'node:zlib in this process, on the JSON of the generated definitions; decode is what every follower pays per change, encode what the leader pays once',
      details: { ...r },
    };
  });
}
