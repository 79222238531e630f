import { brotliCompressSync, brotliDecompress, constants } from 'node:zlib';
import { promisify } from 'node:util';

const decompress = promisify(brotliDecompress);

/**
 * Brotli at quality 5, chosen by measurement (`npm run bench`, figure "codec", 2026-12-01, on
 * 2 busy cores). 8,000 flags with varied keys and values (3.6 MB of JSON): 210 KB, where gzip -6
 * stores 323 KB and brotli q4 248 KB; decode 2–10 ms vs gzip's ~15 ms. 500 varied flags: 17.8 KB
 * vs 20.7 KB (gzip). The repetitive generator compresses far more (8,000 flags: 33 KB vs 95 KB).
 * Every follower pays the bytes and the decode on each change; the leader pays the encode once
 * (~50 ms at 8,000 flags). Quality 9 gains ~5 % for 3–5× the encode time; 11 takes seconds.
 */
export const BROTLI_QUALITY = 5;

/** Compresses the definitions' JSON. Synchronous: the leader hashes what it stores before it tells
 * the evaluator the definitions changed, with no await in between. Once per change. */
export function compressDefinitions(json: string): Buffer {
  const input = Buffer.from(json, 'utf8');
  return brotliCompressSync(input, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
    },
  });
}

/** Decompresses off the event loop; a body that would inflate past `maxBytes` is refused, not
 * inflated (a small key must not become a huge allocation in every follower). */
export async function decompressDefinitions(body: Buffer, maxBytes: number): Promise<string> {
  const json = await decompress(body, { maxOutputLength: maxBytes });
  return json.toString('utf8');
}
