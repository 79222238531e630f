import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { createApp, type HttpAdapterName } from './create-app.js';

/** The project root: the nearest folder up from here with a package.json (works from .build too). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Full distributed mode when POSTHOG_PROJECT_API_KEY is set, else the embedded offline definitions. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): PostHogFlagsModuleOptions {
  const interval = env.POSTHOG_POLLING_INTERVAL_MS
    ? Number(env.POSTHOG_POLLING_INTERVAL_MS)
    : undefined;
  if (!env.POSTHOG_PROJECT_API_KEY) {
    return {
      projectApiKey: 'phc_embedded_example',
      definitionsFile: env.POSTHOG_DEFINITIONS_FILE ?? join(projectRoot(), 'test/app/flags.json'),
      pollingIntervalMs: interval,
    };
  }
  return {
    projectApiKey: env.POSTHOG_PROJECT_API_KEY,
    secretKey: env.POSTHOG_SECRET_KEY || undefined,
    host: env.POSTHOG_HOST || undefined,
    redis: env.REDIS_URL || undefined,
    pollingIntervalMs: interval,
  };
}

/** What the start banner prints; test/example-app.e2e-spec.ts requests each printed line. */
const TRIES: Array<{ path: string; user?: string; what: string; status: number }> = [
  { path: '/checkout', user: 'alice', what: 'gated controller', status: 200 },
  { path: '/checkout', what: 'no user: denied', status: 404 },
  { path: '/checkout/summary', user: 'alice', what: "the class's flag alone", status: 200 },
  { path: '/checkout/help', what: 'exempt route', status: 200 },
  {
    path: '/checkout/express',
    user: 'bob',
    what: 'two flags; bob is in the 50% rollout',
    status: 200,
  },
  { path: '/checkout/express', user: 'alice', what: 'two flags; alice is not', status: 404 },
  { path: '/pricing', user: 'alice', what: 'variant gate + payload', status: 200 },
  { path: '/pricing/beta', user: 'bob:beta', what: 'person property plan=beta', status: 200 },
  { path: '/pricing/enterprise', user: 'carol:free:acme', what: 'group flag', status: 200 },
  { path: '/pricing/banner', user: 'alice', what: '@FlagValue without a guard', status: 200 },
  { path: '/flags/me', user: 'alice', what: 'FeatureFlagsService.evaluate()', status: 200 },
  { path: '/flags/status', what: 'FeatureFlagsService.status()', status: 200 },
  { path: '/health', what: 'terminus health', status: 200 },
  { path: '/healthz', what: 'liveness', status: 200 },
];

async function main(): Promise<void> {
  const envFile = process.env.EXAMPLE_ENV_FILE ?? join(projectRoot(), '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  const options = optionsFromEnv();
  const adapter = (process.env.HTTP_ADAPTER ?? 'express') as HttpAdapterName;
  const app = await createApp(options, adapter);
  const port = Number(process.env.PORT ?? 3000);
  // HOST=0.0.0.0 in a container, so probes and Services reach it; loopback by default.
  await app.listen(port, process.env.HOST || '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const embedded = options.definitionsFile !== undefined;
  const mode = embedded ? 'embedded definitions (test/app/flags.json)' : 'PostHog';
  console.log(`\nExample app on ${base} (${adapter}, flags from ${mode}). Try:`);
  for (const { path, user, what, status } of TRIES) {
    const command = `curl ${base}${path}${user ? ` -H 'Authorization: Bearer ${user}'` : ''}`;
    // The answers hold for the embedded definitions; with PostHog they depend on your flags.
    console.log(`  ${command.padEnd(base.length + 60)}  # ${what}${embedded ? `: ${status}` : ''}`);
  }
  console.log('');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
