import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Puts a server on a core of its own and the load generator (this process) on the others, when the
 * machine has two cores or more and `taskset` (util-linux) is there. On a 2-core machine server and
 * autocannon otherwise trade cores all run long, which moves a throughput ratio by ±10 % from one
 * turn to the next. Returns an undo, or undefined when nothing was pinned.
 */
export function pinServer(serverPids: readonly number[]): (() => void) | undefined {
  const cores = availableParallelism();
  if (cores < 2) return undefined;
  const serverCore = String(cores - 1);
  const loadCores = cores === 2 ? '0' : `0-${cores - 2}`;
  const all = `0-${cores - 1}`;
  const set = (pid: number, cpus: string) =>
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  try {
    for (const pid of serverPids) set(pid, serverCore);
    set(process.pid, loadCores);
  } catch {
    return undefined; // no taskset: the ratios are taken unpinned (the bench says so)
  }
  return () => {
    for (const pid of [...serverPids, process.pid]) {
      try {
        set(pid, all);
      } catch {
        // a server that already exited
      }
    }
  };
}
