import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';

/**
 * Stand-in for the app's real authentication: `Authorization: Bearer <user id>` becomes `req.user`.
 * The flags module trusts `req.user`, never a header a client could set to pick its own flags.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest();
    const match = /^Bearer (.+)$/.exec(String(request.headers?.authorization ?? ''));
    if (match) {
      const [id, plan, company] = match[1].split(':');
      request.user = { id, plan: plan || 'free', company: company || undefined };
    }
    return true;
  }
}
