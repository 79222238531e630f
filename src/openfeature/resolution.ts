import {
  ParseError,
  StandardResolutionReasons,
  TypeMismatchError,
  type FlagMetadata,
  type JsonValue,
  type ResolutionDetails,
  type ResolutionReason,
} from '@openfeature/server-sdk';
import type { FeatureFlagValue } from '../evaluation/evaluation-context.js';

/** One flag as this module evaluated it for one user. */
export interface FlagOutcome {
  key: string;
  /** `false`, `true`, or the variant key of a multivariate flag. */
  value: FeatureFlagValue;
  /** The payload for that value as posthog-node parsed it (`undefined`: none). */
  payload: unknown;
  /** The payload PostHog stores for that value is not JSON (posthog-node then hands back its text). */
  payloadIsNotJson: boolean;
  reason: ResolutionReason;
  flagMetadata: FlagMetadata;
}

/** `'true'`/`'false'` for a boolean flag (PostHog's payload keys), the variant key otherwise. */
function variantOf(outcome: FlagOutcome): string {
  return String(outcome.value);
}

function details<T>(outcome: FlagOutcome, value: T): ResolutionDetails<T> {
  return {
    value,
    variant: variantOf(outcome),
    reason: outcome.reason,
    flagMetadata: outcome.flagMetadata,
  };
}

/**
 * An off flag has no string, number or object to give: the caller's default, as `DEFAULT` (an
 * error here would fire every error hook on an ordinary "off").
 */
function offDefault<T>(outcome: FlagOutcome, defaultValue: T): ResolutionDetails<T> {
  const reason =
    outcome.reason === StandardResolutionReasons.DISABLED
      ? outcome.reason
      : StandardResolutionReasons.DEFAULT;
  return { ...details(outcome, defaultValue), reason };
}

/** Enabled when on with any variant. */
export function resolveBoolean(outcome: FlagOutcome): ResolutionDetails<boolean> {
  return details(outcome, outcome.value !== false);
}

/** The variant key of a multivariate flag; a boolean flag that is on has none (TYPE_MISMATCH). */
export function resolveString(
  outcome: FlagOutcome,
  defaultValue: string,
): ResolutionDetails<string> {
  if (outcome.value === false) return offDefault(outcome, defaultValue);
  if (outcome.value === true) {
    throw new TypeMismatchError(
      `Flag "${outcome.key}" is a boolean flag: it has no string variant`,
    );
  }
  return details(outcome, outcome.value);
}

/** A numeric variant key (`"10"`), as a number; any other variant is a TYPE_MISMATCH. */
export function resolveNumber(
  outcome: FlagOutcome,
  defaultValue: number,
): ResolutionDetails<number> {
  const text = resolveString(outcome, String(defaultValue));
  if (outcome.value === false) return { ...text, value: defaultValue };
  const value = Number(text.value);
  // Number('') is 0: a blank variant is not a number.
  if (text.value.trim() === '' || !Number.isFinite(value)) {
    throw new TypeMismatchError(`Flag "${outcome.key}" variant "${text.value}" is not a number`);
  }
  return { ...text, value };
}

/**
 * The payload of the user's value, as an object (or array). A payload that is not valid JSON is a
 * PARSE_ERROR; one that is JSON but not an object (or no payload at all) a TYPE_MISMATCH.
 */
export function resolveObject<T extends JsonValue>(
  outcome: FlagOutcome,
  defaultValue: T,
): ResolutionDetails<T> {
  if (outcome.value === false && outcome.payload === undefined) {
    return offDefault(outcome, defaultValue);
  }
  if (outcome.payloadIsNotJson) {
    throw new ParseError(`Flag "${outcome.key}" payload is not valid JSON`);
  }
  const payload = outcome.payload;
  if (payload === undefined) {
    throw new TypeMismatchError(`Flag "${outcome.key}" has no payload for "${variantOf(outcome)}"`);
  }
  if (payload === null || typeof payload !== 'object') {
    throw new TypeMismatchError(`Flag "${outcome.key}" payload is not a JSON object`);
  }
  return details(outcome, payload as T);
}
