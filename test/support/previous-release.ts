/**
 * The example-app worker as the previous release built it: its own source (from git), compiled on
 * its own, so a "mixed fleet" runs the code that really wrote the previous envelope version, not
 * a re-creation of it. Built once per commit into the OS temp dir and reused (not under
 * node_modules, which tsc would not emit, nor in the project, where jest would find its specs).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The last commit whose shared copy is envelope version 1 (plain JSON): the release before
 * compression. Pinned, so the test keeps meaning "previous envelope version" after this merges. */
export const PREVIOUS_RELEASE_COMMIT = '5c17961418382c8df45534e9a5cc3d9590e1f725';

/** `git archive --format=tar.gz` of that commit's PATHS, for clones without its history. */
const PREVIOUS_RELEASE_ARCHIVE = 'test/fixtures/previous-release-5c17961.tar.gz';

/** What the worker needs: everything else of the old tree is left out (a faster compile). */
const PATHS = ['src', 'test/app', 'test/support', 'tsconfig.json', 'package.json'];

/** The compiled worker entry of the previous release (builds it on first use; ~20 s). */
export function previousReleaseWorker(root = process.cwd()): string {
  const dir = join(tmpdir(), `nestjs-posthog-flags-previous-${PREVIOUS_RELEASE_COMMIT}`);
  const entry = join(dir, '.build/test/support/worker.js');
  if (existsSync(entry)) {
    // The build outlives the clone that made it: its dependencies are this clone's.
    linkDependencies(dir, root);
    return entry;
  }
  const building = `${dir}.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    // From git when the clone has history; else from the archive committed beside the tests (the
    // same `git archive` of that commit), so a shallow CI checkout runs it too.
    let tar = join(building, 'source.tar');
    try {
      execFileSync('git', ['archive', '-o', tar, PREVIOUS_RELEASE_COMMIT, ...PATHS], {
        cwd: root,
        stdio: 'pipe',
      });
    } catch {
      tar = join(root, PREVIOUS_RELEASE_ARCHIVE);
      if (!existsSync(tar)) {
        throw new Error(`commit ${PREVIOUS_RELEASE_COMMIT} is not in this clone, nor ${tar}`);
      }
    }
    execFileSync('tar', ['-xf', tar, '-C', building]);
    // Its dependencies are ours (same lockfile then): the old code runs on the same libraries.
    linkDependencies(building, root);
    writeFileSync(
      join(building, 'tsconfig.worker.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { noEmit: false, outDir: '.build', sourceMap: false, declaration: false },
        include: [],
        files: ['test/support/worker.ts'],
      }),
    );
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.worker.json'],
      { cwd: building, stdio: 'pipe' },
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  return entry;
}

/** Points `dir/node_modules` at `root`'s (the old code runs on the same libraries). */
function linkDependencies(dir: string, root: string): void {
  const link = join(dir, 'node_modules');
  const target = join(root, 'node_modules');
  if (existsSync(link) && readlinkSync(link) === target) return;
  rmSync(link, { force: true });
  try {
    symlinkSync(target, link, 'dir');
  } catch (error) {
    // Another spec relinked it at the same moment: fine if it points here too.
    if (readlinkSync(link) !== target) throw error;
  }
}
