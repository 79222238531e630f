import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (asynchronously: a fake server in this process keeps answering). */
export function runProcess(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `tsc --noEmit` on one fixture project, with one error per line. */
export function typecheck(project: string): Promise<ProcessResult> {
  return runProcess(process.execPath, [
    'node_modules/typescript/bin/tsc',
    '-p',
    project,
    '--noEmit',
    '--pretty',
    'false',
  ]);
}

/** The generator as users run it: the compiled CLI in a process of its own. */
export function generator(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ProcessResult> {
  // Only PATH from outside: a POSTHOG_* variable of the developer's shell must not steer the test.
  return runProcess(process.execPath, ['.build/src/cli/main.js', ...args], {
    PATH: process.env.PATH,
    ...env,
  });
}
