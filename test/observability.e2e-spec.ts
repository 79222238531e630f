/**
 * Metrics as an operator consumes them. A leader and a follower (real Nest apps, real Redis, the
 * fake PostHog) export through prom-client and OpenTelemetry at once: both give the same numbers
 * for the same run. Then the Grafana dashboard and the Prometheus alert rules in deploy/ are
 * loaded, and every metric and label they use must be in what the apps really exported.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import request from 'supertest';
import { parse } from 'yaml';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { createApp } from './app/create-app.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { otelSnapshot, promSnapshot, relabel, type Samples } from './support/metric-snapshots.js';
import { RedisServer, sleep } from './support/redis-server.js';

const INTERVAL_MS = 150;
const USERS = Array.from({ length: 16 }, (_, i) => `user-${i}`);

/** Each prom-client metric and the OpenTelemetry instrument that must report the same figures. */
const SAME_FIGURES = [
  { prom: 'definition_fetches_total', otel: 'posthog.flags.definitions.requests', labels: { outcome: 'outcome' } },
  { prom: 'lease_events_total', otel: 'posthog.flags.lease.events', labels: { event: 'event' } },
  { prom: 'follower_reads_total', otel: 'posthog.flags.follower.reads', labels: { result: 'result' } },
  { prom: 'evaluations_total', otel: 'posthog.flags.evaluations', labels: { flag: 'feature_flag.key', result: 'result' } },
  { prom: 'is_leader', otel: 'posthog.flags.role', labels: {}, otelOnly: { role: 'leader' } },
  { prom: 'redis_up', otel: 'posthog.flags.redis.up', labels: {} },
  { prom: 'quota_limited', otel: 'posthog.flags.quota.limited', labels: {} },
  { prom: 'leader_stalled', otel: 'posthog.flags.leader.stalled', labels: {} },
  { prom: 'change_propagation_seconds', otel: 'posthog.flags.change.propagation', labels: { part: 'part' }, histogram: true },
] as const; // prettier-ignore

interface Instrumented {
  app: INestApplication;
  registry: Registry;
  reader: PeriodicExportingMetricReader;
  exporter: InMemoryMetricExporter;
  provider: MeterProvider;
}

/** The prom-client figures mapped onto OpenTelemetry's label names, next to OpenTelemetry's own. */
function compared(prom: Map<string, Samples>, otel: Map<string, Samples>) {
  const fromProm: Record<string, Record<string, number>> = {};
  const fromOtel: Record<string, Record<string, number>> = {};
  for (const pair of SAME_FIGURES) {
    const labels = pair.labels as Record<string, string>;
    const otelLabels = Object.fromEntries(Object.values(labels).map((name) => [name, name]));
    const only = 'otelOnly' in pair ? pair.otelOnly : {};
    fromProm[pair.otel] = relabel(prom.get(`posthog_flags_${pair.prom}`), labels);
    fromOtel[pair.otel] = relabel(otel.get(pair.otel), otelLabels, only);
    // prom-client shows an unobserved histogram as count 0; OpenTelemetry shows nothing.
    if ('histogram' in pair && fromProm[pair.otel]['{"part":"count"}'] === 0)
      fromProm[pair.otel] = {};
  }
  return { fromProm, fromOtel };
}

describe('metrics: Prometheus and OpenTelemetry, dashboards and alert rules', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  const apps: Instrumented[] = [];
  let promText = '';

  async function start(options: PostHogFlagsModuleOptions): Promise<Instrumented> {
    const registry = new Registry();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // A long export interval: the test reads with forceFlush, nothing is pushed on its own.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const app = await createApp(
      { ...options, metrics: { registry }, openTelemetry: { meter: provider.getMeter('test') } },
      'express',
      { logger: false },
    );
    await app.init();
    const instrumented = { app, registry, reader, exporter, provider };
    apps.push(instrumented);
    return instrumented;
  }

  async function waitFor(probe: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 15_000; // generous: a loaded CI machine
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: {
        flags: [booleanFlag('new-checkout'), booleanFlag('express-shipping', { rolloutPercentage: 50 })],
      },
    });
    redis = await RedisServer.start();
    const options: PostHogFlagsModuleOptions = {
      projectApiKey: fake.projectApiKey,
      secretKey: fake.secretKey,
      host: fake.url,
      redis: redis.url,
      pollingIntervalMs: INTERVAL_MS,
    };
    const leader = await start(options);
    await waitFor(
      async () => (await request(leader.app.getHttpServer()).get('/flags/status')).body.role === 'leader',
      'a leader',
    );
    const follower = await start(options);
    await waitFor(
      async () => (await request(follower.app.getHttpServer()).get('/flags/status')).body.ready,
      'a ready follower',
    );
    for (const { app } of apps) {
      for (const user of USERS) {
        await request(app.getHttpServer()).get('/checkout/express').set('authorization', `Bearer ${user}`);
      }
    }
    // A change, so the follower makes a full read besides its meta-only ones.
    fake.setDefinitions({ flags: [booleanFlag('new-checkout'), booleanFlag('express-shipping')] });
    await waitFor(
      async () =>
        (await request(follower.app.getHttpServer()).get('/checkout/express').set('authorization', 'Bearer user-0'))
          .status === 200 &&
        (await request(follower.app.getHttpServer()).get('/checkout/express').set('authorization', 'Bearer user-1'))
          .status === 200,
      'the change at the follower',
    );
    await sleep(4 * INTERVAL_MS); // some 304s and unchanged reads
    promText = (await Promise.all(apps.map((a) => a.registry.metrics()))).join('\n');
  }); // prettier-ignore
  afterAll(async () => {
    for (const { app, provider } of apps) {
      await app.close();
      await provider.shutdown();
    }
    await fake?.close();
    await redis?.stop();
  });

  /** Both views of one app, read while prom-client stood still (polls go on meanwhile). */
  async function figuresOf({ registry, reader, exporter }: Instrumented) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const before = await promSnapshot(registry);
      const otel = await otelSnapshot(reader, exporter);
      const after = await promSnapshot(registry);
      const reading = compared(before, otel);
      if (JSON.stringify(reading.fromProm) === JSON.stringify(compared(after, otel).fromProm)) {
        return reading;
      }
    }
    throw new Error('prom-client never stood still for a reading');
  }
  const ENABLED = '{"feature_flag.key":"new-checkout","result":"enabled"}';
  const DENIED = '{"feature_flag.key":"express-shipping","result":"denied"}';

  it('OpenTelemetry reports the same numbers as prom-client (leader)', async () => {
    const { fromProm, fromOtel } = await figuresOf(apps[0]);
    expect(fromOtel).toEqual(fromProm);
    // Not a comparison of two empty sets: the run produced each kind of figure.
    const fetches = fromOtel['posthog.flags.definitions.requests'];
    expect(fetches['{"outcome":"200"}']).toBeGreaterThanOrEqual(2);
    expect(fetches['{"outcome":"304"}']).toBeGreaterThanOrEqual(1);
    expect(fromOtel['posthog.flags.lease.events']).toEqual({ '{"event":"acquired"}': 1 });
    expect(fromOtel['posthog.flags.role']).toEqual({ '{}': 1 });
    expect(fromOtel['posthog.flags.evaluations'][ENABLED]).toBe(USERS.length);
    expect(fromOtel['posthog.flags.evaluations'][DENIED]).toBeGreaterThanOrEqual(1);
    expect(fromOtel['posthog.flags.redis.up']).toEqual({ '{}': 1 });
  });

  it('OpenTelemetry reports the same numbers as prom-client (follower)', async () => {
    const { fromProm, fromOtel } = await figuresOf(apps[1]);
    expect(fromOtel).toEqual(fromProm);
    expect(fromOtel['posthog.flags.definitions.requests']).toEqual({});
    const reads = fromOtel['posthog.flags.follower.reads'];
    expect(reads['{"result":"full"}']).toBeGreaterThanOrEqual(1);
    expect(reads['{"result":"unchanged"}']).toBeGreaterThanOrEqual(1);
    // The change reached the follower by its notice: one propagation, well under a poll interval
    // here (the leader wrote it, the follower read it in the same moment, on one host's clock).
    const propagation = fromOtel['posthog.flags.change.propagation'];
    expect(propagation['{"part":"count"}']).toBe(1);
    expect(propagation['{"part":"sum"}']).toBeLessThan(2);
    expect(fromOtel['posthog.flags.role']).toEqual({ '{}': 0 });
    // Every request passed the class flag; the follower also served the waits of the run.
    expect(fromOtel['posthog.flags.evaluations'][ENABLED]).toBeGreaterThan(USERS.length);
    expect(fromOtel['posthog.flags.evaluations'][DENIED]).toBeGreaterThanOrEqual(1);
  });

  it('reports the definitions age alike, and the feature-flag provider attribute', async () => {
    const { registry, reader, exporter } = apps[0];
    const prom = (await promSnapshot(registry)).get('posthog_flags_definitions_age_seconds');
    const otel = await otelSnapshot(reader, exporter);
    const promAge = [...prom!.values()][0];
    const otelAge = [...otel.get('posthog.flags.definitions.age')!.values()][0];
    expect(promAge).toBeLessThan(2);
    expect(Math.abs(otelAge - promAge)).toBeLessThan(1);
    const providers = [...otel.get('posthog.flags.evaluations')!.keys()].map(
      (key) => (JSON.parse(key) as Record<string, string>)['feature_flag.provider.name'],
    );
    expect(new Set(providers)).toEqual(new Set(['posthog']));
  });

  const deployed = (() => {
    const rules = parse(readFileSync('deploy/prometheus/posthog-flags.rules.yml', 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const dashboard = JSON.parse(readFileSync('deploy/grafana/posthog-flags.dashboard.json', 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      templating: { list: Array<{ query: { query: string } }> };
    };
    return [
      ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
      ...dashboard.templating.list.map((v) => ({ where: 'dashboard variable', expr: v.query.query })),
    ];
  })(); // prettier-ignore

  it('deploy/ holds the five alerts the runbook needs, and a dashboard', () => {
    const alerts = deployed.filter((d) => d.where.startsWith('alert')).map((d) => d.where);
    for (const name of ['Stale', 'NoLeader', 'LeaderChurn', 'QuotaLimited', 'RedisDown']) {
      expect(alerts).toContain(`alert PostHogFlags${name === 'Stale' ? 'DefinitionsStale' : name}`);
    }
    expect(deployed.filter((d) => d.where.startsWith('panel')).length).toBeGreaterThanOrEqual(10);
  });

  it('every metric and module label the dashboard and alert rules use is in the real output', () => {
    const exported = new Set<string>();
    for (const [, name, type] of promText.matchAll(/^# TYPE (\S+) (\S+)/gm)) {
      exported.add(name);
      if (type === 'histogram') for (const part of ['bucket', 'sum', 'count']) exported.add(`${name}_${part}`);
    }
    const labelsOf = new Map<string, Set<string>>();
    for (const [, name, labels] of promText.matchAll(/^(posthog_flags_\w+)\{([^}]*)\}/gm)) {
      const set = labelsOf.get(name) ?? new Set<string>();
      for (const [, label] of labels.matchAll(/(\w+)="/g)) set.add(label);
      labelsOf.set(name, set);
    }
    const SCRAPE_LABELS = new Set(['namespace', 'job', 'pod', 'instance']);
    const problems: string[] = [];
    for (const { where, expr } of deployed) {
      const names = [...expr.matchAll(/\bposthog_flags_\w+/g)].map((m) => m[0]);
      if (names.length === 0) problems.push(`${where}: uses no posthog_flags_ metric`);
      for (const name of names) if (!exported.has(name)) problems.push(`${where}: ${name} is not exported`);
      const used = [
        ...[...expr.matchAll(/posthog_flags_\w+\{([^}]*)\}/g)].flatMap((m) => [...m[1].matchAll(/(\w+)\s*(?:=|!=|=~|!~)/g)].map((l) => l[1])),
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((l) => l.trim())),
      ].filter((label) => !SCRAPE_LABELS.has(label));
      const available = new Set(names.flatMap((name) => [...(labelsOf.get(name) ?? [])]));
      for (const label of used) if (!available.has(label)) problems.push(`${where}: label ${label} is not on ${names.join(', ')}`);
    }
    expect(problems).toEqual([]);
    expect(exported.size).toBeGreaterThanOrEqual(8);
  }); // prettier-ignore
});

describe('openTelemetry: true', () => {
  it("records on the global meter provider's meter when no meter is given", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    const app = await createApp(
      {
        projectApiKey: 'phc_otel_global',
        definitionsFile: 'test/app/flags.json',
        openTelemetry: true,
      },
      'express',
      { logger: false },
    );
    try {
      await app.init();
      await request(app.getHttpServer()).get('/checkout').set('authorization', 'Bearer alice');
      await request(app.getHttpServer()).get('/checkout');
      const otel = await otelSnapshot(reader, exporter);
      const evaluations = relabel(otel.get('posthog.flags.evaluations'), {
        'feature_flag.key': 'flag',
        result: 'result',
      });
      const total = Object.values(evaluations).reduce((sum, n) => sum + n, 0);
      expect(total).toBeGreaterThanOrEqual(1);
      expect(Object.keys(evaluations).every((key) => key.includes('"flag":"new-checkout"'))).toBe(
        true,
      );
      expect(otel.get('posthog.flags.role')?.get('{"role":"offline"}')).toBe(1);
    } finally {
      await app.close();
      metrics.disable();
      await provider.shutdown();
    }
  });
});
