/**
 * Helpers shared by the local driver's test files: drivers on throw-away
 * dataDirs with free port ranges, and a view of the workload processes that
 * really run (from /proc, independent of what the driver believes).
 */
import type { TestFn } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalDriver, type LocalDriver, type LocalDriverOptions } from '../shared/runtime/local/index.ts';
import { allocatePorts } from './ports.ts';
import type { EnvironmentRef, EnvironmentSpec } from '../shared/runtime/types.ts';

export function makeSpec(ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref,
    image: 'sample-tenant:v1',
    memoryMb: 256,
    vars: { GREETING: 'hello' },
    secrets: {},
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env },
    ...overrides,
  };
}

/** A range of `size` ports reserved to this test process by the one test port allocator. */
export async function pickRange(size: number): Promise<{ from: number; to: number }> {
  return allocatePorts(size);
}

/** Workload processes whose DATA_DIR lies under `prefix`, found through /proc. */
export function findWorkloads(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.some((v) => v.startsWith(`DATA_DIR=${prefix}`))) pids.push(Number(entry));
    } catch {
      // Gone, or another user's process.
    }
  }
  return pids;
}

export function dataFolder(dataDir: string, ref: EnvironmentRef): string {
  return join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'data');
}

/** A command for the local driver whose workload records the environment it runs with (test/fixtures/env-workload.mjs). */
export const ENV_WORKLOAD = [process.execPath, fileURLToPath(new URL('../test/fixtures/env-workload.mjs', import.meta.url))];

/** What the ENV_WORKLOAD of `ref` recorded: its variables, argv and execArgv. */
export async function workloadSeen(
  dataDir: string,
  ref: EnvironmentRef,
): Promise<{ env: Record<string, string>; argv: string[]; execArgv: string[] }> {
  return JSON.parse(await readFile(join(dataFolder(dataDir, ref), 'env.json'), 'utf8'));
}

export async function readPid(dataDir: string, ref: EnvironmentRef): Promise<number | undefined> {
  const state = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  return state.environments[`${ref.tenantId}-${ref.env}`]?.pid;
}

export async function launch(driver: LocalDriver, ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}) {
  const spec = makeSpec(ref, overrides);
  await driver.ensureInfrastructure(spec);
  await driver.deploy(spec);
  return driver.waitReady(ref, { timeoutMs: 30_000 });
}

export async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`process ${pid} did not exit`);
}

export interface LocalTestKit {
  root: string;
  /** A driver on a fresh dataDir with its own free port range. */
  makeDriver(options?: Partial<LocalDriverOptions>): Promise<{ driver: LocalDriver; dataDir: string }>;
  /** Another driver on an existing dataDir, as a restarted control plane would create it. */
  reopenDriver(dataDir: string, options?: Partial<LocalDriverOptions>): LocalDriver;
  newRef(env?: string): EnvironmentRef;
}

/** Creates the kit and registers cleanup: every driver's processes stopped, strays killed, drivers closed, folders removed. */
export async function createLocalTestKit(test: TestFn): Promise<LocalTestKit> {
  const root = await mkdtemp(join(tmpdir(), 'local-driver-'));
  const drivers: LocalDriver[] = [];
  let dirs = 0;
  let refs = 0;
  test.after.always(async () => {
    await Promise.all(drivers.map((d) => d.stopAll().catch(() => {})));
    for (const pid of findWorkloads(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Last, once no workload of theirs runs: the last holder of a uid range removes its firewall chain.
    await Promise.all(drivers.map((d) => d.close().catch(() => {})));
    await rm(root, { recursive: true, force: true });
  });
  const reopenDriver = (dataDir: string, options: Partial<LocalDriverOptions> = {}) => {
    const driver = createLocalDriver({ dataDir, stopTimeoutMs: 3000, ...options });
    drivers.push(driver);
    return driver;
  };
  return {
    root,
    async makeDriver(options = {}) {
      dirs += 1;
      const dataDir = join(root, `d${dirs}`);
      return { driver: reopenDriver(dataDir, { portRange: await pickRange(50), ...options }), dataDir };
    },
    reopenDriver,
    newRef: (env = 'demo') => ({ ownerId: 'owner-1', tenantId: `lt${process.pid}x${(refs += 1)}`, env }),
  };
}
