import { ForbiddenException, IntrinsicException, NotFoundException } from '@nestjs/common';

type DeniedStatus = 403 | 404;
type ErrorClass = new (error: object) => Error;

/**
 * A GraphQL denial. graphql-js copies an error's `extensions` into the GraphQLError the client
 * receives (Apollo and Mercurius alike), so no `graphql` import is needed; an IntrinsicException is
 * not logged by Nest, and a denial is no bug: its stack has no frames for a client to see.
 */
export class FeatureFlagGraphQLDenial extends IntrinsicException {
  readonly extensions: { code: 'FORBIDDEN' | 'NOT_FOUND' };

  constructor(status: DeniedStatus) {
    super(status === 403 ? 'Forbidden' : 'Not Found');
    this.name = 'FeatureFlagDenied';
    this.extensions = { code: status === 403 ? 'FORBIDDEN' : 'NOT_FOUND' };
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * WsException and RpcException must be the app's own classes (Nest's filters test `instanceof`), and
 * their packages are optional peers: each is imported the first time a socket or message is gated.
 */
const transportErrors: { ws?: ErrorClass | null; rpc?: ErrorClass | null } = {};
const loading: { ws?: Promise<void>; rpc?: Promise<void> } = {};

/** Undefined when denials of this context type can be built synchronously; else a promise of it. */
export function transportDenialsReady(type: string): Promise<void> | undefined {
  if (type !== 'ws' && type !== 'rpc') return undefined;
  if (transportErrors[type] !== undefined) return undefined;
  return (loading[type] ??= importErrorClass(type).then((errorClass) => {
    transportErrors[type] = errorClass;
  }));
}

async function importErrorClass(type: 'ws' | 'rpc'): Promise<ErrorClass | null> {
  try {
    return type === 'ws'
      ? (await import('@nestjs/websockets')).WsException
      : (await import('@nestjs/microservices')).RpcException;
  } catch {
    return null; // not installed: fall back to the HTTP exception
  }
}

/** The default denial, shaped for the transport: HTTP exception, GraphQL error, WsException, RpcException. */
export function transportDenial(type: string, status: DeniedStatus): Error {
  if (type === 'graphql') return new FeatureFlagGraphQLDenial(status);
  const errorClass = type === 'ws' || type === 'rpc' ? transportErrors[type] : undefined;
  if (errorClass) {
    const message = status === 403 ? 'Forbidden' : 'Not Found';
    return new errorClass({ status: 'error', statusCode: status, message });
  }
  return status === 403 ? new ForbiddenException() : new NotFoundException();
}
