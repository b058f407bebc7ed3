/**
 * Network isolation of local workloads (issue 16): with users isolated, every
 * workload runs under a uid of `uidRange`, so the kernel firewall can refuse
 * their new TCP and UDP connections to any address of this machine — other
 * tenants' ports and the platform's own servers (Firestore and Auth emulators,
 * Cloud Tasks, the mail catcher, the gateway's `/__fn/…`) — while answers to
 * connections made to them (the gateway calling a workload) still flow.
 *
 * The rules live in one chain per uid range, `TENANTPLANE-<from>-<to>`, in the
 * filter table of iptables and ip6tables, jumped to first from OUTPUT:
 *
 *   -m owner --uid-owner <from>-<to> -m addrtype --dst-type LOCAL -m conntrack --ctstate NEW -j REJECT
 *
 * (TCP and UDP), after an exception for DNS to the resolvers of
 * /etc/resolv.conf and for the loopback TCP ports of the tenant data servers
 * (`allowPorts`: PostgreSQL and the storage emulator, where each environment
 * logs in with credentials of its own; the union of every holder's ports).
 * Before any exception, the workload port range of every holder is refused
 * outright, so no exception — not even a data server's port that a holder
 * recorded and whose server has since gone, its port handed to a tenant —
 * opens one tenant's port to another.
 *
 * The chain is rebuilt atomically (iptables-restore) by each driver that
 * starts; several drivers (test platforms, a restarted control plane) may
 * share a range, so each records itself as a holder (its pid with the
 * process's start time, so a pid the kernel hands out again is no holder),
 * and the chain is removed only by the last holder to close, and only when no
 * process of the range still runs (workloads are detached and may outlive
 * their driver). After a crash the chain stays: it protects the workloads that
 * still run and is rebuilt by the next driver.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { ResolvedLocalOptions } from './options.ts';
import { runningUids } from './sandbox.ts';
import { DriverError } from '../types.ts';
import { isPidAlive } from './state.ts';

/** What the driver reports about its workloads' network, for `flags.isolatedNetwork` and `npm start`. */
export interface NetworkIsolationState {
  isolated: boolean;
  /** The firewall chain holding the rules, when isolated. */
  chain?: string;
  /** Why workloads are not isolated, when they are not; names the fix. */
  reason?: string;
}

export interface NetworkIsolation extends NetworkIsolationState {
  /** Gives up this driver's hold; the last holder removes the chain unless workloads of the range still run. Idempotent. */
  release(): void;
}

export type Family = 'iptables' | 'ip6tables';
export interface PortRange {
  from: number;
  to: number;
}
/** What holders ask of the chain: data-server ports to keep open, and their workloads' port ranges, refused first. */
interface Holding {
  allowPorts: number[];
  workloadPorts: PortRange[];
}
const SEARCH_PATH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'];
/** iptables chain names hold at most 28 characters. */
const MAX_CHAIN = 28;
let holds = 0;
/**
 * Holds of this process not yet released. A process that exits without closing
 * its drivers gives them up then (the chain stays while workloads of the range
 * run); one killed outright leaves them, and the next driver cleans up.
 */
const unreleased = new Set<() => void>();
process.once('exit', () => {
  for (const release of [...unreleased]) {
    try {
      release();
    } catch {
      // Exiting anyway; the next driver rebuilds the chain.
    }
  }
});

/** The chain of a uid range: `TENANTPLANE-200000-299999`, shortened to `TP-…` for very large uids. */
export function chainName(uidRange: { from: number; to: number }): string {
  const long = `TENANTPLANE-${uidRange.from}-${uidRange.to}`;
  return long.length <= MAX_CHAIN ? long : `TP-${uidRange.from}-${uidRange.to}`;
}

/** The rules of the chain, as iptables-restore input that replaces the chain's content in one transaction. */
export function chainRules(
  family: Family,
  chain: string,
  uidRange: { from: number; to: number },
  resolvers: string[] = localResolvers(),
  allowPorts: number[] = [],
  workloadPorts: PortRange[] = [],
): string {
  const owner = `-m owner --uid-owner ${uidRange.from}-${uidRange.to}`;
  const refuse = (p: string, how: string, ports = '') =>
    `-A ${chain} ${owner} -m addrtype --dst-type LOCAL -p ${p}${ports} -m conntrack --ctstate NEW -j REJECT${how}`;
  // Workload ports first: no exception below may open one.
  const workloads = mergeRanges(workloadPorts).flatMap(({ from, to }) => {
    const ports = ` --dport ${from === to ? from : `${from}:${to}`}`;
    return [refuse('tcp', ' --reject-with tcp-reset', ports), refuse('udp', '', ports)];
  });
  const dns = resolvers
    .filter((a) => (family === 'iptables') === !a.includes(':'))
    .flatMap((a) => ['udp', 'tcp'].map((p) => `-A ${chain} ${owner} -d ${a} -p ${p} --dport 53 -j RETURN`));
  // The data servers listen on 127.0.0.1 only.
  if (family === 'iptables') dns.push(...allowPorts.map((port) => `-A ${chain} ${owner} -d 127.0.0.1 -p tcp --dport ${port} -j RETURN`));
  return [
    '*filter',
    `:${chain} - [0:0]`,
    ...workloads,
    ...dns,
    refuse('tcp', ' --reject-with tcp-reset'),
    refuse('udp', ''),
    'COMMIT',
    '',
  ].join('\n');
}

/** Sorted ranges with overlapping and adjacent ones joined, so every holder's range costs at most one rule per protocol. */
function mergeRanges(ranges: PortRange[]): PortRange[] {
  const merged: PortRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.from - b.from)) {
    const last = merged.at(-1);
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else merged.push({ ...r });
  }
  return merged;
}

/** Name servers of /etc/resolv.conf, so workloads keep name resolution when the resolver listens on this machine. */
function localResolvers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((line) => /^\s*nameserver\s+([0-9a-fA-F.:]+)\s*$/.exec(line)?.[1])
      .filter((a): a is string => a !== undefined);
  } catch {
    return [];
  }
}

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_PATH];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

function run(tool: string, args: string[], input?: string): { ok: boolean; status: number | null; message: string } {
  const result = spawnSync(tool, args, { input, encoding: 'utf8', timeout: 15_000 });
  const message = (result.error?.message ?? result.stderr ?? '').trim().split('\n')[0] ?? '';
  return { ok: result.status === 0, status: result.status, message };
}

/** Families to guard: IPv4 always, IPv6 when the kernel has it. */
export function families(): Family[] {
  return existsSync('/proc/net/if_inet6') ? ['iptables', 'ip6tables'] : ['iptables'];
}

function install(chain: string, uidRange: { from: number; to: number }, holding: Holding): string | undefined {
  for (const family of families()) {
    const restore = findTool(`${family}-restore`);
    const cli = findTool(family);
    if (!restore || !cli) return `${family} is not installed (run scripts/ensure-tools.sh iptables, or apt-get install -y iptables)`;
    const rebuilt = run(
      restore,
      ['--noflush', '-w', '5'],
      chainRules(family, chain, uidRange, localResolvers(), holding.allowPorts, holding.workloadPorts),
    );
    if (!rebuilt.ok)
      return `${family}-restore failed: ${rebuilt.message || `exit ${rebuilt.status}`} (it needs root with CAP_NET_ADMIN and netfilter in the kernel)`;
    const hooked = run(cli, ['-w', '5', '-C', 'OUTPUT', '-j', chain]);
    if (hooked.ok) continue;
    const inserted = run(cli, ['-w', '5', '-I', 'OUTPUT', '1', '-j', chain]);
    if (!inserted.ok) return `${family} could not hook ${chain} into OUTPUT: ${inserted.message}`;
  }
  return undefined;
}

/** Why the firewall cannot be used here, or undefined when it can: root, iptables installed, and the filter table readable. */
export function firewallProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'the control plane does not run as root';
  for (const family of families()) {
    const cli = findTool(family);
    if (!cli || !findTool(`${family}-restore`))
      return `${family} is not installed (run scripts/ensure-tools.sh iptables, or apt-get install -y iptables)`;
    const listed = run(cli, ['-w', '5', '-S', 'OUTPUT']);
    if (!listed.ok)
      return `${family} -S OUTPUT failed: ${listed.message || `exit ${listed.status}`} (it needs CAP_NET_ADMIN and netfilter in the kernel)`;
  }
  return undefined;
}

/** The filter table's rules of one family as `iptables -S` prints them (empty when it cannot be read): for tests and diagnostics. */
export function firewallRules(family: Family): string[] {
  const cli = findTool(family);
  if (!cli) return [];
  const result = spawnSync(cli, ['-w', '5', '-S'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.split('\n').filter(Boolean) : [];
}

/** Removes the chain and every jump to it, in both families; what is already gone is fine. */
function uninstall(chain: string): void {
  for (const family of ['iptables', 'ip6tables'] as const) {
    const cli = findTool(family);
    if (!cli) continue;
    for (let i = 0; i < 10 && run(cli, ['-w', '5', '-D', 'OUTPUT', '-j', chain]).ok; i += 1);
    if (run(cli, ['-w', '5', '-F', chain]).ok) run(cli, ['-w', '5', '-X', chain]);
  }
}

export function holdersDir(chain: string): string {
  return join(existsSync('/run') ? '/run' : tmpdir(), 'tenantplane-network', chain);
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, it names the process even after the pid is reused. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A holder file's content: `{ allowPorts, workloadPorts, started }` (an older one holds just the ports' JSON array). */
function readHolding(file: string): Holding & { started?: string } {
  const value = JSON.parse(readFileSync(file, 'utf8') || '[]') as unknown;
  const record = (Array.isArray(value) ? { allowPorts: value } : value) as Partial<Holding> & { started?: string };
  const port = (p: unknown): p is number => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;
  return {
    allowPorts: (record.allowPorts ?? []).filter(port),
    workloadPorts: (record.workloadPorts ?? []).filter((r) => port(r?.from) && port(r?.to) && r.from <= r.to),
    started: typeof record.started === 'string' ? record.started : undefined,
  };
}

/**
 * What the live holders ask; the files of holders that are gone are removed.
 * A holder is live while its pid runs with the start time it recorded: a pid
 * the kernel handed to another process holds nothing.
 */
function liveHoldings(dir: string): Holding[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^\d+-\d+-\d+$/.test(n));
  } catch {
    return [];
  }
  const live: Holding[] = [];
  for (const name of names) {
    const pid = Number(name.split('-')[0]);
    let holding: Holding & { started?: string };
    try {
      holding = readHolding(join(dir, name));
    } catch {
      holding = { allowPorts: [], workloadPorts: [] }; // Unreadable: judged by its pid alone.
    }
    if (isPidAlive(pid) && (holding.started === undefined || holding.started === processStart(pid))) {
      live.push(holding);
      continue;
    }
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Another process cleaned it first.
    }
  }
  return live;
}

/** Several holdings as one: every port to keep open and every workload range to refuse. */
function joined(holdings: Holding[]): Holding {
  return {
    allowPorts: [...new Set(holdings.flatMap((h) => h.allowPorts))].sort((a, b) => a - b),
    workloadPorts: holdings.flatMap((h) => h.workloadPorts),
  };
}

/** Runs `fn` holding a lock file shared by every process on this machine; a lock whose owner died is broken. */
function withLock<T>(dir: string, fn: () => T): T {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lock, 'utf8').trim()) || 0;
      if ((owner && !isPidAlive(owner)) || Date.now() > deadline) {
        try {
          unlinkSync(lock);
        } catch {
          // Broken by another process at the same moment.
        }
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * Installs (or rebuilds) the chain of `uidRange` and holds it until `release`.
 * Synchronous, so the driver's flags are right from its creation and no
 * workload starts before the rules. When the firewall cannot be used, the
 * answer says why and nothing is pretended.
 */
export function isolateTenantNetwork(
  uidRange: { from: number; to: number },
  allowPorts: number[] = [],
  workloadPorts: PortRange[] = [],
): NetworkIsolation {
  const chain = chainName(uidRange);
  const dir = holdersDir(chain);
  // pid first (its liveness decides), then thread and count: several drivers of one process may hold a range.
  const holder = join(dir, `${process.pid}-${threadId}-${(holds += 1)}`);
  let reason: string | undefined;
  try {
    reason = withLock(dir, () => {
      const own: Holding = { allowPorts, workloadPorts };
      const problem = install(chain, uidRange, joined([...liveHoldings(dir), own]));
      if (!problem) writeFileSync(holder, JSON.stringify({ ...own, started: processStart(process.pid) }));
      return problem;
    });
  } catch (error) {
    reason = `could not record this driver under ${dir}: ${(error as Error).message}`;
  }
  if (reason) return { isolated: false, reason, release() {} };
  const release = () => {
    if (!unreleased.delete(release)) return;
    withLock(dir, () => {
      try {
        unlinkSync(holder);
      } catch {
        // Already gone.
      }
      // Others still hold the range: keep their exceptions, drop ours.
      const others = liveHoldings(dir);
      if (others.length > 0) {
        install(chain, uidRange, joined(others));
        return;
      }
      const busy = [...runningUids()].some((uid) => uid >= uidRange.from && uid <= uidRange.to);
      if (!busy) uninstall(chain);
    });
  };
  unreleased.add(release);
  return { isolated: true, chain, release };
}

/** Reasons already logged: a test process creates many drivers, and one line per cause is enough. */
const warned = new Set<string>();

/** Installs the firewall chain as configured; says once per process why it is off, or throws when it is required. */
export function setUpNetwork(opts: ResolvedLocalOptions): NetworkIsolation {
  if (opts.isolateNetwork === 'off') {
    const reason = opts.isolateUsers
      ? 'turned off (isolateNetwork: false)'
      : "workloads run as the control plane's user (not root), so the firewall cannot tell them apart";
    return { isolated: false, reason, release() {} };
  }
  const network = isolateTenantNetwork(opts.uidRange, opts.allowPorts, [opts.portRange]);
  if (network.isolated) return network;
  if (opts.isolateNetwork === 'required')
    throw new DriverError('local', 'not_configured', `local driver isolateNetwork: ${network.reason}`);
  if (!warned.has(network.reason!)) {
    warned.add(network.reason!);
    console.warn(`local driver: tenant network isolation is off: ${network.reason}; tenant processes can connect to every local port`);
  }
  return network;
}
