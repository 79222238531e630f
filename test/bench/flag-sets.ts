import { booleanFlag, manyFlags, type FlagDefinitionsPayload } from '../support/fake-posthog.js';
import { GATE_FLAG } from './config.js';

/** The gate at a 0 or 100 % rollout (so every user flips on a change), beside ordinary flags. */
export function gateDefinitions(on: boolean, extraFlags = 20): FlagDefinitionsPayload {
  return {
    flags: [booleanFlag(GATE_FLAG, { rolloutPercentage: on ? 100 : 0 }), ...manyFlags(extraFlags)],
  };
}

/** A fixed-seed generator: the same "random" strings every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
}

/**
 * manyFlags with keys, e-mail domains, rollouts and names drawn at random: real projects repeat
 * less than the generator does, so compression is measured on both (the varied one is the
 * conservative figure).
 */
export function variedFlags(count: number): unknown[] {
  const random = seeded(42);
  const word = (n: number) =>
    Array.from(
      { length: n },
      () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)],
    ).join('');
  return manyFlags(count).map((flag) => {
    const text = JSON.stringify(flag)
      .replace(/flag-\d{4}-[a-z]+/g, () => `${word(6)}-${word(8)}`)
      .replace(/@example\.com/g, () => `@${word(7)}.com`)
      .replace(
        /"rollout_percentage":\d+/g,
        () => `"rollout_percentage":${Math.floor(random() * 100)}`,
      );
    return { ...(JSON.parse(text) as object), name: `${word(5)} ${word(9)} ${word(4)}` };
  });
}
