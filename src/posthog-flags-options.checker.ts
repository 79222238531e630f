/** Checks of single option values; each problem is collected, never thrown one at a time. */

/** A short, secret-free description of a bad value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

export class OptionChecker {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly problems: string[],
  ) {}

  nonEmptyString(
    name: string,
    { required, secret }: { required: boolean; secret: boolean },
  ): string | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) {
      if (required) this.problems.push(`${name} is required (a non-empty string)`);
      return undefined;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      const got = secret ? '' : ` (got ${describe(value)})`;
      this.problems.push(`${name} must be a non-empty string${got}`);
      return undefined;
    }
    return value.trim();
  }

  integer(name: string, min: number): number | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.problems.push(`${name} must be an integer ≥ ${min} (got ${describe(value)})`);
      return undefined;
    }
    return value;
  }

  httpUrl(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && URL.canParse(value)) {
      const url = new URL(value);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return value;
    }
    this.problems.push(`${name} must be an http(s) URL (got ${describe(value)})`);
    return undefined;
  }

  keyPrefix(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '' || /[{}\s]/.test(value)) {
      this.problems.push(
        `${name} must be a non-empty string without braces or spaces (braces would break the key's hash tag; got ${describe(value)})`,
      );
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      this.problems.push(
        `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${describe(value)})`,
      );
      return undefined;
    }
    return value as T;
  }

  optionalFunction(name: string): void {
    const value = this.raw[name];
    if (value !== undefined && typeof value !== 'function') {
      this.problems.push(`${name} must be a function of the request (got ${describe(value)})`);
    }
  }

  optionalBoolean(name: string): void {
    const value = this.raw[name];
    if (value !== undefined && typeof value !== 'boolean') {
      this.problems.push(`${name} must be a boolean (got ${describe(value)})`);
    }
  }
}
