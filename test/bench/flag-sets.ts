import { booleanFlag, manyFlags, type FlagDefinitionsPayload } from '../support/fake-posthog.js';
import { GATE_FLAG } from './config.js';

/** The gate at a 0 or 100 % rollout (so every user flips on a change), beside ordinary flags. */
export function gateDefinitions(on: boolean, extraFlags = 20): FlagDefinitionsPayload {
  return {
    flags: [booleanFlag(GATE_FLAG, { rolloutPercentage: on ? 100 : 0 }), ...manyFlags(extraFlags)],
  };
}
