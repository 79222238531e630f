/**
 * Child entry for the micro-benchmark: the guard's warm path in a loop, in-process, against one
 * `posthog.evaluateFlags()` call — inside the example app's module setup (offline definitions, so
 * nothing but evaluation runs). Answers `run` with a `micro` message.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import type { PostHog } from 'posthog-node';
import { FlagEvaluator } from '../../src/evaluation/flag-evaluator.js';
import { FeatureFlagGuard, POSTHOG_CLIENT, type FlagDefinitions } from '../../src/index.js';
import { AppModule } from '../app/app.module.js';
import { CheckoutController } from '../app/checkout.controller.js';
import { GATE_FLAG, PROJECT_API_KEY } from './config.js';
import { gateDefinitions } from './flag-sets.js';

export interface MicroReading {
  type: 'micro';
  /** µs per `canActivate` on a warm memo, net of building the request and context. */
  guardUs: number;
  /** The same on a handler with a `@FlagValue()` parameter (the guard keeps its decision there). */
  guardReadingFlagsUs: number;
  /** µs per `FlagEvaluator.peek` hit. */
  peekUs: number;
  /** µs per `evaluateFlags(id, { flagKeys: [key], onlyEvaluateLocally: true })`. */
  sdkUs: number;
  /** µs to build a request and an ExecutionContextHost (subtracted from `guardUs`). */
  contextUs: number;
}

const USERS = Array.from({ length: 1_000 }, (_, i) => `user-${i}`);
const ROUNDS = 5;
// Route handlers the guard reads metadata from (never called, so `this` does not matter): the
// bench's gated route (figure 5d), and one with a @FlagValue parameter.
const handlerOf = (name: string) =>
  Object.getOwnPropertyDescriptor(CheckoutController.prototype, name)!.value as Function;
const gatedHandler = handlerOf('summary');
const readingHandler = handlerOf('checkout');
let sink: unknown;

/** What the demo auth guard leaves on a request: a fresh object per request, like Express's. */
const contextFor = (i: number, handler = gatedHandler): ExecutionContextHost =>
  new ExecutionContextHost(
    [{ headers: {}, user: { id: USERS[i % USERS.length], plan: 'free' } }, {}, undefined],
    CheckoutController,
    handler,
  );

/** Median µs per iteration over a few rounds (after one unmeasured round for the JIT). */
function timeSync(iterations: number, body: (i: number) => unknown): number {
  const perRound = Math.max(1, Math.floor(iterations / ROUNDS));
  const samples: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) sink = body(i);
    const us = Number(process.hrtime.bigint() - start) / 1_000 / perRound;
    if (round > 0) samples.push(us);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function timeAsync(
  iterations: number,
  body: (i: number) => Promise<unknown>,
): Promise<number> {
  const perRound = Math.max(1, Math.floor(iterations / ROUNDS));
  const samples: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) sink = await body(i);
    const us = Number(process.hrtime.bigint() - start) / 1_000 / perRound;
    if (round > 0) samples.push(us);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function measure(iterations: number, sdkIterations: number): Promise<MicroReading> {
  const app = await NestFactory.createApplicationContext(
    AppModule.register({
      projectApiKey: PROJECT_API_KEY,
      definitions: gateDefinitions(true) as FlagDefinitions,
    }),
    { logger: ['error'] },
  );
  const guard = app.get(FeatureFlagGuard, { strict: false });
  const evaluator = app.get(FlagEvaluator, { strict: false });
  const posthog = app.get<PostHog>(POSTHOG_CLIENT, { strict: false });
  // Warm the memo: a user's first request evaluates (and returns a promise). An evaluation that
  // straddles the load's generation bump is not kept, hence passes until all answer at once.
  for (let pass = 0, misses = 1; misses > 0 && pass < 5; pass++) {
    misses = 0;
    for (let i = 0; i < USERS.length; i++) {
      const decided = guard.canActivate(contextFor(i));
      if (decided === true) continue;
      await decided;
      misses++;
    }
  }
  const context = {
    personProperties: { plan: 'free' },
    groups: undefined,
    groupProperties: undefined,
  };
  const keys = [GATE_FLAG];

  const contextUs = timeSync(iterations, (i) => contextFor(i).getHandler());
  const withGuardUs = timeSync(iterations, (i) => {
    if (guard.canActivate(contextFor(i)) !== true) throw new Error('the warm path was not taken');
    return true;
  });
  const withReadingUs = timeSync(iterations, (i) => {
    if (guard.canActivate(contextFor(i, readingHandler)) !== true) {
      throw new Error('the warm path was not taken');
    }
    return true;
  });
  const peekUs = timeSync(iterations, (i) =>
    evaluator.peek(USERS[i % USERS.length], context, keys),
  );
  const sdkUs = await timeAsync(sdkIterations, (i) =>
    posthog.evaluateFlags(USERS[i % USERS.length], {
      flagKeys: keys,
      onlyEvaluateLocally: true,
      personProperties: context.personProperties,
    }),
  );
  await app.close();
  return {
    type: 'micro',
    guardUs: Math.max(0, withGuardUs - contextUs),
    guardReadingFlagsUs: Math.max(0, withReadingUs - contextUs),
    peekUs,
    sdkUs,
    contextUs,
  };
}

process.on('message', (message: { type?: string; iterations?: number; sdkIterations?: number }) => {
  if (message?.type !== 'run') return;
  measure(message.iterations ?? 1_000_000, message.sdkIterations ?? 10_000)
    .then((reading) => process.send?.(reading))
    .catch((error: unknown) => {
      console.error('micro probe failed:', error instanceof Error ? error.stack : error);
      process.exit(1);
    });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
void sink;
