import { Redactor } from '../redact.js';

export interface DefinitionsDownload {
  /** PostHog host, e.g. `https://eu.i.posthog.com`. */
  host: string;
  projectApiKey: string;
  /** Project secret key (phs_…) or personal API key (phx_…). Never printed. */
  secretKey: string;
  timeoutMs: number;
}

/**
 * The project's definitions from the endpoint posthog-node's local evaluation polls, with the same
 * bearer authentication. Errors name the status and PostHog's reason, never the secret key.
 */
export async function downloadDefinitions(download: DefinitionsDownload): Promise<unknown> {
  const { host, projectApiKey, secretKey, timeoutMs } = download;
  const redactor = new Redactor([secretKey]);
  // Built as posthog-node builds it: a host with a path (a reverse proxy) keeps its path.
  const base = host.replace(/\/+$/, '');
  const url = new URL(
    `${base}/flags/definitions?token=${encodeURIComponent(projectApiKey)}&send_cohorts`,
  );
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${secretKey}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new Error(`could not reach ${url.origin}: ${redactor.error(cause)}`);
  }
  const text = await response.text();
  if (response.status !== 200) {
    const reason = reasonOf(text);
    throw new Error(
      `${url.origin} answered ${response.status}${reason ? ` (${redactor.error(reason)})` : ''}` +
        (response.status === 401 || response.status === 403
          ? ': check the project API key and that the secret key may read feature flags'
          : ''),
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url.origin} answered 200 with a body that is not JSON`);
  }
}

/** PostHog's error `detail` (DRF shape), else nothing: a body may be a proxy's HTML page. */
function reasonOf(body: string): string | undefined {
  try {
    const detail: unknown = JSON.parse(body)?.detail;
    return typeof detail === 'string' ? detail : undefined;
  } catch {
    return undefined;
  }
}
