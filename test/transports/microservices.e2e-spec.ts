import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, type INestMicroservice } from '@nestjs/common';
import {
  ClientProxyFactory,
  MessagePattern,
  RpcException,
  Transport,
  type ClientProxy,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import { FeatureFlag, FlagValue, type PostHogFlagsTestingOptions } from '../../src/index.js';
import { freePort } from '../support/free-port.js';
import { RedisServer } from '../support/redis-server.js';
import { flagsApp, FLAG, FREE_USER, GOLD_USER, SEQUENCE_LENGTH, setFlagActive } from './support.js';

@Controller()
class ShippingMessages {
  @MessagePattern('express-quote')
  @FeatureFlag(FLAG)
  expressQuote(): string {
    return 'express: 1 day';
  }

  @MessagePattern('express-offered')
  expressOffered(@FlagValue(FLAG) offered: boolean): boolean {
    return offered;
  }
}

type Answer = { reply: unknown } | { error: unknown };

interface TransportCase {
  name: string;
  /** The server and client options, and how to stop what the transport needed. */
  setUp: () => Promise<{ options: MicroserviceOptions; stop: () => Promise<void> }>;
}

const TRANSPORTS: TransportCase[] = [
  {
    name: 'TCP',
    setUp: async () => {
      const port = await freePort();
      return {
        options: { transport: Transport.TCP, options: { host: '127.0.0.1', port } },
        stop: async () => undefined,
      };
    },
  },
  {
    name: 'Redis',
    setUp: async () => {
      const redis = await RedisServer.start();
      return {
        options: { transport: Transport.REDIS, options: { host: redis.host, port: redis.port } },
        stop: () => redis.stop(),
      };
    },
  },
];

describe.each(TRANSPORTS)('microservice over $name, real ClientProxy', ({ setUp }) => {
  let service: INestMicroservice;
  let client: ClientProxy;
  let stopTransport: () => Promise<void>;

  const ask = async (user: string, pattern = 'express-quote'): Promise<Answer> => {
    try {
      return { reply: await firstValueFrom(client.send(pattern, { user })) };
    } catch (error) {
      return { error };
    }
  };

  beforeAll(async () => {
    const { options, stop } = await setUp();
    stopTransport = stop;
    const moduleRef = await Test.createTestingModule(
      flagsApp({ controllers: [ShippingMessages] }),
    ).compile();
    service = moduleRef.createNestMicroservice<MicroserviceOptions>({ ...options, logger: false });
    await service.listen();
    client = ClientProxyFactory.create(options as Parameters<typeof ClientProxyFactory.create>[0]);
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await service?.close();
    await stopTransport?.();
  });

  it(`denies a user whose flag is off on each of ${SEQUENCE_LENGTH} messages of one client`, async () => {
    for (let i = 0; i < SEQUENCE_LENGTH; i++) {
      expect({ message: i, ...(await ask(FREE_USER)) }).toEqual({
        message: i,
        error: { status: 'error', statusCode: 404, message: 'Not Found' },
      });
    }
    expect(await ask(FREE_USER, 'express-offered')).toEqual({ reply: false });
  });

  it(`answers a user whose flag is on, on each of ${SEQUENCE_LENGTH} messages`, async () => {
    for (let i = 0; i < SEQUENCE_LENGTH; i++) {
      expect({ message: i, ...(await ask(GOLD_USER)) }).toEqual({
        message: i,
        reply: 'express: 1 day',
      });
    }
    expect(await ask(GOLD_USER, 'express-offered')).toEqual({ reply: true });
  });

  it('a flag turned off reaches the next message of the connected client, and back on', async () => {
    try {
      expect(await ask(GOLD_USER)).toEqual({ reply: 'express: 1 day' });
      await setFlagActive(service, false);
      expect(await ask(GOLD_USER)).toMatchObject({ error: { statusCode: 404 } });
      expect(await ask(GOLD_USER, 'express-offered')).toEqual({ reply: false });
      await setFlagActive(service, true);
      expect(await ask(GOLD_USER)).toEqual({ reply: 'express: 1 day' });
    } finally {
      await setFlagActive(service, true);
    }
  });
});

describe('microservice denial shapes (TCP)', () => {
  const started: Array<{ service: INestMicroservice; client: ClientProxy }> = [];

  async function firstDenial(options: PostHogFlagsTestingOptions): Promise<unknown> {
    const transport: MicroserviceOptions = {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: await freePort() },
    };
    const moduleRef = await Test.createTestingModule(
      flagsApp({ controllers: [ShippingMessages] }, options),
    ).compile();
    const service = moduleRef.createNestMicroservice<MicroserviceOptions>({
      ...transport,
      logger: false,
    });
    await service.listen();
    const client = ClientProxyFactory.create(
      transport as Parameters<typeof ClientProxyFactory.create>[0],
    );
    started.push({ service, client });
    return firstValueFrom(client.send('express-quote', { user: FREE_USER })).catch(
      (error: unknown) => error,
    );
  }

  afterAll(async () => {
    for (const { service, client } of started) {
      await client.close();
      await service.close();
    }
  });

  it('deniedStatus 403 reaches the client as a 403 error', async () => {
    expect(await firstDenial({ deniedStatus: 403 })).toEqual({
      status: 'error',
      statusCode: 403,
      message: 'Forbidden',
    });
  });

  it('a deniedStatus factory overrides the shape', async () => {
    const denial = await firstDenial({
      deniedStatus: ({ flagKey, transport }) =>
        new RpcException({ code: 'UPGRADE_REQUIRED', flagKey, transport }),
    });
    expect(denial).toEqual({
      code: 'UPGRADE_REQUIRED',
      flagKey: 'express-shipping',
      transport: 'rpc',
    });
  });
});
