import { describe, expect, it } from '@jest/globals';
import type { SharedMeta } from './lease-protocol.js';
import { MetaScreen } from './meta-screen.js';

const INTERVAL = 1_000;
const YEAR_2100 = Date.UTC(2100, 0, 1);

/** A screen on a clock the test moves, with what it distrusted. */
function screen() {
  let clock = 0;
  const distrusted: string[] = [];
  const s = new MetaScreen({
    aheadToleranceMs: INTERVAL + 100,
    onDistrust: (kind) => distrusted.push(kind),
    now: () => clock,
  });
  const meta = (verifiedAt: number | null, quotaLimitedAt: number | null = null): SharedMeta =>
    s.screen({ hash: '0123456789abcdef', verifiedAt, leader: 'leader', quotaLimitedAt });
  return {
    meta,
    distrusted,
    advance: (ms: number) => (clock += ms),
  };
}

describe('MetaScreen', () => {
  it('takes verifications that advance as time passes here, whatever the leader clock’s offset', () => {
    for (const offset of [-600_000, 0, 600_000]) {
      const { meta, advance, distrusted } = screen();
      const leaderNow = 1_700_000_000_000 + offset;
      expect(meta(leaderNow).verifiedAt).toBe(leaderNow);
      advance(INTERVAL);
      expect(meta(leaderNow + INTERVAL).verifiedAt).toBe(leaderNow + INTERVAL);
      // Seen late (an interval) and the next one early: within the tolerance.
      advance(200);
      expect(meta(leaderNow + 2 * INTERVAL).verifiedAt).toBe(leaderNow + 2 * INTERVAL);
      expect(distrusted).toEqual([]);
    }
  });

  it('does not count a jump to the year 2100, and keeps counting the real leader', () => {
    const { meta, advance, distrusted } = screen();
    const t = 1_700_000_000_000;
    meta(t);
    advance(300);
    expect(meta(YEAR_2100).verifiedAt).toBe(t);
    expect(meta(YEAR_2100).verifiedAt).toBe(t); // idempotent
    advance(INTERVAL);
    expect(meta(t + INTERVAL).verifiedAt).toBe(t + INTERVAL);
    expect(distrusted).toEqual(['verifiedAt']);
  });

  it('takes a new leader whose clock is 10 minutes off one interval late', () => {
    const { meta, advance } = screen();
    const t = 1_700_000_000_000;
    meta(t);
    advance(INTERVAL);
    const other = t + 600_000;
    expect(meta(other).verifiedAt).toBe(t);
    advance(INTERVAL);
    expect(meta(other + INTERVAL).verifiedAt).toBe(other + INTERVAL);
  });

  it('believes a quota limit only once the leader records it again with no verification between', () => {
    const { meta, advance } = screen();
    const t = 1_700_000_000_000;
    meta(t);
    // One forged record: not believed, and the leader's next verification clears it.
    expect(meta(t, t + 10).quotaLimitedAt).toBeNull();
    advance(INTERVAL);
    expect(meta(t + INTERVAL, t + 10).quotaLimitedAt).toBeNull();
    expect(meta(t + INTERVAL, null).quotaLimitedAt).toBeNull();
    // A real 402: recorded at each leader poll, no verification.
    expect(meta(t + INTERVAL, t + 1_500).quotaLimitedAt).toBeNull();
    advance(INTERVAL);
    expect(meta(t + INTERVAL, t + 2_500).quotaLimitedAt).toBe(t + 2_500);
    expect(meta(t + INTERVAL, t + 2_500).quotaLimitedAt).toBe(t + 2_500);
  });
});
