/** Where `@OnFlagChange` keeps the keys a method listens to (`null`: every flag). */
export const ON_FLAG_CHANGE_METADATA = 'nestjs-posthog-flags:on-flag-change';

/** The keys a listener method follows, or `null` for every flag. */
export type FlagChangeFilter = ReadonlySet<string> | null;

/**
 * Calls the decorated method of a provider or controller with the `FlagsChangeEvent` each time
 * this process's definitions change one of `keys` (any flag when none is given). The first load
 * is not a change. A method that throws or rejects is logged and disturbs nothing else.
 *
 * @example
 * @OnFlagChange('new-checkout')
 * onCheckoutChange(event: FlagsChangeEvent) { this.logger.log(event.changes[0].kind); }
 */
export function OnFlagChange(keys?: string | string[]): MethodDecorator {
  return (_target, _method, descriptor) => {
    const method = descriptor.value as object;
    const earlier = Reflect.getMetadata(ON_FLAG_CHANGE_METADATA, method) as
      FlagChangeFilter | undefined;
    const wanted = keys === undefined ? null : new Set(typeof keys === 'string' ? [keys] : keys);
    // Stacked decorators follow the union of their keys; the method still runs once per change.
    const merged =
      earlier === undefined
        ? wanted
        : earlier === null || wanted === null
          ? null
          : new Set([...earlier, ...wanted]);
    Reflect.defineMetadata(ON_FLAG_CHANGE_METADATA, merged, method);
    return descriptor;
  };
}
