// `node --import` this to make any @nestjs/* import fail: proves a subpath loads without Nest.
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@nestjs/')) throw new Error('loads ' + specifier);
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
