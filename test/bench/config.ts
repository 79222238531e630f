/** How long and how wide each part of the bench runs: `--quick` is a smoke run, the default the real one. */
export interface BenchConfig {
  quick: boolean;
  /** The polling interval of every fleet (short, so many intervals fit in a run). */
  intervalMs: number;
  /** Intervals per fetch-counting window (figures 1 and 2). */
  windowIntervals: number;
  /** Fleet sizes of the fetch-counting windows; the largest is `coldFleet`. */
  fleetSizes: readonly number[];
  /** Fleet size of the propagation runs (figure 3). */
  propagationFleet: number;
  changes: number;
  /** Follower polls per Redis-bytes window (figure 4). */
  bytesIntervals: number;
  /** Seconds each route is loaded in all, split over `guardRounds` turns. */
  guardSeconds: number;
  guardRounds: number;
  guardWarmupSeconds: number;
  guardConnections: number;
  /** Distinct users the gated route rotates through. */
  guardUsers: number;
  coldFleet: number;
  /** Processes of each kind whose RSS is read (the median is kept). */
  memorySamples: number;
  /** Followers and changes of each change fan-out run (figure 8). */
  fanOutFollowers: number;
  fanOutChanges: number;
  /** Iterations of each codec timing (figure codec). */
  codecRuns: number;
  microIterations: number;
  microSdkIterations: number;
  /** Figure 8: windows of follower CPU, and intervals per window. */
  cpuWindows: number;
  cpuWindowIntervals: number;
  /** Figure 9: light processes in the fleet, intervals of its counting window, changes. */
  scaleFleet: number;
  scaleIntervals: number;
  scaleChanges: number;
  /** Figure 6a: cold-fleet repeats per variant. */
  coldRepeats: number;
}

export function benchConfig(argv: readonly string[]): BenchConfig {
  const quick = argv.includes('--quick');
  // Quick: a smoke run under a minute — smaller fleets, shorter windows, fewer samples.
  return {
    quick,
    intervalMs: quick ? 200 : 250,
    windowIntervals: quick ? 6 : 40,
    fleetSizes: quick ? [1, 4, 8] : [1, 4, 16],
    propagationFleet: 4,
    changes: quick ? 4 : 20,
    bytesIntervals: quick ? 6 : 40,
    // Short turns, many rounds: a ratio is the median of per-round ratios (the machine drifts).
    guardSeconds: quick ? 2 : 13,
    guardRounds: quick ? 2 : 13,
    guardWarmupSeconds: quick ? 0.5 : 3,
    guardConnections: 10,
    // Autocannon walks the list from the start on every connection: a quick warm-up must reach
    // every user, or the measured turn pays first evaluations and exposure events.
    guardUsers: quick ? 200 : 1_000,
    coldFleet: quick ? 8 : 16,
    memorySamples: quick ? 1 : 3,
    fanOutFollowers: quick ? 2 : 4,
    fanOutChanges: quick ? 1 : 5,
    codecRuns: quick ? 3 : 15,
    microIterations: quick ? 200_000 : 2_000_000,
    microSdkIterations: quick ? 3_000 : 30_000,
    cpuWindows: quick ? 1 : 5,
    cpuWindowIntervals: quick ? 10 : 40,
    scaleFleet: quick ? 8 : 64,
    scaleIntervals: quick ? 6 : 40,
    scaleChanges: quick ? 2 : 10,
    coldRepeats: quick ? 1 : 5,
  };
}

export const PROJECT_API_KEY = 'phc_bench_project';
export const SECRET_KEY = 'phs_bench_secret_DO_NOT_LEAK';
/** The gate every bench app and probe reads. */
export const GATE_FLAG = 'new-checkout';
