/**
 * Resource use of a local environment's process from Linux /proc: CPU as a
 * fraction of one core between two samples, resident memory from VmRSS.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readProcStat } from './process.ts';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (almost always 100); asked once. */
export function getClockTicks(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User plus system CPU seconds the process has used (/proc/<pid>/stat fields 14 and 15). */
export function readCpuSeconds(pid: number): number | undefined {
  const fields = readProcStat(pid);
  if (!fields) return undefined;
  return (Number(fields[11]) + Number(fields[12])) / getClockTicks();
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function readRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remembers the previous CPU reading per environment so each call reports use
 * over the window since the last one; the first call of a run reports the
 * average since the process started.
 */
export class CpuSampler {
  private readonly previous = new Map<string, { pid: number; cpu: number; at: number }>();

  sample(key: string, pid: number, startedAtMs: number, now = Date.now()): number | undefined {
    const cpu = readCpuSeconds(pid);
    if (cpu === undefined) return undefined;
    const last = this.previous.get(key);
    this.previous.set(key, { pid, cpu, at: now });
    const base = last && last.pid === pid ? last : { cpu: 0, at: startedAtMs };
    const seconds = (now - base.at) / 1000;
    return seconds > 0 ? Math.max(0, (cpu - base.cpu) / seconds) : 0;
  }

  forget(key: string): void {
    this.previous.delete(key);
  }
}
