import { createHash } from 'node:crypto';

const shas = new Map<string, string>();

/** The SHA1 a script is run by (EVALSHA), computed once per script. */
export function scriptSha(script: string): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
}

export function isNoScript(error: unknown): boolean {
  return String((error as Error)?.message).includes('NOSCRIPT');
}
