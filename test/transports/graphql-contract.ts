import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { PostHogFlagsTestingOptions } from '../../src/index.js';
import { ATTACK, OFFERED_QUERY, outcomeOf } from './graphql-resolvers.js';
import { FREE_USER, GOLD_USER, SEQUENCE_LENGTH, setFlagActive } from './support.js';

/**
 * Registers, inside the caller's `describe`, what every GraphQL server (Apollo, Mercurius) must
 * show: the same calls, the same answers.
 */
export function itGatesGraphQL(
  start: (options?: PostHogFlagsTestingOptions) => Promise<INestApplication>,
): void {
  let app: INestApplication;
  const agent = () => request.agent(app.getHttpServer());
  /** One HTTP call: a single operation, or several batched in one request. */
  async function call(
    client: ReturnType<typeof agent>,
    user: string,
    operations: string[],
  ): Promise<ReturnType<typeof outcomeOf>[]> {
    const body =
      operations.length === 1 ? { query: operations[0] } : operations.map((query) => ({ query }));
    const { body: answer } = await client
      .post('/graphql')
      .set('x-user', user)
      .send(body)
      .expect(200);
    return (Array.isArray(answer) ? answer : [answer]).map(outcomeOf);
  }
  /** Call i of the sequence: one attack operation, every third call all of them batched. */
  const turn = (i: number) => (i % 3 === 2 ? ATTACK : [ATTACK[i % ATTACK.length]]);

  beforeAll(async () => {
    app = await start();
  });
  afterAll(async () => app.close());

  it(`denies a user whose flag is off on each of ${SEQUENCE_LENGTH} calls: aliases, batches, repeats`, async () => {
    const client = agent();
    // A denial is no server error: Nest must not log one per denied field.
    const logged = jest.spyOn(Logger.prototype, 'error');
    try {
      for (let i = 0; i < SEQUENCE_LENGTH; i++) {
        const outcomes = await call(
          client,
          FREE_USER,
          turn(i).map((op) => op.query),
        );
        turn(i).forEach((op, j) => {
          expect({ call: i, ...outcomes[j] }).toEqual({
            call: i,
            answered: 0,
            denied: op.gatedFields,
            codes: ['NOT_FOUND'],
            stackFrames: 0,
          });
        });
      }
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
  });

  it(`answers a user whose flag is on, on each of ${SEQUENCE_LENGTH} calls`, async () => {
    const client = agent();
    for (let i = 0; i < SEQUENCE_LENGTH; i++) {
      const outcomes = await call(
        client,
        GOLD_USER,
        turn(i).map((op) => op.query),
      );
      turn(i).forEach((op, j) => {
        expect({ call: i, ...outcomes[j] }).toEqual({
          call: i,
          answered: op.gatedFields,
          denied: 0,
          codes: [],
          stackFrames: 0,
        });
      });
    }
  });

  it('@FlagValue in a resolver reads the caller through the app guard', async () => {
    const offered = async (user: string) =>
      (
        await agent()
          .post('/graphql')
          .set('x-user', user)
          .send({ query: OFFERED_QUERY })
          .expect(200)
      ).body.data.expressOffered;
    expect(await offered(GOLD_USER)).toBe(true);
    expect(await offered(FREE_USER)).toBe(false);
  });

  it('a flag turned off reaches the next call of an ongoing client, and back on', async () => {
    const client = agent();
    const aliased = [ATTACK[0].query];
    try {
      expect((await call(client, GOLD_USER, aliased))[0].answered).toBe(4);
      await setFlagActive(app, false);
      expect((await call(client, GOLD_USER, aliased))[0]).toMatchObject({
        answered: 0,
        denied: 4,
      });
      const { body } = await client
        .post('/graphql')
        .set('x-user', GOLD_USER)
        .send({ query: OFFERED_QUERY });
      expect(body.data.expressOffered).toBe(false);
      await setFlagActive(app, true);
      expect((await call(client, GOLD_USER, aliased))[0].answered).toBe(4);
    } finally {
      await setFlagActive(app, true);
    }
  });

  it('deniedStatus 403 answers FORBIDDEN; a factory’s error is what the client gets', async () => {
    const forbidding = await start({ deniedStatus: 403 });
    const custom = await start({
      deniedStatus: ({ flagKey, transport }) =>
        Object.assign(new Error(`${flagKey} is not on your plan`), {
          extensions: { code: 'UPGRADE_REQUIRED', transport },
        }),
    });
    try {
      const ask = (target: INestApplication) =>
        request(target.getHttpServer())
          .post('/graphql')
          .set('x-user', FREE_USER)
          .send({ query: ATTACK[0].query })
          .expect(200);
      const forbidden = (await ask(forbidding)).body;
      expect(outcomeOf(forbidden)).toMatchObject({
        answered: 0,
        denied: 4,
        codes: ['FORBIDDEN'],
      });
      const upgrade = (await ask(custom)).body;
      expect(outcomeOf(upgrade)).toMatchObject({
        answered: 0,
        denied: 4,
        codes: ['UPGRADE_REQUIRED'],
      });
      expect(upgrade.errors[0].message).toBe('express-shipping is not on your plan');
      expect(upgrade.errors[0].extensions.transport).toBe('graphql');
    } finally {
      await forbidding.close();
      await custom.close();
    }
  });
}
