import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { PostHogFlagsHealthIndicator } from '../../src/index.js';

/** The endpoint a Kubernetes readiness probe calls. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly flags: PostHogFlagsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.flags.isHealthy('posthog_flags')]);
  }
}
