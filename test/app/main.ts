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
  const mode = options.definitionsFile ? 'embedded definitions (test/app/flags.json)' : 'PostHog';
  console.log(`
Example app on ${base} (${adapter}, flags from ${mode}). Try:
  curl ${base}/checkout -H 'Authorization: Bearer alice'                 # gated controller: 200
  curl ${base}/checkout                                                  # no user: 404 (denied)
  curl ${base}/checkout/help                                             # exempt route: 200
  curl ${base}/checkout/express -H 'Authorization: Bearer alice'         # two flags (50% rollout)
  curl ${base}/pricing -H 'Authorization: Bearer alice'                  # variant gate + payload
  curl ${base}/pricing/beta -H 'Authorization: Bearer bob:beta'          # person property plan=beta
  curl ${base}/pricing/enterprise -H 'Authorization: Bearer carol:free:acme'  # group flag
  curl ${base}/pricing/banner -H 'Authorization: Bearer alice'           # @FlagValue without a guard
  curl ${base}/flags/me -H 'Authorization: Bearer alice'                 # FeatureFlagsService
  curl ${base}/health                                                    # terminus health
  curl ${base}/healthz                                                   # liveness
`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
