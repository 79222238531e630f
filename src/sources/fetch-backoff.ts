import type { FetchOutcome } from '../flags-status.js';

/** How far apart refused fetches go: doubling from one interval, never past the cap. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** posthog-node's own schedule (doubling from the interval), capped at 16 intervals and 60 s. */
export function backoffPolicy(pollingIntervalMs: number): BackoffPolicy {
  return {
    baseMs: pollingIntervalMs,
    capMs: Math.max(pollingIntervalMs, Math.min(60_000, 16 * pollingIntervalMs)),
  };
}

/** The wait after `failures` refused fetches in a row; `jitter` (0..1) adds up to a fifth. */
export function backoffDelayMs(
  failures: number,
  policy: BackoffPolicy,
  jitter = Math.random(),
): number {
  const doubled = policy.baseMs * 2 ** Math.min(failures, 30) * (1 + jitter / 5);
  return Math.floor(Math.min(policy.capMs, doubled));
}

/** The answers PostHog asks clients to back off after (as posthog-node does), and server errors. */
export function callsForBackoff(outcome: FetchOutcome): boolean {
  return outcome === 401 || outcome === 403 || outcome === 429 || outcome === '5xx';
}
