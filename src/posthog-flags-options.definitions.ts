import { readFileSync } from 'node:fs';
import { definitionsShapeProblem } from './definitions-shape.js';
import type {
  FlagDefinitions,
  PostHogFlagsModuleOptions,
} from './posthog-flags-options.interface.js';
import { describe } from './posthog-flags-options.checker.js';
import { definitionsFromFlagMap, flagMapProblem, type TestFlagMap } from './testing/flag-map.js';

/** The offline source's definitions (`definitions` or `definitionsFile`), or undefined. */
export function resolveOfflineDefinitions(
  raw: PostHogFlagsModuleOptions,
  problems: string[],
): FlagDefinitions | undefined {
  if (raw.definitions !== undefined && raw.definitionsFile !== undefined) {
    problems.push('definitions and definitionsFile: set only one of them');
    return undefined;
  }
  if (raw.definitions !== undefined)
    return offlineDefinitions(raw.definitions, 'definitions', problems);
  if (raw.definitionsFile === undefined) return undefined;
  if (typeof raw.definitionsFile !== 'string' || raw.definitionsFile === '') {
    problems.push(`definitionsFile must be a file path (got ${describe(raw.definitionsFile)})`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(raw.definitionsFile, 'utf8'));
  } catch (error) {
    problems.push(`definitionsFile ${raw.definitionsFile}: ${(error as Error).message}`);
    return undefined;
  }
  return offlineDefinitions(parsed, `definitionsFile ${raw.definitionsFile}`, problems);
}

/**
 * Full PostHog definitions (`{ flags: [...] }`) as they are, or the testing module's shorthand
 * (`{ 'new-checkout': true, pricing: 'test-b' }`) turned into definitions by the same conversion.
 */
function offlineDefinitions(
  value: unknown,
  label: string,
  problems: string[],
): FlagDefinitions | undefined {
  const isShorthand =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !Array.isArray((value as { flags?: unknown }).flags);
  const problem = isShorthand
    ? flagMapProblem(value as Record<string, unknown>)
    : definitionsShapeProblem(value);
  if (problem) {
    problems.push(`${label}: ${problem}`);
    return undefined;
  }
  return isShorthand ? definitionsFromFlagMap(value as TestFlagMap) : (value as FlagDefinitions);
}
