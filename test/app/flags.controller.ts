import { Controller, Get, Req, UnauthorizedException } from '@nestjs/common';
import { FeatureFlagsService } from '../../src/index.js';

/** `FeatureFlagsService` used directly: the caller's flags, and this process's definitions status. */
@Controller('flags')
export class FlagsController {
  constructor(private readonly flags: FeatureFlagsService) {}

  @Get('me')
  async me(@Req() request: { user?: { id: string; plan: string; company?: string } }) {
    const user = request.user;
    if (!user) throw new UnauthorizedException('send Authorization: Bearer <user id>');
    const snapshot = await this.flags.evaluate(user.id, {
      personProperties: { plan: user.plan },
      groups: user.company ? { company: user.company } : undefined,
    });
    return { distinctId: user.id, flags: snapshot.toJSON() };
  }

  @Get('status')
  status() {
    return this.flags.status();
  }
}
