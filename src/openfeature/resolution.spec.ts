import { describe, expect, it } from '@jest/globals';
import { ErrorCode, OpenFeatureError } from '@openfeature/server-sdk';
import {
  resolveBoolean,
  resolveNumber,
  resolveObject,
  resolveString,
  type FlagOutcome,
} from './resolution.js';

const outcome = (value: FlagOutcome['value'], more: Partial<FlagOutcome> = {}): FlagOutcome => ({
  key: 'f',
  value,
  payload: undefined,
  payloadIsNotJson: false,
  reason: value === false ? 'DEFAULT' : 'TARGETING_MATCH',
  flagMetadata: { flagId: 7 },
  ...more,
});

function codeOf(resolve: () => unknown): ErrorCode | undefined {
  try {
    resolve();
  } catch (error) {
    return error instanceof OpenFeatureError ? error.code : undefined;
  }
  return undefined;
}

describe('OpenFeature resolution of a PostHog value', () => {
  it('reads a multivariate flag as boolean (on), string (its variant) and number (when numeric)', () => {
    expect(resolveBoolean(outcome('10'))).toEqual({
      value: true,
      variant: '10',
      reason: 'TARGETING_MATCH',
      flagMetadata: { flagId: 7 },
    });
    expect(resolveString(outcome('10'), 'd').value).toBe('10');
    expect(resolveNumber(outcome('10'), 0).value).toBe(10);
    expect(codeOf(() => resolveNumber(outcome('ten'), 0))).toBe(ErrorCode.TYPE_MISMATCH);
    expect(codeOf(() => resolveNumber(outcome(' '), 0))).toBe(ErrorCode.TYPE_MISMATCH);
  });

  it('gives the default for an off flag, keeping DISABLED when the flag is inactive', () => {
    expect(resolveString(outcome(false), 'd')).toMatchObject({ value: 'd', reason: 'DEFAULT' });
    expect(resolveNumber(outcome(false), 3)).toMatchObject({ value: 3, reason: 'DEFAULT' });
    expect(resolveObject(outcome(false, { reason: 'DISABLED' }), { a: 1 })).toMatchObject({
      value: { a: 1 },
      reason: 'DISABLED',
      variant: 'false',
    });
    expect(resolveBoolean(outcome(false))).toMatchObject({ value: false, variant: 'false' });
  });

  it('returns payload objects and arrays; text that is not JSON is PARSE_ERROR, a scalar TYPE_MISMATCH', () => {
    expect(resolveObject(outcome(true, { payload: { a: [1] } }), {}).value).toEqual({ a: [1] });
    expect(resolveObject(outcome('x', { payload: [1, 2] }), []).value).toEqual([1, 2]);
    const notJson = outcome(true, { payload: '{oops', payloadIsNotJson: true });
    expect(codeOf(() => resolveObject(notJson, {}))).toBe(ErrorCode.PARSE_ERROR);
    expect(codeOf(() => resolveObject(outcome(true, { payload: 'text' }), {}))).toBe(
      ErrorCode.TYPE_MISMATCH,
    );
    expect(codeOf(() => resolveObject(outcome(true), {}))).toBe(ErrorCode.TYPE_MISMATCH);
    expect(codeOf(() => resolveString(outcome(true), 'd'))).toBe(ErrorCode.TYPE_MISMATCH);
  });
});
