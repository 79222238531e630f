import { describe, expect, it } from '@jest/globals';
import type { PostHogFeatureFlag } from 'posthog-node';
import { diffFlags, indexFlags, sameJson } from './flag-definitions-diff.js';

const flag = (key: string, rollout: number) =>
  ({
    id: 1,
    key,
    active: true,
    filters: { groups: [{ rollout_percentage: rollout }] },
  }) as unknown as PostHogFeatureFlag;

describe('flag definitions diff', () => {
  it('treats JSON that differs only in field order as the same', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  });

  it('sees any other difference: values, types, array order, missing or extra fields', () => {
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson({ a: 1 }, { a: '1' })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: null }, { a: {} })).toBe(false);
    expect(sameJson({ a: [] }, { a: {} })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 0 })).toBe(false);
    expect(sameJson({ a: 1, c: 0 }, { a: 1, b: 0 })).toBe(false);
  });

  it('lists added, removed and changed flags by key, the unchanged ones not at all', () => {
    const before = indexFlags([flag('kept', 10), flag('edited', 10), flag('gone', 10)]);
    const after = indexFlags([flag('new', 10), flag('edited', 20), flag('kept', 10)]);
    expect(diffFlags(before, after).map(({ key, kind }) => `${kind} ${key}`)).toEqual([
      'changed edited',
      'removed gone',
      'added new',
    ]);
  });
});
