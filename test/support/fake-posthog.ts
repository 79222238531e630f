/**
 * A fake PostHog for tests: the three endpoints posthog-node 5.x calls, faithful to what the SDK
 * sends and parses, with fault injection on the definitions endpoint.
 *
 * - `GET /flags/definitions?token=<project key>&send_cohorts` (local evaluation poller), bearer
 *   auth, strong ETag and 304 on a matching `If-None-Match`.
 * - `POST /flags/?v=2` (remote evaluation), v2 "flags" response shape.
 * - `POST /batch/` (event flush; posthog-node gzips the body and sends `Content-Encoding: gzip`).
 *
 * Node built-ins only. Never prints the secret key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

export interface FlagDefinitionsPayload {
  flags: unknown[];
  group_type_mapping?: Record<string, string>;
  cohorts?: Record<string, unknown>;
  [extra: string]: unknown;
}

export type DefinitionsFault =
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'truncated' }
  | { kind: 'invalid-json' }
  | { kind: 'no-flags' }
  | { kind: 'reset' };

export interface FakePostHogOptions {
  projectApiKey?: string;
  secretKey?: string;
  /**
   * More bearer keys accepted besides `secretKey`. PostHog accepts any valid key of the project,
   * and distinct keys let `setFault(..., { secretKey })` target one process of a fleet.
   */
  extraSecretKeys?: string[];
  definitions?: FlagDefinitionsPayload;
  port?: number;
  /** Added to every `/flags` answer: PostHog's real round trip, which loopback does not have. */
  flagsLatencyMs?: number;
}

export interface FakePostHogCounts {
  /** Every request to /flags/definitions, counted on arrival (faulted ones included). */
  definitions: number;
  /** Every 200 answer, including the malformed ones of the `truncated`/`invalid-json`/`no-flags` faults. */
  definitions200: number;
  definitions304: number;
  /** Answers with status >= 400, plus `reset` sockets. */
  definitionsError: number;
  flags: number;
  batch: number;
}

export interface FakeRequestLogEntry {
  at: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** 0 while unanswered (hang, delay) or when the socket was reset. */
  status: number;
  ifNoneMatch?: string;
  /** Non-enumerable, so an accidental console.log or jest diff of the log does not print it. */
  authorization?: string;
  contentEncoding?: string;
}

type RemoteFlagValue = boolean | string;
type RemoteFlagsMap = Record<string, RemoteFlagValue>;
// The parsed `/flags` request body: distinct_id, person_properties, groups, flag_keys_to_evaluate...
type FlagsRequestBody = Record<string, unknown>;
type RemoteFlagsSource = RemoteFlagsMap | ((body: FlagsRequestBody) => RemoteFlagsMap);

interface ActiveFault {
  fault: DefinitionsFault;
  remaining: number | undefined;
  secretKey: string | undefined;
}

/** The parts of a flag definition the fake reads to answer remote evaluation. */
interface FlagShape {
  id?: number;
  key?: string;
  version?: number;
  active?: boolean;
  deleted?: boolean;
  filters?: {
    groups?: Array<{ properties?: unknown[]; rollout_percentage?: number | null }>;
    multivariate?: { variants?: Array<{ key: string; rollout_percentage: number }> } | null;
    payloads?: Record<string, unknown>;
  };
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function authError(detail: string): string {
  return JSON.stringify({ type: 'authentication_error', code: 'invalid_api_key', detail });
}

// Bodies shaped like PostHog's (DRF) error responses, for faults given without a body.
function defaultFaultBody(status: number): string {
  switch (status) {
    case 401:
      return authError('Personal API key found in request Authorization header is invalid.');
    case 402:
      return JSON.stringify({
        type: 'quota_limited',
        code: 'payment_required',
        detail: 'You have exceeded your feature flag request quota',
      });
    case 403:
      return JSON.stringify({
        type: 'authentication_error',
        code: 'permission_denied',
        detail: "API key missing required scope 'feature_flag:read'",
      });
    case 429:
      return JSON.stringify({
        type: 'throttled_error',
        code: 'throttled',
        detail: 'Request was throttled. Expected available in 1 second.',
      });
    case 500:
      return JSON.stringify({
        type: 'server_error',
        code: 'error',
        detail: 'A server error occurred.',
      });
    default:
      // 502/503 come from the load balancer, not the app: plain text, not JSON.
      return `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  }
}

function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

function stableId(key: string): number {
  return parseInt(createHash('sha1').update(key).digest('hex').slice(0, 6), 16);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The fake's stand-in for PostHog's remote evaluation when no `setRemoteFlags` was given. A
 * simplification, not PostHog's engine: an active flag is on when some condition has no property
 * filters and a 100% (or unset) rollout; a multivariate flag then answers its 100% variant, if it
 * has one. Everything else is false, except inactive or deleted flags, which PostHog's `/flags`
 * leaves out of the answer (`undefined` here). Tests needing more set the values explicitly.
 */
function defaultRemoteValue(flag: FlagShape): RemoteFlagValue | undefined {
  if (!flag.active || flag.deleted) {
    return undefined;
  }
  const fullyOn = (flag.filters?.groups ?? []).some(
    (group) =>
      (group.properties ?? []).length === 0 &&
      (group.rollout_percentage === undefined ||
        group.rollout_percentage === null ||
        group.rollout_percentage === 100),
  );
  if (!fullyOn) {
    return false;
  }
  const variants = flag.filters?.multivariate?.variants;
  if (variants && variants.length > 0) {
    return variants.find((variant) => variant.rollout_percentage === 100)?.key ?? false;
  }
  return true;
}

export class FakePostHog {
  readonly url: string;
  readonly projectApiKey: string;
  readonly secretKey: string;
  readonly counts: FakePostHogCounts = {
    definitions: 0,
    definitions200: 0,
    definitions304: 0,
    definitionsError: 0,
    flags: 0,
    batch: 0,
  };
  readonly requests: FakeRequestLogEntry[] = [];
  readonly events: Array<Record<string, any>> = [];

  private readonly acceptedKeys: Set<string>;
  private payload: FlagDefinitionsPayload = { flags: [] };
  private body = '';
  private currentEtag = '';
  private activeFault: ActiveFault | undefined;
  private hung: Array<{ req: IncomingMessage; res: ServerResponse; entry: FakeRequestLogEntry }> =
    [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private remoteFlags: RemoteFlagsSource | undefined;
  private remotePayloads: Record<string, unknown> = {};

  private readonly flagsLatencyMs: number;

  private constructor(
    private readonly server: Server,
    options: FakePostHogOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.projectApiKey = options.projectApiKey ?? 'phc_test_project';
    this.secretKey = options.secretKey ?? 'phs_test_secret_DO_NOT_LEAK';
    this.acceptedKeys = new Set([this.secretKey, ...(options.extraSecretKeys ?? [])]);
    this.flagsLatencyMs = options.flagsLatencyMs ?? 0;
    this.setDefinitions(options.definitions ?? { flags: [] });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) {
          res.writeHead(400, JSON_HEADERS).end(JSON.stringify({ detail: 'Malformed request' }));
        } else {
          res.destroy();
        }
      });
    });
  }

  /** Listens on 127.0.0.1, on `options.port` or a free port. */
  static async start(options: FakePostHogOptions = {}): Promise<FakePostHog> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FakePostHog(server, options);
  }

  /** Replaces the definitions; a different content gives a different ETag. */
  setDefinitions(payload: FlagDefinitionsPayload): void {
    // Serialised once, so the ETag always describes exactly the bytes served.
    this.body = JSON.stringify({
      ...payload,
      flags: payload.flags,
      group_type_mapping: payload.group_type_mapping ?? {},
      cohorts: payload.cohorts ?? {},
    });
    this.payload = JSON.parse(this.body) as FlagDefinitionsPayload;
    this.currentEtag = etagOf(this.body);
  }

  /** A copy: editing it changes nothing until passed to `setDefinitions`. */
  get definitions(): FlagDefinitionsPayload {
    return structuredClone(this.payload);
  }

  get etag(): string {
    return this.currentEtag;
  }

  /**
   * Faults apply to /flags/definitions only. `times`: the next N matching requests, then the
   * fault clears itself. `secretKey`: only requests made with that bearer. Any call releases the
   * requests a previous `hang` is holding (they are answered normally now), unless the new fault
   * is a hang too.
   */
  setFault(
    fault: DefinitionsFault | undefined,
    options: { times?: number; secretKey?: string } = {},
  ): void {
    this.activeFault = fault && { fault, remaining: options.times, secretKey: options.secretKey };
    if (fault?.kind !== 'hang') {
      const released = this.hung;
      this.hung = [];
      for (const { req, res, entry } of released) {
        this.serveDefinitions(req, res, entry);
      }
    }
  }

  /**
   * Values for `/flags/?v=2`: a map, or a function of the request body. `payloads` are per flag
   * key, sent JSON-encoded in `metadata.payload` like PostHog does. `undefined` restores the
   * default derived from the current definitions (see `defaultRemoteValue`).
   */
  setRemoteFlags(map: RemoteFlagsSource | undefined, payloads: Record<string, unknown> = {}): void {
    this.remoteFlags = map;
    this.remotePayloads = payloads;
  }

  /** Zeroes the counters and empties the request log and events, in place. */
  resetCounts(): void {
    for (const key of Object.keys(this.counts) as Array<keyof FakePostHogCounts>) {
      this.counts[key] = 0;
    }
    this.requests.length = 0;
    this.events.length = 0;
  }

  async waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() >= deadline) {
        throw new Error(
          `FakePostHog.waitFor timed out after ${timeoutMs} ms waiting for: ${predicate.toString()}; ` +
            `counts: ${JSON.stringify(this.counts)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes the server and every open socket, hung and keep-alive ones included. */
  async close(): Promise<void> {
    this.activeFault = undefined;
    this.hung = [];
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const entry: FakeRequestLogEntry = {
      at: Date.now(),
      method: req.method ?? '',
      path,
      status: 0,
    };
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined) {
      entry.ifNoneMatch = ifNoneMatch;
    }
    if (req.headers['content-encoding'] !== undefined) {
      entry.contentEncoding = req.headers['content-encoding'];
    }
    Object.defineProperty(entry, 'authorization', {
      value: req.headers.authorization,
      enumerable: false,
    });
    this.requests.push(entry);

    if (req.method === 'GET' && path === '/flags/definitions') {
      this.counts.definitions++;
      this.handleDefinitions(req, res, entry);
    } else if (req.method === 'POST' && (path === '/flags/' || path === '/flags')) {
      this.counts.flags++;
      await this.handleRemoteFlags(req, res, entry);
    } else if (req.method === 'POST' && (path === '/batch/' || path === '/batch')) {
      this.counts.batch++;
      await this.handleBatch(req, res, entry);
    } else {
      req.resume();
      this.send(res, entry, 404, JSON_HEADERS, JSON.stringify({ detail: 'Not found.' }));
    }
  }

  private takeFault(req: IncomingMessage): DefinitionsFault | undefined {
    const active = this.activeFault;
    if (!active) {
      return undefined;
    }
    if (
      active.secretKey !== undefined &&
      req.headers.authorization !== `Bearer ${active.secretKey}`
    ) {
      return undefined;
    }
    if (active.remaining !== undefined && --active.remaining <= 0) {
      this.activeFault = undefined;
    }
    return active.fault;
  }

  private handleDefinitions(
    req: IncomingMessage,
    res: ServerResponse,
    entry: FakeRequestLogEntry,
  ): void {
    const fault = this.takeFault(req);
    switch (fault?.kind) {
      case undefined:
        return this.serveDefinitions(req, res, entry);
      case 'status': {
        const body = fault.body ?? defaultFaultBody(fault.status);
        const type = body.startsWith('{') ? 'application/json' : 'text/plain';
        const headers: Record<string, string> = { 'Content-Type': type };
        if (fault.status === 429) {
          headers['Retry-After'] = '1';
        }
        return this.send(res, entry, fault.status, headers, body);
      }
      case 'delay': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.serveDefinitions(req, res, entry);
        }, fault.ms);
        this.timers.add(timer);
        return;
      }
      case 'hang':
        this.hung.push({ req, res, entry });
        return;
      case 'truncated': {
        // A well-formed HTTP response (correct Content-Length) whose JSON is cut short.
        const half = this.body.slice(0, Math.floor(this.body.length / 2));
        return this.send(res, entry, 200, { ...JSON_HEADERS, ETag: this.currentEtag }, half);
      }
      case 'invalid-json':
        return this.send(res, entry, 200, { 'Content-Type': 'text/html' }, '<html>Oops</html>');
      case 'no-flags':
        return this.send(res, entry, 200, JSON_HEADERS, '{}');
      case 'reset':
        this.counts.definitionsError++;
        req.socket.destroy();
        return;
    }
  }

  private serveDefinitions(
    req: IncomingMessage,
    res: ServerResponse,
    entry: FakeRequestLogEntry,
  ): void {
    const token = new URL(req.url ?? '/', this.url).searchParams.get('token');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined || !this.acceptedKeys.has(bearer)) {
      const detail = 'Personal API key found in request Authorization header is invalid.';
      return this.send(res, entry, 401, JSON_HEADERS, authError(detail));
    }
    if (token !== this.projectApiKey) {
      const detail =
        'Project API key invalid. You can find your project API key in PostHog project settings.';
      return this.send(res, entry, 401, JSON_HEADERS, authError(detail));
    }
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && this.etagMatches(ifNoneMatch)) {
      return this.send(res, entry, 304, { ETag: this.currentEtag });
    }
    this.send(res, entry, 200, { ...JSON_HEADERS, ETag: this.currentEtag }, this.body);
  }

  private etagMatches(ifNoneMatch: string): boolean {
    return ifNoneMatch
      .split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''))
      .some((tag) => tag === '*' || tag === this.currentEtag);
  }

  private async handleRemoteFlags(
    req: IncomingMessage,
    res: ServerResponse,
    entry: FakeRequestLogEntry,
  ): Promise<void> {
    const body: unknown = JSON.parse((await readBody(req)).toString('utf8'));
    if (this.flagsLatencyMs > 0) await new Promise((r) => setTimeout(r, this.flagsLatencyMs));
    if (!isRecord(body) || body.token !== this.projectApiKey) {
      const detail =
        'Project API key invalid. You can find your project API key in PostHog project settings.';
      return this.send(res, entry, 401, JSON_HEADERS, authError(detail));
    }
    const definitions = new Map<string, FlagShape>();
    for (const flag of this.payload.flags as FlagShape[]) {
      if (isRecord(flag) && typeof flag.key === 'string') {
        definitions.set(flag.key, flag);
      }
    }
    let values: RemoteFlagsMap;
    if (typeof this.remoteFlags === 'function') {
      values = this.remoteFlags(body);
    } else if (this.remoteFlags) {
      values = this.remoteFlags;
    } else {
      values = {};
      for (const [key, flag] of definitions) {
        const value = defaultRemoteValue(flag);
        if (value !== undefined) {
          values[key] = value;
        }
      }
    }
    const only = Array.isArray(body.flag_keys_to_evaluate)
      ? new Set(body.flag_keys_to_evaluate as unknown[])
      : undefined;

    const flags: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (only && !only.has(key)) {
        continue;
      }
      const definition = definitions.get(key);
      const enabled = value !== false;
      const payload = enabled ? this.remotePayloadFor(key, value, definition) : undefined;
      flags[key] = {
        key,
        enabled,
        variant: typeof value === 'string' ? value : null,
        reason: enabled
          ? { code: 'condition_match', condition_index: 0, description: 'Matched condition set 1' }
          : {
              code: 'no_condition_match',
              condition_index: null,
              description: 'No matching condition sets',
            },
        metadata: {
          id: definition?.id ?? stableId(key),
          version: definition?.version ?? 1,
          description: null,
          ...(payload !== undefined && { payload }),
        },
      };
    }
    this.send(
      res,
      entry,
      200,
      JSON_HEADERS,
      JSON.stringify({
        flags,
        errorsWhileComputingFlags: false,
        requestId: randomUUID(),
        evaluatedAt: Date.now(),
      }),
    );
  }

  // PostHog sends payloads JSON-encoded (a string) in `metadata.payload`.
  private remotePayloadFor(
    key: string,
    value: RemoteFlagValue,
    definition: FlagShape | undefined,
  ): string | undefined {
    if (key in this.remotePayloads) {
      return JSON.stringify(this.remotePayloads[key]);
    }
    const stored = definition?.filters?.payloads?.[String(value)];
    if (stored === undefined || stored === null) {
      return undefined;
    }
    return typeof stored === 'string' ? stored : JSON.stringify(stored);
  }

  private async handleBatch(
    req: IncomingMessage,
    res: ServerResponse,
    entry: FakeRequestLogEntry,
  ): Promise<void> {
    const body: unknown = JSON.parse((await readBody(req)).toString('utf8'));
    // Like PostHog's capture, the token is not checked here: unknown tokens are dropped later.
    if (isRecord(body) && Array.isArray(body.batch)) {
      for (const event of body.batch) {
        if (isRecord(event)) {
          this.events.push(event);
        }
      }
    }
    this.send(res, entry, 200, JSON_HEADERS, '{}');
  }

  private send(
    res: ServerResponse,
    entry: FakeRequestLogEntry,
    status: number,
    headers: Record<string, string>,
    body?: string,
  ): void {
    entry.status = status;
    if (entry.path === '/flags/definitions') {
      if (status === 200) {
        this.counts.definitions200++;
      } else if (status === 304) {
        this.counts.definitions304++;
      } else if (status >= 400) {
        this.counts.definitionsError++;
      }
    }
    if (res.destroyed) {
      return;
    }
    res.writeHead(
      status,
      body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) },
    );
    res.end(body);
  }
}

// ---------------------------------------------------------------------------------------------
// Builders for flag definitions in the shape /flags/definitions returns (posthog-node's
// PostHogFeatureFlag). Payloads are stored JSON-encoded, as PostHog stores them.

interface FlagBuild {
  id: number;
  key: string;
  groups: unknown[];
  active?: boolean;
  multivariate?: unknown;
  payloads?: Record<string, string>;
  aggregationGroupTypeIndex?: number;
}

function flagDefinition(build: FlagBuild): Record<string, unknown> {
  return {
    id: build.id,
    team_id: 1,
    name: build.key,
    key: build.key,
    filters: {
      groups: build.groups,
      payloads: build.payloads ?? {},
      multivariate: build.multivariate ?? null,
      ...(build.aggregationGroupTypeIndex !== undefined && {
        aggregation_group_type_index: build.aggregationGroupTypeIndex,
      }),
    },
    deleted: false,
    active: build.active ?? true,
    ensure_experience_continuity: false,
    has_encrypted_payloads: false,
    version: 1,
    evaluation_runtime: 'all',
    bucketing_identifier: 'distinct_id',
    evaluation_contexts: [],
  };
}

export function booleanFlag(
  key: string,
  opts: {
    rolloutPercentage?: number;
    active?: boolean;
    id?: number;
    properties?: unknown[];
    payload?: unknown;
    aggregationGroupTypeIndex?: number;
  } = {},
): unknown {
  return flagDefinition({
    id: opts.id ?? stableId(key),
    key,
    active: opts.active,
    groups: [
      {
        properties: opts.properties ?? [],
        rollout_percentage: opts.rolloutPercentage ?? 100,
        variant: null,
      },
    ],
    payloads: opts.payload === undefined ? {} : { true: JSON.stringify(opts.payload) },
    aggregationGroupTypeIndex: opts.aggregationGroupTypeIndex,
  });
}

export function multivariateFlag(
  key: string,
  variants: Array<{ key: string; rolloutPercentage: number }>,
  opts: {
    rolloutPercentage?: number;
    id?: number;
    payloads?: Record<string, unknown>;
    properties?: unknown[];
  } = {},
): unknown {
  return flagDefinition({
    id: opts.id ?? stableId(key),
    key,
    groups: [
      {
        properties: opts.properties ?? [],
        rollout_percentage: opts.rolloutPercentage ?? 100,
        variant: null,
      },
    ],
    multivariate: {
      variants: variants.map((variant) => ({
        key: variant.key,
        name: variant.key,
        rollout_percentage: variant.rolloutPercentage,
      })),
    },
    payloads: Object.fromEntries(
      Object.entries(opts.payloads ?? {}).map(([variant, value]) => [
        variant,
        JSON.stringify(value),
      ]),
    ),
  });
}

/**
 * `count` varied, deterministic flags with ids 1..count. Person-property flags need `email` /
 * `plan` in the person properties, or posthog-node cannot decide them locally (as with PostHog).
 */
export function manyFlags(count: number): unknown[] {
  const flags: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const key = `flag-${String(id).padStart(4, '0')}`;
    switch (i % 8) {
      case 0:
        flags.push(booleanFlag(`${key}-on`, { id }));
        break;
      case 1:
        flags.push(booleanFlag(`${key}-half`, { id, rolloutPercentage: 50 }));
        break;
      case 2:
        flags.push(
          booleanFlag(`${key}-staff`, {
            id,
            properties: [
              { key: 'email', type: 'person', value: '@example.com', operator: 'icontains' },
            ],
          }),
        );
        break;
      case 3:
        flags.push(
          multivariateFlag(
            `${key}-ab`,
            [
              { key: 'control', rolloutPercentage: 50 },
              { key: 'test', rolloutPercentage: 50 },
            ],
            { id },
          ),
        );
        break;
      case 4:
        flags.push(booleanFlag(`${key}-off`, { id, active: false }));
        break;
      case 5:
        flags.push(booleanFlag(`${key}-zero`, { id, rolloutPercentage: 0 }));
        break;
      case 6:
        flags.push(booleanFlag(`${key}-payload`, { id, payload: { limit: id, tier: 'gold' } }));
        break;
      default:
        flags.push(
          multivariateFlag(
            `${key}-plans`,
            [
              { key: 'a', rolloutPercentage: 34 },
              { key: 'b', rolloutPercentage: 33 },
              { key: 'c', rolloutPercentage: 33 },
            ],
            {
              id,
              rolloutPercentage: 80,
              properties: [
                { key: 'plan', type: 'person', value: ['pro', 'enterprise'], operator: 'exact' },
              ],
              payloads: { a: { color: 'red' }, b: { color: 'green' }, c: { color: 'blue' } },
            },
          ),
        );
    }
  }
  return flags;
}

// Standalone: `node .build/test/support/fake-posthog.js` serves demo flags for manual runs.
function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) {
    return false;
  }
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const fake = await FakePostHog.start({
    port: process.env.PORT ? Number(process.env.PORT) : undefined,
    projectApiKey: process.env.FAKE_POSTHOG_PROJECT_API_KEY || undefined,
    secretKey: process.env.FAKE_POSTHOG_SECRET_KEY || undefined,
    flagsLatencyMs: Number(process.env.FAKE_POSTHOG_FLAGS_LATENCY_MS) || undefined,
    definitions: {
      flags: [
        booleanFlag('new-checkout', { payload: { steps: 2 } }),
        booleanFlag('beta-banner', { rolloutPercentage: 50 }),
        booleanFlag('pro-only', {
          properties: [{ key: 'plan', type: 'person', value: ['pro'], operator: 'exact' }],
        }),
        multivariateFlag('pricing-page', [
          { key: 'control', rolloutPercentage: 50 },
          { key: 'discount', rolloutPercentage: 50 },
        ]),
        booleanFlag('retired', { active: false }),
      ],
    },
  });
  // The URL and project key only: the secret key is never printed.
  process.stdout.write(`FAKE_POSTHOG_URL=${fake.url}\n`);
  process.stdout.write(`FAKE_POSTHOG_PROJECT_API_KEY=${fake.projectApiKey}\n`);
  const stop = (): void => {
    void fake.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMainModule()) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
