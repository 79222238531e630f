import { afterAll, describe, it } from '@jest/globals';
import {
  Controller,
  Get,
  HttpException,
  Injectable,
  UseGuards,
  type ExecutionContext,
  type INestApplication,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { FeatureFlag, FlagValue, type PostHogFlagsTestingOptions } from '../src/index.js';
import { CallerFlagGuard, flagsApp, FLAG, FREE_USER, GOLD_USER } from './transports/support.js';

/**
 * The app's guard: finds the caller in `x-user` (the base guard looks at `req.user` and would deny
 * everyone here) and denies with its own status, so a response shows which guard decided.
 */
@Injectable()
class AppFlagGuard extends CallerFlagGuard {
  protected override onDenied(): never {
    throw new HttpException('denied by the app guard', 451);
  }
}

/** Lets internal callers through ungated; the base guard must not decide for them instead. */
@Injectable()
class SkippingFlagGuard extends AppFlagGuard {
  protected override shouldSkip(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-internal'] === 'yes';
  }
}

@Controller('option')
class OptionController {
  @Get()
  @FeatureFlag(FLAG)
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

@Controller('global')
class GlobalController {
  @Get()
  @FeatureFlag(FLAG)
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

@Controller('class')
@UseGuards(AppFlagGuard)
class ClassGuardController {
  @Get()
  @FeatureFlag(FLAG)
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

@Controller('above')
class AboveController {
  @Get()
  @UseGuards(AppFlagGuard)
  @FeatureFlag(FLAG)
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

@Controller('below')
class BelowController {
  @Get()
  @FeatureFlag(FLAG)
  @UseGuards(AppFlagGuard)
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

@Controller('class-flag')
@FeatureFlag(FLAG)
@UseGuards(AppFlagGuard)
class ClassFlagController {
  @Get()
  get(@FlagValue(FLAG) on: boolean) {
    return { on };
  }
}

interface Layout {
  name: string;
  path: string;
  controller: Type;
  providers?: Provider[];
  options?: PostHogFlagsTestingOptions;
}

const LAYOUTS: Layout[] = [
  {
    name: 'guard option',
    path: '/option',
    controller: OptionController,
    options: { guard: AppFlagGuard },
  },
  {
    name: 'APP_GUARD',
    path: '/global',
    controller: GlobalController,
    providers: [{ provide: APP_GUARD, useClass: AppFlagGuard }],
  },
  { name: 'class @UseGuards', path: '/class', controller: ClassGuardController },
  { name: 'handler @UseGuards above @FeatureFlag', path: '/above', controller: AboveController },
  { name: 'handler @UseGuards below @FeatureFlag', path: '/below', controller: BelowController },
  {
    name: 'class @UseGuards with class @FeatureFlag',
    path: '/class-flag',
    controller: ClassFlagController,
  },
];

describe.each(LAYOUTS)('guard installed by $name', ({ path, controller, providers, options }) => {
  let app: INestApplication;

  afterAll(async () => app?.close());

  it('the app guard decides: its caller, its denial, and @FlagValue through its hooks', async () => {
    const moduleRef = await Test.createTestingModule(
      flagsApp(
        { controllers: [controller], providers: providers ?? [] },
        { guard: undefined, ...options },
      ),
    ).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const http = () => request(app.getHttpServer());
    for (let i = 0; i < 3; i++) {
      await http().get(path).set('x-user', GOLD_USER).expect(200, { on: true });
      await http().get(path).set('x-user', FREE_USER).expect(451);
      await http().get(path).expect(451);
    }
  });
});

describe.each([
  {
    name: 'guard option',
    path: '/option',
    controller: OptionController,
    options: { guard: SkippingFlagGuard },
  },
  {
    name: 'APP_GUARD',
    path: '/global',
    controller: GlobalController,
    providers: [{ provide: APP_GUARD, useClass: SkippingFlagGuard }],
  },
] as Layout[])(
  'shouldSkip with the guard installed by $name',
  ({ path, controller, providers, options }) => {
    let app: INestApplication;

    afterAll(async () => app?.close());

    it('lets a skipped call through ungated, and gates the rest', async () => {
      const moduleRef = await Test.createTestingModule(
        flagsApp(
          { controllers: [controller], providers: providers ?? [] },
          { guard: undefined, ...options },
        ),
      ).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const http = () => request(app.getHttpServer());
      await http()
        .get(path)
        .set('x-user', FREE_USER)
        .set('x-internal', 'yes')
        .expect(200, { on: false });
      await http().get(path).set('x-user', FREE_USER).expect(451);
      await http().get(path).set('x-user', GOLD_USER).expect(200, { on: true });
    });
  },
);
