/**
 * How fresh this process's definitions are: loaded or not, how many flags, when they were fetched
 * and verified, and their age on this process's monotonic clock (from when it saw `verifiedAt`
 * take its current value), so clock skew between hosts cannot move health either way.
 */
export class DefinitionsFreshness {
  loaded = false;
  flagCount = 0;
  fetchedAt: number | null = null;
  verifiedAt: number | null = null;
  /** When (`performance.now()`) this process saw `verifiedAt` take its current value. */
  private verifiedSeenAt: number | null = null;

  ageMs(): number | null {
    return this.verifiedSeenAt === null
      ? null
      : Math.max(0, Math.round(performance.now() - this.verifiedSeenAt));
  }

  markLoaded(flagCount: number, fetchedAt: number | null, verifiedAt: number | null): void {
    this.loaded = true;
    this.flagCount = flagCount;
    if (fetchedAt !== null) this.fetchedAt = fetchedAt;
    if (verifiedAt !== null) this.markVerified(verifiedAt);
  }

  markVerified(at: number): void {
    if (at === this.verifiedAt && this.verifiedSeenAt !== null) return;
    this.verifiedAt = at;
    this.verifiedSeenAt = performance.now();
  }
}
