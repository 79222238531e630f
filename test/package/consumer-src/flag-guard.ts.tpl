// A user's own guard, typed only from the package name: it injects its own service next to the one
// dependency the base guard needs, and overrides each hook. Compiled by every consumer.
import { Injectable, Module, type ExecutionContext } from '@nestjs/common';
import {
  FeatureFlagGate,
  FeatureFlagGuard,
  PostHogFlagsModule,
  type FlagEvaluationContext,
} from 'nestjs-posthog-flags';

@Injectable()
export class AccountsService {
  planOf(userId: string | undefined): string {
    return userId?.startsWith('pro-') ? 'pro' : 'free';
  }
}

@Injectable()
export class AppFlagGuard extends FeatureFlagGuard {
  constructor(
    gate: FeatureFlagGate,
    private readonly accounts: AccountsService,
  ) {
    super(gate);
  }

  protected override getRequest(context: ExecutionContext): any {
    return context.getType() === 'http'
      ? context.switchToHttp().getRequest()
      : super.getRequest(context);
  }

  protected override getDistinctId(request: any, context: ExecutionContext): string | undefined {
    return request.headers?.['x-user-id'] ?? super.getDistinctId(request, context);
  }

  protected override getEvaluationContext(
    request: any,
    context: ExecutionContext,
  ): FlagEvaluationContext {
    return {
      personProperties: { plan: this.accounts.planOf(this.getDistinctId(request, context)) },
    };
  }

  protected override shouldSkip(context: ExecutionContext): boolean {
    return context.getType() === 'rpc';
  }
}

@Module({
  imports: [
    PostHogFlagsModule.forRoot({
      projectApiKey: 'phc_consumer',
      definitions: { flags: [] },
      guard: AppFlagGuard,
    }),
  ],
  providers: [AccountsService],
})
export class GuardedAppModule {}
