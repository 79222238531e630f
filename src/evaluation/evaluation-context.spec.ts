import { describe, expect, it } from '@jest/globals';
import { evaluationKey, stableJson } from './evaluation-context.js';

describe('stableJson (memo keys)', () => {
  it('is the same for the same properties in any order, at any depth', () => {
    expect(stableJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe(
      stableJson({ a: { c: null, d: [1, 'x'] }, b: 1 }),
    );
    expect(stableJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('tells apart what evaluates differently', () => {
    const distinct = [{ a: 1 }, { a: '1' }, { a: true }, { a: null }, { a: [1] }, { 'a"': 1 }, {}];
    expect(new Set(distinct.map(stableJson)).size).toBe(distinct.length);
  });

  it('leaves out undefined properties, as JSON (and the SDK) would', () => {
    expect(stableJson({ a: undefined, b: 2 })).toBe(stableJson({ b: 2 }));
  });

  it('keeps ids that contain the separators apart', () => {
    expect(evaluationKey('a', undefined, ['b\u0001c'])).not.toBe(
      evaluationKey('a', { personProperties: {} }, ['b', 'c']),
    );
  });
});
