#!/usr/bin/env node
// The package's command line (`npx nestjs-posthog-flags …`). Node built-ins only: it runs where the
// app's own dependencies may not be installed yet.
import { typesCommand, TYPES_USAGE, UsageError } from './types-command.js';

const USAGE = `Usage: nestjs-posthog-flags <command>

Commands:
  types   write a TypeScript declaration of your flag keys (see: nestjs-posthog-flags types --help)`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'types') {
    process.stderr.write(
      `nestjs-posthog-flags: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`,
    );
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${TYPES_USAGE}\n`);
    return 0;
  }
  try {
    const summary = await typesCommand(args, process.env, (text) => process.stdout.write(text));
    process.stderr.write(`nestjs-posthog-flags types: ${summary}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`nestjs-posthog-flags types: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${TYPES_USAGE}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
