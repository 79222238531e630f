import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  totalMemoryGiB: number;
  node: string;
  os: string;
  redis: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  let redis = 'unknown';
  try {
    const version = execFileSync(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version']);
    redis = /v=(\S+)/.exec(version.toString())?.[1] ?? redis;
  } catch {
    // reported as unknown; the Redis-based figures will fail with their own error
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    totalMemoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
    redis,
    loadAverage: Math.round(loadavg()[0] * 100) / 100,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.totalMemoryGiB} GiB RAM · Node ${m.node} · redis-server ${m.redis} · ${m.os} · load average ${m.loadAverage} at start`;
}
