/**
 * A whole platform for a benchmark: the Firestore and Auth emulators (started
 * here unless the environment already points at running ones), the in-process
 * stack (gateway, Cloud Tasks server, mail catcher, local runtime) on free
 * ports, a signed-in user, and cleanup that leaves no tenant process behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrerequisites, startAuthEmulator, startFirestoreEmulator } from '../../scripts/dev/emulators.ts';
import { startTestStack, type TestStack } from '../../testing/stack.ts';
import { createTestUser, type TestUser } from '../../testing/users.ts';
import { waitForEvent } from '../../testing/events.ts';
import { readStartTicks, stopGroup } from '../../shared/runtime/local/process.ts';
import type { Tenant, TenantEvent } from '../../shared/tenants/types.ts';
import { mapLimit } from './stats.ts';

/**
 * Makes sure FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST point at
 * running emulators; returns how to stop the ones started here (a no-op for ones found running).
 */
export async function ensureEmulators(log: (line: string) => void = () => {}): Promise<() => Promise<void>> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  if (process.env.FIRESTORE_EMULATOR_HOST && process.env.FIREBASE_AUTH_EMULATOR_HOST) return async () => {};
  checkPrerequisites();
  const logDir = mkdtempSync(join(tmpdir(), 'tenantplane-bench-'));
  log(`Starting the Firestore and Auth emulators (logs in ${logDir})…`);
  const [firestore, auth] = await Promise.all([
    startFirestoreEmulator({ logDir }),
    startAuthEmulator({ projectId: 'demo-tenantplane', logDir }),
  ]);
  process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  process.env.FIREBASE_AUTH_EMULATOR_HOST = auth.host;
  return async () => {
    await Promise.all([firestore.process.stop(), auth.process.stop()]);
    // The logs go with the emulators: a bench that fails before this keeps them for reading.
    rmSync(logDir, { recursive: true, force: true });
    delete process.env.FIRESTORE_EMULATOR_HOST;
    delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
  };
}

export interface BenchPlatform {
  stack: TestStack;
  user: TestUser;
  /** POST /api/v1/tenants as the user; throws with the API's answer unless 202. */
  createTenant(name: string, environments?: string[]): Promise<Tenant>;
  /** Waits for tenant_ready (throws on provisioning_failed) and returns every event seen. */
  waitReady(tenantId: string, timeoutMs?: number): Promise<TenantEvent[]>;
  /** Deletes every tenant created through `createTenant`, then stops any tenant process still running. */
  close(): Promise<void>;
}

export async function startBenchPlatform(options: { env?: Record<string, string> } = {}): Promise<BenchPlatform> {
  const stack = await startTestStack({
    env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error', ...options.env },
    reportLingering: false,
  });
  const user = await createTestUser(stack.deps);
  const created: string[] = [];
  return {
    stack,
    user,
    async createTenant(name, environments = ['live']) {
      const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: user.token, json: { name, environments } });
      const body = (await res.json()) as { tenant: Tenant };
      if (res.status !== 202) throw new Error(`Creating tenant ${name} answered ${res.status}: ${JSON.stringify(body)}`);
      created.push(body.tenant.id);
      return body.tenant;
    },
    async waitReady(tenantId, timeoutMs = 120_000) {
      const events = await waitForEvent(stack.streamUrl, tenantId, user.token, ['tenant_ready', 'provisioning_failed'], timeoutMs);
      const last = events.at(-1)!;
      if (last.type !== 'tenant_ready') throw new Error(`Tenant ${tenantId} failed to provision: ${last.message}`);
      return events;
    },
    async close() {
      await mapLimit(created, 8, async (id) => {
        await stack.fetch(`/api/v1/tenants/${id}`, { method: 'DELETE', token: user.token }).catch(() => undefined);
        await waitForEvent(stack.streamUrl, id, user.token, ['tenant_deleted'], 60_000).catch(() => undefined);
      });
      await stopLeftoverProcesses(join(stack.dataDir, 'runtime'));
      await stack.close();
    },
  };
}

/**
 * Pids of tenant processes the local runtime recorded and that are still
 * those processes (same start time in /proc, so never a reused pid).
 */
export async function runtimePids(runtimeDir: string): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  try {
    const state = JSON.parse(await readFile(join(runtimeDir, 'runtime-state.json'), 'utf8')) as {
      environments: Record<string, { pid?: number; pidStartTicks?: number }>;
    };
    for (const [key, rec] of Object.entries(state.environments)) {
      if (rec.pid && rec.pidStartTicks !== undefined && readStartTicks(rec.pid) === rec.pidStartTicks) pids.set(key, rec.pid);
    }
  } catch {
    // No state file: nothing was ever started.
  }
  return pids;
}

/** Tenant processes outlive the stack, so a failed delete must not leak them. */
async function stopLeftoverProcesses(runtimeDir: string): Promise<void> {
  const pids = await runtimePids(runtimeDir);
  await Promise.all([...pids.values()].map((pid) => stopGroup(pid, 3000).catch(() => undefined)));
}
