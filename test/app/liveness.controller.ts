import { Controller, Get } from '@nestjs/common';

/**
 * The endpoint a Kubernetes liveness probe calls: the process answers, nothing more. Flag trouble
 * (PostHog or Redis down) is readiness's business; restarting the pod would not fix it.
 */
@Controller('healthz')
export class LivenessController {
  @Get()
  live() {
    return { status: 'ok' };
  }
}
