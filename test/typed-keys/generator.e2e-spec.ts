import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  booleanFlag,
  FakePostHog,
  multivariateFlag,
  type FlagDefinitionsPayload,
} from '../support/fake-posthog.js';
import { freePort } from '../support/free-port.js';
import { generator } from './run-process.js';

const exampleDefinitions: FlagDefinitionsPayload = JSON.parse(
  readFileSync('test/app/flags.json', 'utf8'),
);
const exampleDeclaration = readFileSync(
  'test/typed-keys/fixtures/example-app/flag-keys.ts',
  'utf8',
);

describe('npx nestjs-posthog-flags types', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flag-types-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same bytes whatever the order of flags and variants in the definitions', async () => {
    const shuffled = structuredClone(exampleDefinitions);
    shuffled.flags.reverse();
    for (const flag of shuffled.flags as any[]) flag.filters.multivariate?.variants.reverse();
    const file = join(dir, 'shuffled.json');
    writeFileSync(file, JSON.stringify(shuffled));
    const out = join(dir, 'flag-keys.ts');
    const { code, stdout, stderr } = await generator(['types', '--file', file, '--out', out]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('5 flag keys (1 multivariate)');
    expect(readFileSync(out, 'utf8')).toBe(exampleDeclaration);
  });

  it('types boolean flags as boolean and multivariate ones by their variants; deleted flags are left out', async () => {
    const file = join(dir, 'mixed.json');
    const deleted = { ...(booleanFlag('retired') as object), deleted: true };
    const definitions = {
      flags: [
        multivariateFlag('plan', [
          { key: 'b', rolloutPercentage: 50 },
          { key: 'a', rolloutPercentage: 50 },
        ]),
        booleanFlag('new-checkout', { active: false }),
        deleted,
        booleanFlag("it's"),
      ],
    };
    writeFileSync(file, JSON.stringify(definitions));
    const { code, stdout } = await generator(['types', '--file', file]);
    expect(code).toBe(0);
    // Quoted only where needed, and as Prettier quotes (fewest escapes).
    expect(stdout).toContain(
      `  interface FeatureFlagKeys {\n    "it's": boolean;\n    'new-checkout': boolean;\n    plan: 'a' | 'b';\n  }`,
    );
    expect(stdout).not.toContain('retired');
  });

  it('refuses a file that is not definitions, saying why', async () => {
    const file = join(dir, 'not-definitions.json');
    writeFileSync(file, JSON.stringify({ 'new-checkout': true }));
    const { code, stderr } = await generator(['types', '--file', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'not PostHog flag definitions: `flags` must be an array (a flag map, as the testing module ' +
        "takes, holds one value per flag, not a flag's variants",
    );
  });

  describe('from a live project (the fake PostHog)', () => {
    let posthog: FakePostHog;
    beforeAll(async () => {
      posthog = await FakePostHog.start({ definitions: exampleDefinitions });
    });
    afterAll(() => posthog.close());

    const live = (secret: string | undefined) =>
      generator(['types', '--host', posthog.url, '--project-key', posthog.projectApiKey], {
        ...(secret !== undefined && { POSTHOG_SECRET_KEY: secret }),
      });

    it("writes the same declaration as from the file, through posthog-node's endpoint and auth", async () => {
      const before = posthog.requests.length;
      const { code, stdout, stderr } = await live(posthog.secretKey);
      expect({ code, stderr }).toEqual({
        code: 0,
        stderr: `nestjs-posthog-flags types: 5 flag keys (1 multivariate) from ${posthog.url}\n`,
      });
      expect(stdout).toBe(exampleDeclaration);
      const requests = posthog.requests.slice(before);
      expect(requests.map((r) => [r.method, r.path, r.status])).toEqual([
        ['GET', '/flags/definitions', 200],
      ]);
      expect(requests[0].authorization).toBe(`Bearer ${posthog.secretKey}`);
    });

    it('a 401 names the status and reason, and the secret key appears nowhere', async () => {
      const wrong = 'phs_wrong_key_that_must_not_be_printed';
      // PostHog does not echo the key; this answer does, to prove the CLI would not repeat it.
      posthog.setFault(
        {
          kind: 'status',
          status: 401,
          body: JSON.stringify({ type: 'authentication_error', detail: `Invalid key ${wrong}` }),
        },
        { times: 1 },
      );
      const out = join(dir, 'never-written.ts');
      const result = await generator(
        ['types', '--host', posthog.url, '--project-key', posthog.projectApiKey, '--out', out],
        { POSTHOG_SECRET_KEY: wrong },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${posthog.url} answered 401 (Invalid key [redacted])`);
      expect(result.stdout + result.stderr).not.toContain(wrong);
      expect(result.stdout + result.stderr).not.toContain('phs_wrong');
      expect(existsSync(out)).toBe(false);
    });

    it('reads the secret key from the variable --secret-key-env names', async () => {
      const { code, stdout } = await generator(
        [
          'types',
          '--host',
          posthog.url,
          '--project-key',
          posthog.projectApiKey,
          '--secret-key-env',
          'MY_POSTHOG_KEY',
        ],
        { MY_POSTHOG_KEY: posthog.secretKey },
      );
      expect(code).toBe(0);
      expect(stdout).toBe(exampleDeclaration);
    });

    it('an unreachable host fails fast with the address, not the secret key', async () => {
      const port = await freePort(); // nothing listens there
      const secret = 'phs_unreachable_secret_key';
      const { code, stderr, stdout } = await generator(
        ['types', '--host', `http://127.0.0.1:${port}`, '--project-key', 'phc_x'],
        { POSTHOG_SECRET_KEY: secret },
      );
      expect(code).toBe(1);
      expect(stderr).toContain(`could not reach http://127.0.0.1:${port}: `);
      expect(stderr).toContain('ECONNREFUSED');
      expect(stdout + stderr).not.toContain(secret);
    });

    it('without the secret key it names the variable to set, and asks PostHog nothing', async () => {
      const before = posthog.requests.length;
      const { code, stderr } = await live(undefined);
      expect(code).toBe(2);
      expect(stderr).toContain('the secret key is read from POSTHOG_SECRET_KEY, which is not set');
      expect(posthog.requests.length).toBe(before);
    });
  });
});
