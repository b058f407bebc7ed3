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
 *   died is taken over by one process only (see tryClaim);
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

/** Creates `path` holding this process's pid, unless it exists. */
function createExclusive(path: string): boolean {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The pid a lock file names: undefined when the file is gone, 0 while its creator has not written it yet. */
function ownerOf(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8')) || 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates the block's lock file if nobody holds it, or takes it over from an
 * owner that died without removing it (killed by a signal). A takeover goes
 * through a second file created exclusively, so two processes that both saw the
 * owner dead cannot both take it: removing the stale file and creating a new
 * one let the slower remove the faster's fresh file, and both used the block
 * (a test's gateway then met another's on its port). A takeover file left by a
 * process killed inside these few calls keeps its block from use; the others suffice.
 */
function tryClaim(file: string): boolean {
  if (createExclusive(file)) return true;
  const owner = ownerOf(file);
  if (owner === undefined) return createExclusive(file);
  if (owner === 0 || isPidAlive(owner)) return false;
  const takeover = `${file}.takeover`;
  if (!createExclusive(takeover)) return false;
  try {
    // Read again under the takeover file: only a takeover changes a file that exists.
    const now = ownerOf(file);
    if (now === undefined) return createExclusive(file);
    if (now === 0 || isPidAlive(now)) return false;
    writeFileSync(file, String(process.pid));
    return true;
  } finally {
    unlinkSync(takeover);
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
