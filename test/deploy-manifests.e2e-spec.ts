/**
 * deploy/kubernetes/example-app.yaml: every object valid against the Kubernetes OpenAPI schemas
 * (the `kubernetes-models` package's validators), the app's probes equal to the README's
 * recommendation, its environment read by the example app as meant, and its probe paths answered
 * by the real example app.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { resolveOptions } from '../src/posthog-flags-options.resolve.js';
import { createApp } from './app/create-app.js';
import { optionsFromEnv } from './app/main.js';

const MANIFEST = 'deploy/kubernetes/example-app.yaml';

interface Validatable {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Validatable> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 Secret': Secret,
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string } } & Record<
  string,
  any
>;

function validate(object: Manifest): void {
  const Model = MODELS[`${object.apiVersion} ${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

const objects = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map(
  (document) => document.toJS() as Manifest,
);
const find = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const appContainer = () => find('Deployment', 'flags-example').spec.template.spec.containers[0];

describe('Kubernetes manifests for the example app', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createApp(
      { projectApiKey: 'phc_manifest_check', definitionsFile: 'test/app/flags.json' },
      'express',
      { logger: false },
    );
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('holds the app, a Redis and their Services, each valid against the Kubernetes schemas', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Secret/posthog-flags',
      'Deployment/redis',
      'Service/redis',
      'Deployment/flags-example',
      'Service/flags-example',
    ]);
    for (const object of objects) expect(() => validate(object)).not.toThrow();
  });

  it('the schema check rejects a broken object (it can fail)', () => {
    const broken = structuredClone(find('Deployment', 'flags-example'));
    broken.spec.template.spec.containers[0].readinessProbe.periodSeconds = 'ten';
    expect(() => validate(broken)).toThrow(/periodSeconds must be integer/);
    delete broken.spec.selector;
    expect(() => validate(broken)).toThrow(/selector/);
  });

  it('probes as the README recommends: readiness on the flags health, liveness on the process', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /```yaml\n(readinessProbe:[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const recommended = parse(block!) as Record<string, unknown>;
    const { readinessProbe, livenessProbe } = appContainer();
    expect({ readinessProbe, livenessProbe }).toEqual(recommended);
  });

  it('sets the environment the example app reads: shared mode with the Secret and the Redis Service', () => {
    const secret = find('Secret', 'posthog-flags').stringData as Record<string, string>;
    const env: Record<string, string> = {};
    for (const variable of appContainer().env as Array<Record<string, any>>) {
      env[variable.name] = variable.value ?? secret[variable.valueFrom.secretKeyRef.key];
    }
    const options = optionsFromEnv(env);
    expect(options).toMatchObject({
      projectApiKey: secret.POSTHOG_PROJECT_API_KEY,
      secretKey: secret.POSTHOG_SECRET_KEY,
      redis: `redis://${find('Service', 'redis').metadata.name}:6379`,
    });
    expect(resolveOptions(options).mode).toBe('shared');
    expect(env.HOST).toBe('0.0.0.0'); // probes come from the kubelet, not loopback
  });

  it('the probe paths are answered by the real example app', async () => {
    const { readinessProbe, livenessProbe } = appContainer();
    const ready = await request(app.getHttpServer()).get(readinessProbe.httpGet.path);
    expect(ready.status).toBe(200);
    expect(ready.body.info.posthog_flags.status).toBe('up');
    await request(app.getHttpServer()).get(livenessProbe.httpGet.path).expect(200);
  });
});
