import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { downloadDefinitions } from './definitions-download.js';
import { declaredFlagsOf, flagKeysDeclaration } from './flag-keys-declaration.js';

export const TYPES_USAGE = `Usage: nestjs-posthog-flags types [options]

Writes a TypeScript declaration of your flags (FeatureFlagKeys): boolean flags are \`boolean\`,
multivariate flags the union of their variant keys. Include the file in your tsconfig.

From a file (the JSON PostHog's /flags/definitions returns, as for the definitionsFile option):
  --file <path>             definitions JSON
From a live project (the endpoint posthog-node's local evaluation polls):
  --host <url>              PostHog host (default: $POSTHOG_HOST, else https://us.i.posthog.com)
  --project-key <phc_...>   project API key (default: $POSTHOG_PROJECT_API_KEY)
  --secret-key-env <NAME>   environment variable holding the secret key (phs_... or phx_...)
                            (default: POSTHOG_SECRET_KEY); never given on the command line
  --timeout <ms>            request timeout (default: 10000)
Output:
  --out <path>              write the declaration there (default: standard output)`;

/** A mistake in the command line: the usage is shown with it. */
export class UsageError extends Error {}

/** `nestjs-posthog-flags types …`: returns what to tell the user on stderr. */
export async function typesCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdout: (text: string) => void,
): Promise<string> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        file: { type: 'string' },
        host: { type: 'string' },
        'project-key': { type: 'string' },
        'secret-key-env': { type: 'string' },
        timeout: { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { definitions, from } = values.file
    ? await readDefinitionsFile(values.file)
    : await downloadFromProject(values, env);
  const flags = declaredFlagsOf(definitions);
  const declaration = flagKeysDeclaration(flags);
  if (values.out) await writeFile(values.out, declaration);
  else stdout(declaration);
  const multivariate = flags.filter((f) => f.variants).length;
  const summary = `${flags.length} flag keys (${multivariate} multivariate) from ${from}${values.out ? ` written to ${values.out}` : ''}`;
  return flags.length === 0
    ? `${summary}; with no flags declared, every string is still accepted as a key`
    : summary;
}

async function readDefinitionsFile(path: string): Promise<{ definitions: unknown; from: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  try {
    return { definitions: JSON.parse(text), from: path };
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
}

async function downloadFromProject(
  values: { host?: string; 'project-key'?: string; 'secret-key-env'?: string; timeout?: string },
  env: NodeJS.ProcessEnv,
): Promise<{ definitions: unknown; from: string }> {
  const host = values.host ?? env.POSTHOG_HOST ?? 'https://us.i.posthog.com';
  if (!/^https?:\/\/[^/]/.test(host) || !URL.canParse(host)) {
    throw new UsageError(`--host must be an http(s) URL (got ${JSON.stringify(host)})`);
  }
  const projectApiKey = values['project-key'] ?? env.POSTHOG_PROJECT_API_KEY;
  const secretKeyEnv = values['secret-key-env'] ?? 'POSTHOG_SECRET_KEY';
  if (!projectApiKey) {
    throw new UsageError(
      'give --file <definitions.json>, or a live project: --project-key (or POSTHOG_PROJECT_API_KEY) ' +
        `with the secret key in ${secretKeyEnv}`,
    );
  }
  const secretKey = env[secretKeyEnv];
  if (!secretKey) {
    throw new UsageError(`the secret key is read from ${secretKeyEnv}, which is not set`);
  }
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new UsageError('--timeout must be a positive number of milliseconds');
  }
  const definitions = await downloadDefinitions({ host, projectApiKey, secretKey, timeoutMs });
  return { definitions, from: new URL(host).origin };
}
