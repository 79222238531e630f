import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { generator, typecheck } from './run-process.js';

// Each fixture declares FeatureFlagKeys for a whole program (the package's source included), so each
// is a tsc run of its own (a few seconds each).
const fixtures = 'test/typed-keys/fixtures';

describe('typed flag keys at compile time', () => {
  it('a typo in a flag key fails tsc once the flags are declared, naming the typo', async () => {
    const { code, stdout } = await typecheck(`${fixtures}/typo`);
    expect(code).not.toBe(0);
    const errors = stdout.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toEqual([
      `${fixtures}/typo/typo.ts(8,16): error TS2345: Argument of type '"new-chekout"' is not ` +
        `assignable to parameter of type '"new-checkout" | "pricing-experiment"'.`,
    ]);
  });

  it('correct keys and variants compile, and every @ts-expect-error mistake is caught', async () => {
    const { code, stdout } = await typecheck(`${fixtures}/declared`);
    expect(stdout).toBe('');
    expect(code).toBe(0);
    // The fixture's mistakes, each a line tsc must reject (an unused expectation is an error).
    const usage = readFileSync(`${fixtures}/declared/usage.ts`, 'utf8');
    expect(usage.match(/\/\/ @ts-expect-error:/g)?.length).toBe(8);
  });

  it("the example app compiles against the generator's declaration of its own definitions", async () => {
    const generated = await generator(['types', '--file', 'test/app/flags.json']);
    expect(generated.code).toBe(0);
    // The fixture holds the generator's output verbatim: a change to either shows here.
    expect(generated.stdout).toBe(readFileSync(`${fixtures}/example-app/flag-keys.ts`, 'utf8'));
    const { code, stdout } = await typecheck(`${fixtures}/example-app`);
    expect(stdout).toBe('');
    expect(code).toBe(0);
  });
});
