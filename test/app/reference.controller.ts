import { Controller, Get, Injectable, UseGuards, type CanActivate } from '@nestjs/common';

/** A guard that lets everything through: what any guard costs at the least. */
@Injectable()
class AllowEveryoneGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/**
 * The bench's yardstick (figure 5d): the same answer as `/checkout/summary` behind a guard that
 * does nothing, so gated ÷ this is the flag guard against the physical limit of any guard.
 */
@Controller('reference')
export class ReferenceController {
  @Get('no-op-guard')
  @UseGuards(AllowEveryoneGuard)
  noOpGuard() {
    return { summary: 'new checkout' };
  }
}
