import { describe, expect, it } from '@jest/globals';
import { format } from 'prettier';
import { declaredFlagsOf, flagKeysDeclaration } from './flag-keys-declaration.js';

const flag = (key: string, variants?: string[]) => ({
  key,
  deleted: false,
  filters: { multivariate: variants ? { variants: variants.map((k) => ({ key: k })) } : null },
});

describe('flagKeysDeclaration', () => {
  it('is left unchanged by Prettier (project style): long unions, quoted and bare keys', async () => {
    const declaration = flagKeysDeclaration(
      declaredFlagsOf({
        flags: [
          flag('checkout_v2'),
          flag('a-very-long-experiment-name-for-the-onboarding-flow', [
            'control',
            'variant-with-a-long-name',
            'another-long-variant-name',
          ]),
          flag('say "hi"', ["it's", 'plain']),
          flag(
            'pricing',
            Array.from({ length: 12 }, (_, i) => `variant-${i}`),
          ),
          flag('2024-sale'),
        ],
      }),
    );
    expect(declaration).toContain('\n      | '); // one variant per line
    expect(declaration).toContain(":\n      '"); // the union on a line of its own
    const formatted = await format(declaration, {
      parser: 'typescript',
      singleQuote: true,
      trailingComma: 'all',
      printWidth: 100,
    });
    expect(declaration).toBe(formatted);
  });

  it('merges the variants of a key listed twice, in a stable order', () => {
    const flags = declaredFlagsOf({ flags: [flag('x', ['b']), flag('x'), flag('x', ['a', 'b'])] });
    expect(flags).toEqual([{ key: 'x', variants: ['a', 'b'] }]);
  });

  it('refuses what is not definitions', () => {
    expect(() => declaredFlagsOf({ flags: [{ name: 'no key' }] })).toThrow(
      'not PostHog flag definitions: flags[0] must be an object with a string `key`',
    );
  });
});
