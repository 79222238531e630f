import { describe, expect, it } from '@jest/globals';
import { ErrorCode, OpenFeatureError } from '@openfeature/server-sdk';
import { toPostHogInput } from './context-mapping.js';

function codeOf(resolve: () => unknown): ErrorCode | undefined {
  try {
    resolve();
  } catch (error) {
    return error instanceof OpenFeatureError ? error.code : undefined;
  }
  return undefined;
}

describe('OpenFeature context → PostHog input', () => {
  it('takes targetingKey as the distinct id, groups and groupProperties apart, the rest as person properties', () => {
    const signedUp = new Date('2026-01-02T03:04:05.000Z');
    expect(
      toPostHogInput(
        {
          targetingKey: 'u1',
          plan: 'pro',
          signedUp,
          address: { country: 'FR', since: signedUp },
          groups: { company: 'acme' },
          groupProperties: { company: { tier: 'enterprise' } },
        },
        200,
      ),
    ).toEqual({
      distinctId: 'u1',
      context: {
        personProperties: {
          plan: 'pro',
          signedUp: '2026-01-02T03:04:05.000Z',
          address: { country: 'FR', since: '2026-01-02T03:04:05.000Z' },
        },
        groups: { company: 'acme' },
        groupProperties: { company: { tier: 'enterprise' } },
      },
    });
    expect(toPostHogInput({ targetingKey: 'u2' }, 200)).toEqual({ distinctId: 'u2', context: {} });
  });

  it('refuses a missing targeting key and one PostHog would not accept', () => {
    expect(codeOf(() => toPostHogInput({ plan: 'pro' }, 200))).toBe(
      ErrorCode.TARGETING_KEY_MISSING,
    );
    expect(codeOf(() => toPostHogInput({ targetingKey: '' }, 200))).toBe(
      ErrorCode.TARGETING_KEY_MISSING,
    );
    expect(codeOf(() => toPostHogInput({ targetingKey: 'x'.repeat(11) }, 10))).toBe(
      ErrorCode.INVALID_CONTEXT,
    );
  });
});
