import { afterAll, describe, expect, it } from '@jest/globals';
import type { FlagDefinitionCacheData } from 'posthog-node';
import { RegexSafetyChecker } from './regex-safety-checker.js';
import { RegexScreen, type UnsafeFlag } from './regex-screen.js';

const regex = (value: string, type = 'person') => ({ key: 'plan', type, operator: 'regex', value });
const flag = (key: string, properties: unknown[]) => ({
  id: 1,
  key,
  active: true,
  filters: { groups: [{ properties, rollout_percentage: 100 }] },
});
const definitions = (flags: unknown[], cohorts: Record<string, unknown> = {}) =>
  ({ flags, groupTypeMapping: {}, cohorts }) as unknown as FlagDefinitionCacheData;

describe('RegexScreen with recheck (real worker thread)', () => {
  const checker = new RegexSafetyChecker(1_000);
  afterAll(async () => checker.close());

  async function screened(data: FlagDefinitionCacheData) {
    const reports: UnsafeFlag[][] = [];
    const screen = new RegexScreen(
      (pattern) => checker.check(pattern),
      (newlyUnsafe) => reports.push(newlyUnsafe),
    );
    screen.screen(data);
    // Not judged yet: blocked, so never run.
    const blockedWhilePending = [...screen.blocked].sort();
    await screen.whenSettled();
    return { screen, reports, blockedWhilePending };
  }

  it('blocks exponential and high-degree patterns, keeps linear, quadratic and invalid ones', async () => {
    const { screen, blockedWhilePending } = await screened(
      definitions([
        flag('nested', [regex('^(a+)+$')]),
        flag('overlap', [regex('(a|aa)+$')]),
        flag('degree-12', [regex('^(.*a){12}$')]),
        flag('email', [regex('^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$')]),
        flag('quadratic', [regex('.*@posthog\\.com')]),
        flag('invalid', [regex('(')]),
        flag('plain', []),
      ]),
    );
    expect(blockedWhilePending).toEqual(
      ['degree-12', 'email', 'invalid', 'nested', 'overlap', 'quadratic'].sort(),
    );
    const verdicts = screen.unsafe.map((u) => `${u.key}: ${u.reason}`);
    expect(verdicts.sort()).toEqual([
      'degree-12: polynomial (degree 12)',
      'nested: exponential',
      'overlap: exponential',
    ]);
    expect([...screen.blocked].sort()).toEqual(['degree-12', 'nested', 'overlap']);
  });

  it('blocks flags that reach a bad pattern through a cohort or a flag dependency', async () => {
    const dependency = {
      key: 'nested',
      type: 'flag',
      value: true,
      operator: 'flag_evaluates_to',
      dependency_chain: ['nested'],
    };
    const { screen, reports } = await screened(
      definitions(
        [
          flag('nested', [regex('^(a+)+$')]),
          flag('depends', [dependency]),
          flag('in-cohort', [{ key: 'id', type: 'cohort', value: 7 }]),
          flag('plain', []),
        ],
        { '7': { type: 'OR', values: [{ type: 'AND', values: [regex('^(\\w+\\s?)+$')] }] } },
      ),
    );
    expect([...screen.blocked].sort()).toEqual(['depends', 'in-cohort', 'nested']);
    // Reported once, when the verdicts arrived.
    expect(
      reports
        .flat()
        .map((u) => u.key)
        .sort(),
    ).toEqual(['depends', 'in-cohort', 'nested']);
  });
});
