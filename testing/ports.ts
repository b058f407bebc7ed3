/**
 * The one port allocator of test platforms. Test files run as parallel
 * processes (and several people may run tests on one machine), and each
 * needs ports for its gateway, its tenant environments and its drivers.
 * Picking at random, by pid, or by asking the kernel for a free port and
 * closing it again all let two users meet on one port. So every port a test
 * uses comes from here:
 *
 * - ports lie between 21000 (above the dev stack's default environment range,
 *   20000-20999) and the start of the kernel's ephemeral range, so no
 *   outgoing connection or port-0 listener can be given one;
 * - they are claimed in blocks by creating a lock file exclusively in the
 *   temporary folder; the file names the owning pid, and a block whose owner
 *   died is taken over;
 * - a port is handed out once per process and stays reserved until the
 *   process exits, so a port freed by one test is not reused by another while
 *   the first still checks that it went quiet.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPortBusy } from '../scripts/dev/processes.ts';
import { isPidAlive } from '../shared/runtime/local/state.ts';

export interface PortRange {
  from: number;
  to: number;
}

const BLOCK = 200;
const FIRST = 21_000;
const LOCK_DIR = join(tmpdir(), 'tenantplane-test-ports');

/** The first port of the kernel's ephemeral range (32768 on Linux by default). */
function ephemeralStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

const lastPort = ephemeralStart() - 1;
const claimed: string[] = [];
let current: { next: number; to: number } | undefined;

process.once('exit', () => {
  for (const file of claimed) {
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  }
});

/** Creates the block's lock file if nobody holds it, taking it over from a dead owner. */
function tryClaim(file: string): boolean {
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const owner = Number(readFileSync(file, 'utf8')) || 0;
  if (owner && isPidAlive(owner)) return false;
  try {
    unlinkSync(file);
  } catch {
    // Another process took it over first; the exclusive create below decides.
  }
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

function claimBlock(): { next: number; to: number } {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (let from = FIRST; from + BLOCK - 1 <= lastPort; from += BLOCK) {
    const file = join(LOCK_DIR, String(from));
    if (!tryClaim(file)) continue;
    claimed.push(file);
    return { next: from, to: from + BLOCK - 1 };
  }
  throw new Error(
    `No free block of ${BLOCK} test ports left between ${FIRST} and ${lastPort}: remove stale files in ${LOCK_DIR} if no tests are running.`,
  );
}

/**
 * A contiguous range of `count` ports (at most 200) reserved to this process,
 * none of them listened on right now.
 */
export async function allocatePorts(count: number): Promise<PortRange> {
  if (count < 1 || count > BLOCK) throw new Error(`allocatePorts takes 1 to ${BLOCK} ports, not ${count}.`);
  for (;;) {
    if (!current || current.next + count - 1 > current.to) current = claimBlock();
    const from = current.next;
    current.next += count;
    // Something outside the allocator may listen there (a dev stack, another program): skip such ranges.
    const busy = await Promise.all(Array.from({ length: count }, (_, i) => isPortBusy(from + i)));
    if (!busy.includes(true)) return { from, to: from + count - 1 };
  }
}

/** One port reserved to this process, for a server the test starts itself. */
export async function allocatePort(): Promise<number> {
  return (await allocatePorts(1)).from;
}
