import type { FlagDefinitionCacheData } from 'posthog-node';

/** What the provider tells about one flag besides its value. */
export interface CatalogEntry {
  id?: number;
  version?: number;
  active: boolean;
  /** Values (`'true'`, a variant key) whose stored payload is not JSON. */
  payloadsNotJson: ReadonlySet<string>;
}

/** Flag facts from the current definitions, rebuilt each time they change (none in remote mode). */
export class FlagCatalog {
  private entries = new Map<string, CatalogEntry>();

  get(key: string): CatalogEntry | undefined {
    return this.entries.get(key);
  }

  update(data: FlagDefinitionCacheData): void {
    const entries = new Map<string, CatalogEntry>();
    for (const flag of data.flags) {
      const raw = flag as { id?: unknown; version?: unknown };
      entries.set(flag.key, {
        id: typeof raw.id === 'number' ? raw.id : undefined,
        version: typeof raw.version === 'number' ? raw.version : undefined,
        active: flag.active !== false,
        payloadsNotJson: payloadsNotJson(flag.filters?.payloads),
      });
    }
    this.entries = entries;
  }
}

function payloadsNotJson(payloads: Record<string, unknown> | undefined): Set<string> {
  const bad = new Set<string>();
  for (const [value, text] of Object.entries(payloads ?? {})) {
    if (typeof text !== 'string') continue;
    try {
      JSON.parse(text);
    } catch {
      bad.add(value);
    }
  }
  return bad;
}
