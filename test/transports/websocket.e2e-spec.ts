import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UseGuards, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { io, type Socket } from 'socket.io-client';
import { FeatureFlag, FlagValue, type PostHogFlagsTestingOptions } from '../../src/index.js';
import {
  CallerFlagGuard,
  flagsApp,
  FLAG,
  FREE_USER,
  GOLD_USER,
  SEQUENCE_LENGTH,
  setFlagActive,
} from './support.js';

@WebSocketGateway()
class ShippingGateway {
  @SubscribeMessage('express-quote')
  @FeatureFlag(FLAG)
  expressQuote(): string {
    return 'express: 1 day';
  }

  @SubscribeMessage('express-offered')
  expressOffered(@FlagValue(FLAG) offered: boolean): boolean {
    return offered;
  }
}

/** The same gateway guarded the other way: its own `@UseGuards()`, no `guard` option. */
@WebSocketGateway()
@UseGuards(CallerFlagGuard)
class GuardedShippingGateway extends ShippingGateway {}

type Answer = { ack: unknown } | { exception: unknown };

/** One message: the handler's acknowledgement, or the `exception` event Nest emits instead. */
function ask(socket: Socket, event: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 5_000);
    const onException = (exception: unknown) => {
      clearTimeout(timer);
      resolve({ exception });
    };
    socket.once('exception', onException);
    socket.emit(event, {}, (ack: unknown) => {
      clearTimeout(timer);
      socket.off('exception', onException);
      resolve({ ack });
    });
  });
}

describe.each([
  { layout: 'the guard option', gateway: ShippingGateway, guard: CallerFlagGuard },
  { layout: "the gateway's @UseGuards", gateway: GuardedShippingGateway, guard: undefined },
  {
    layout: 'APP_GUARD',
    gateway: ShippingGateway,
    guard: undefined,
    providers: [{ provide: APP_GUARD, useClass: CallerFlagGuard }],
  },
] as Array<{
  layout: string;
  gateway: Type;
  guard?: Type<CallerFlagGuard>;
  providers?: Provider[];
}>)(
  'WebSocket (socket.io gateway, real client), guard by $layout',
  ({ gateway, guard, providers }) => {
    let app: INestApplication;
    let url: string;
    const sockets: Socket[] = [];

    async function connect(user: string): Promise<Socket> {
      const socket = io(url, { auth: { user }, transports: ['websocket'], forceNew: true });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      return socket;
    }

    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule(
        flagsApp({ providers: [gateway, ...(providers ?? [])] }, { guard }),
      ).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.listen(0, '127.0.0.1');
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    });
    afterAll(async () => {
      for (const socket of sockets) socket.disconnect();
      await app.close();
    });

    it(`denies a user whose flag is off on each of ${SEQUENCE_LENGTH} messages on one socket`, async () => {
      const socket = await connect(FREE_USER);
      for (let i = 0; i < SEQUENCE_LENGTH; i++) {
        expect({ message: i, ...(await ask(socket, 'express-quote')) }).toEqual({
          message: i,
          exception: { status: 'error', statusCode: 404, message: 'Not Found' },
        });
      }
      expect(await ask(socket, 'express-offered')).toEqual({ ack: false });
    });

    it(`answers a user whose flag is on, on each of ${SEQUENCE_LENGTH} messages`, async () => {
      const socket = await connect(GOLD_USER);
      for (let i = 0; i < SEQUENCE_LENGTH; i++) {
        expect({ message: i, ...(await ask(socket, 'express-quote')) }).toEqual({
          message: i,
          ack: 'express: 1 day',
        });
      }
      expect(await ask(socket, 'express-offered')).toEqual({ ack: true });
    });

    it('a flag turned off reaches the next message of an already open socket, and back on', async () => {
      const socket = await connect(GOLD_USER);
      try {
        expect(await ask(socket, 'express-quote')).toEqual({ ack: 'express: 1 day' });
        await setFlagActive(app, false);
        expect(await ask(socket, 'express-quote')).toMatchObject({
          exception: { statusCode: 404 },
        });
        expect(await ask(socket, 'express-offered')).toEqual({ ack: false });
        await setFlagActive(app, true);
        expect(await ask(socket, 'express-quote')).toEqual({ ack: 'express: 1 day' });
        expect(await ask(socket, 'express-offered')).toEqual({ ack: true });
      } finally {
        await setFlagActive(app, true);
      }
    });
  },
);

describe('WebSocket denial shapes', () => {
  const started: INestApplication[] = [];
  const sockets: Socket[] = [];

  async function firstDenial(options: PostHogFlagsTestingOptions): Promise<Answer> {
    const moduleRef = await Test.createTestingModule(
      flagsApp({ providers: [ShippingGateway] }, options),
    ).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    started.push(app);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const socket = io(url, {
      auth: { user: FREE_USER },
      transports: ['websocket'],
      forceNew: true,
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return ask(socket, 'express-quote');
  }

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    for (const app of started) await app.close();
  });

  it('deniedStatus 403 reaches the client as a 403 exception event', async () => {
    expect(await firstDenial({ deniedStatus: 403 })).toEqual({
      exception: { status: 'error', statusCode: 403, message: 'Forbidden' },
    });
  });

  it('a deniedStatus factory overrides the shape', async () => {
    const answer = await firstDenial({
      deniedStatus: ({ flagKey, transport }) =>
        new WsException({ status: 'error', message: `${flagKey} needs gold`, transport }),
    });
    expect(answer).toEqual({
      exception: { status: 'error', message: 'express-shipping needs gold', transport: 'ws' },
    });
  });
});
