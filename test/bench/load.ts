import { createRequire } from 'node:module';

/** The autocannon options and result fields the bench uses (autocannon ships no types). */
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests: Array<{ method: 'GET'; path: string; headers: Record<string, string> }>;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number; average: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: AutocannonOptions,
) => Promise<AutocannonResult>;

export interface LoadResult {
  /** Completed requests per second (average of autocannon's per-second samples). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  /** Errors, timeouts and non-2xx answers: any of them makes the run suspect. */
  failures: number;
}

/**
 * Loads `path` for `seconds` with `connections` keep-alive connections, each cycling through the
 * users (`Authorization: Bearer <user>`).
 */
export async function load(
  url: string,
  path: string,
  users: readonly string[],
  { seconds, connections }: { seconds: number; connections: number },
): Promise<LoadResult> {
  const requests = users.map((user) => ({
    method: 'GET' as const,
    path,
    headers: { authorization: `Bearer ${user}` },
  }));
  const result = await autocannon({ url, connections, duration: seconds, requests });
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    total: result.requests.total,
    failures: result.errors + result.timeouts + result.non2xx,
  };
}
