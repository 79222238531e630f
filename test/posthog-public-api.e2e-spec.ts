import { describe, expect, it } from '@jest/globals';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPostHogApiViolations } from './support/posthog-api-check.js';

const TSCONFIG = join(process.cwd(), 'tsconfig.json');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Snippets the check must flag, or leave alone. `client` is a posthog-node `PostHog`. */
const FIXTURES: Record<string, { code: string; flagged: boolean }> = {
  // The way src/ reached posthog-node's poller before the module owned the schedule.
  'cast-to-private-shape': {
    code: `const poller = (client as unknown as { featureFlagsPoller?: { clearBackoff?: () => void } }).featureFlagsPoller;`,
    flagged: true,
  },
  'bracket-private': { code: `const poller = client['featureFlagsPoller'];`, flagged: true },
  'cast-to-any': { code: `const poller = (client as any).featureFlagsPoller;`, flagged: true },
  'underscore-internal': {
    code: `export class Sub extends PostHog { peek() { return this._isShutdown; } }`,
    flagged: true,
  },
  'public-reload': { code: `void client.reloadFeatureFlags();`, flagged: false },
  'public-upcast': {
    code: `const narrow = client as Pick<PostHog, 'reloadFeatureFlags'>; void narrow;`,
    flagged: false,
  },
};

describe('only public posthog-node API in src/', () => {
  it('finds no non-public posthog-node member and no cast of a posthog-node value in src/', () => {
    const files = sourceFiles(join(process.cwd(), 'src'));
    expect(files.length).toBeGreaterThan(30);
    const violations = findPostHogApiViolations(files, TSCONFIG);
    if (violations.length > 0) console.log(violations);
    expect(violations).toEqual([]);
  });

  it('flags what reaches into posthog-node, and leaves its public API alone', () => {
    const dir = join(process.cwd(), '.build', 'api-check-fixtures');
    mkdirSync(dir, { recursive: true });
    try {
      const files = Object.entries(FIXTURES).map(([name, { code }]) => {
        const file = join(dir, `${name}.ts`);
        const header = `import { PostHog } from 'posthog-node';\ndeclare const client: PostHog;\n`;
        writeFileSync(file, `${header}${code}\nexport {};\n`);
        return file;
      });
      const violations = findPostHogApiViolations(files, TSCONFIG);
      const flagged = new Set(
        violations.map((v) => v.file.replace(/^.*\//, '').replace('.ts', '')),
      );
      for (const [name, { flagged: expected }] of Object.entries(FIXTURES)) {
        expect({ name, flagged: flagged.has(name) }).toEqual({ name, flagged: expected });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
