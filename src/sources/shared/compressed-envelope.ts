import { brotliCompressSync, brotliDecompress, constants } from 'node:zlib';
import { promisify } from 'node:util';

const decompress = promisify(brotliDecompress);

/**
 * Brotli at quality 5, chosen by measurement (`npm run bench`, row "codec"; on this project's
 * generated definitions): 8,000 flags (3.6 MB of JSON) store in ~29 KB and decode in ~2 ms, where
 * gzip -6 stores ~97 KB and decodes in ~6 ms; 500 flags ~3 KB vs ~7 KB. Every follower pays the
 * decode and the bytes on each change, the leader pays the encode once (~10 ms at 8,000 flags).
 * Higher qualities gain under 5 % in size for 4× (q9) to 200× (q11) the encode time.
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
