import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  UseInterceptors,
  type CallHandler,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { from, switchMap } from 'rxjs';
import request from 'supertest';
import {
  FeatureFlag,
  Flags,
  FlagValue,
  PostHogFlagsTesting,
  PostHogFlagsTestingModule,
  type FeatureFlagsSnapshot,
} from '../src/index.js';

/** Turns every flag off after the guards ran and before the parameters are read. */
@Injectable()
class FlagsOffAfterGuards implements NestInterceptor {
  constructor(private readonly testing: PostHogFlagsTesting) {}
  intercept(_context: unknown, next: CallHandler) {
    return from(this.testing.setFlags({ variant: false, beta: false })).pipe(
      switchMap(() => next.handle()),
    );
  }
}

@Controller()
@UseInterceptors(FlagsOffAfterGuards)
class ReadsController {
  @Get('value')
  @FeatureFlag('variant', { variant: 'b' })
  value(@FlagValue('variant') variant: string) {
    return { variant };
  }

  @Get('snapshot')
  @FeatureFlag('beta')
  snapshot(@Flags() flags: FeatureFlagsSnapshot) {
    return { beta: flags.getFlag('beta') };
  }

  /** No flag parameter: nothing is kept, the guard's pass is all there is. */
  @Get('plain')
  @FeatureFlag('beta')
  plain() {
    return { served: true };
  }
}

describe('@FlagValue / @Flags read what the guard decided, even if the definitions change in between', () => {
  let app: INestApplication;
  const get = async (path: string) => {
    const { status, body } = await request(app.getHttpServer()).get(path).set('x-user', 'u1');
    return { status, body };
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PostHogFlagsTestingModule.forRoot({
          flags: { variant: 'b', beta: true },
          distinctId: (req) => req.headers['x-user'],
        }),
      ],
      controllers: [ReadsController],
      providers: [FlagsOffAfterGuards],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => app.close());

  it('a variant passed by the guard is the value the handler gets', async () => {
    await app.get(PostHogFlagsTesting).reset();
    expect(await get('/value')).toEqual({ status: 200, body: { variant: 'b' } });
  });

  it('the snapshot the handler gets is the guard’s', async () => {
    await app.get(PostHogFlagsTesting).reset();
    expect(await get('/snapshot')).toEqual({ status: 200, body: { beta: true } });
  });

  it('the change holds for the next request: the guard denies', async () => {
    await app.get(PostHogFlagsTesting).reset();
    expect(await get('/plain')).toEqual({ status: 200, body: { served: true } });
    expect((await get('/value')).status).toBe(404);
    expect((await get('/snapshot')).status).toBe(404);
  });
});
