/**
 * Where the machine's CPU went while a bench ran (issue 19): the CPU time of
 * every process between start and stop, from Linux /proc, by part:
 * - `stack`: this process (the gateway, functions, Cloud Tasks server, local
 *   runtime, storage emulator, and the bench's own client, all in one) and
 *   its helpers (the runtime's spawn helper, the emulators' launchers);
 * - `tenants`: the tenant workloads;
 * - `firestore`, `auth`, `postgres`: the emulators and the database server;
 * - `other`: every process that is not this one or one of its descendants:
 *   other work on the machine, left out of what the platform used.
 * The processes are read every `intervalMs` as well (default 2 s: each
 * reading costs this process a few milliseconds), so one that exits before
 * the end is counted up to its last reading. Without /proc (not Linux) the
 * meter reports nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { SAMPLE_TENANT_SERVER } from '../../shared/runtime/local/options.ts';
import { getClockTicks } from '../../shared/runtime/local/metrics.ts';
import { readProcStat } from '../../shared/runtime/local/process.ts';
import type { Figure } from './report.ts';

export const CPU_PARTS = ['stack', 'tenants', 'firestore', 'auth', 'postgres', 'other'] as const;
export type CpuPart = (typeof CPU_PARTS)[number];

export interface CpuAccount {
  /** CPU seconds per part. */
  parts: Record<CpuPart, number>;
  /** Wall seconds between start and stop. */
  seconds: number;
}

interface Seen {
  first: number;
  last: number;
  ppid: number;
  cmd: string;
}

/** pid → [ppid, user + system ticks] of every process, or undefined without /proc. */
function readTicks(): Map<number, [number, number]> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const ticks = new Map<number, [number, number]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    // Fields after the command name: state, ppid, … utime (field 14 of the whole line), stime; none when gone since the listing.
    const fields = readProcStat(Number(entry));
    if (fields) ticks.set(Number(entry), [Number(fields[1]), Number(fields[11]) + Number(fields[12])]);
  }
  return ticks;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The part of this process or one of its descendants. */
function partOf(cmd: string): Exclude<CpuPart, 'other'> {
  if (cmd.includes(SAMPLE_TENANT_SERVER)) return 'tenants';
  if (cmd.includes('cloud-firestore-emulator')) return 'firestore';
  if (cmd.includes('emulators:start')) return 'auth';
  if (/^postgres[: ]|\/postgres /.test(cmd)) return 'postgres';
  return 'stack';
}

/** Starts counting; `stop` answers the account, or undefined without /proc. */
export function startCpuMeter(intervalMs = 2000): { stop(): CpuAccount | undefined } {
  const startedAt = performance.now();
  const seen = new Map<number, Seen>();
  let started = false;
  const read = () => {
    const now = readTicks();
    if (!now) return false;
    for (const [pid, [ppid, ticks]] of now) {
      const known = seen.get(pid);
      if (known) known.last = ticks;
      // A process first seen after the start began after it (or a pid was reused): all of its time counts.
      else seen.set(pid, { first: started ? 0 : ticks, last: ticks, ppid, cmd: commandOf(pid) });
    }
    return true;
  };
  const available = read();
  started = true;
  const timer = available && intervalMs > 0 ? setInterval(read, intervalMs) : undefined;
  timer?.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      if (!available || !read()) return undefined;
      const ours = (pid: number): boolean => {
        for (let p: number | undefined = pid, hops = 0; p && hops < 64; p = seen.get(p)?.ppid, hops++) if (p === process.pid) return true;
        return false;
      };
      const parts = Object.fromEntries(CPU_PARTS.map((p) => [p, 0])) as Record<CpuPart, number>;
      for (const [pid, s] of seen) {
        const seconds = (s.last - s.first) / getClockTicks();
        if (seconds <= 0) continue;
        parts[ours(pid) ? partOf(s.cmd) : 'other'] += seconds;
      }
      return { parts, seconds: (performance.now() - startedAt) / 1000 };
    },
  };
}

/** CPU seconds of the platform's processes: every part but other work on the machine. */
export const platformSeconds = (account: CpuAccount): number =>
  CPU_PARTS.reduce((sum, part) => (part === 'other' ? sum : sum + account.parts[part]), 0);

/** The platform's CPU seconds spread over every core: the least wall time they could take here. */
export const boundSeconds = (account: CpuAccount): number => platformSeconds(account) / cpus().length;

/** `cpu.<part>Seconds` of an account. */
export function partFigures(account: CpuAccount): Record<string, Figure> {
  return Object.fromEntries(CPU_PARTS.map((part) => [`cpu.${part}Seconds`, { value: account.parts[part], unit: 's' }]));
}
