import { Controller, Get, Module, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { InMemoryProvider, OpenFeatureModule, RequireFlagsEnabled } from '@openfeature/nestjs-sdk';
import { DemoAuthGuard } from '../app/demo-auth.guard.js';
import { GATE_FLAG } from './config.js';

/** The same user as the example app: the demo auth guard's `req.user`. */
const userContext = (context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<{ user?: { id: string; plan: string } }>();
  return request.user ? { targetingKey: request.user.id, plan: request.user.plan } : undefined;
};

/** The comparison app's gated and ungated routes, shaped like the example app's `/checkout`. */
@Controller('checkout')
class OpenFeatureCheckoutController {
  @Get()
  @RequireFlagsEnabled({ flags: [{ flagKey: GATE_FLAG }], contextFactory: userContext })
  checkout() {
    return { checkout: 'new', enabled: true };
  }

  @Get('help')
  help() {
    return { help: 'checkout help' };
  }
}

/**
 * The guard comparison: `@openfeature/nestjs-sdk`'s `@RequireFlagsEnabled` over its
 * `InMemoryProvider`, with the same auth guard as the example app and the module's defaults
 * (its global evaluation-context interceptor on).
 */
@Module({
  imports: [
    OpenFeatureModule.forRoot({
      defaultProvider: new InMemoryProvider({
        [GATE_FLAG]: { disabled: false, variants: { on: true, off: false }, defaultVariant: 'on' },
      }),
      contextFactory: userContext,
    }),
  ],
  controllers: [OpenFeatureCheckoutController],
  providers: [{ provide: APP_GUARD, useClass: DemoAuthGuard }],
})
export class OpenFeatureBenchModule {}
