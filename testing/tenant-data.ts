/**
 * Tenant data servers for a test: the PostgreSQL server `npm test` started
 * (TP_TEST_POSTGRES_URL), or one of its own (data in memory, scratchDataDir) when run
 * without it, and a storage emulator in this process with a random owner
 * token. `env` is what parseConfig needs to use them; `close` stops what was started here.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import { scratchDataDir, startPostgres } from '../scripts/dev/postgres.ts';
import { allocatePort } from './ports.ts';

export interface TenantData {
  adminUrl: string;
  storageUrl: string;
  storageToken: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** `now`: the storage emulator's clock (its lifecycle rules age objects by it); default the real one. */
export async function startTenantData(dir: string, options: { now?: () => Date } = {}): Promise<TenantData> {
  const shared = process.env.TP_TEST_POSTGRES_URL || undefined;
  const ownDir = shared ? undefined : scratchDataDir('tp-postgres-');
  const own = ownDir
    ? await startPostgres({ dataDir: join(ownDir, 'data'), logDir: dir, port: await allocatePort(), fast: true })
    : undefined;
  const adminUrl = shared ?? own!.adminUrl;
  const storageToken = randomBytes(24).toString('base64url');
  const storage = await startStorageEmulator({ port: await allocatePort(), adminToken: storageToken, now: options.now });
  return {
    adminUrl,
    storageUrl: storage.url,
    storageToken,
    env: { RESOURCES_DRIVER: 'local', DATABASE_ADMIN_URL: adminUrl, STORAGE_EMULATOR_URL: storage.url, STORAGE_ADMIN_TOKEN: storageToken },
    async close() {
      await storage.close();
      await own?.stop();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
}
