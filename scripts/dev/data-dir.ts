/**
 * `npm start`'s data folder (`.data/`) holds the platform's own state: the
 * Firestore and Auth exports, every mail with its sign-in and activation links,
 * the logs, the queued tasks. Beside them is `runtime/`, which each tenant
 * workload, running as its own OS user, must pass through to reach its own
 * folder. So the data folder may be traversed but not listed (0711), and
 * everything else in it is its owner's alone: folders 0700 (what the
 * emulators and MailDev later write inside them is out of reach whatever its
 * mode), files 0600. `runtime/` keeps the modes the local driver gives it
 * (shared/runtime/local/sandbox.ts) and `postgres/` the server's own 0700.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Folders the services write into; made 0700 before any of them starts. */
const PRIVATE_FOLDERS = ['logs', 'firestore', 'auth', 'mail'];
/** Entries whose modes others manage. */
const OWN_MODES = new Set(['runtime', 'postgres']);

/** Makes `dataDir` and its private folders, and closes what an earlier run (or an older version) left open. */
export function lockDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  chmodSync(dataDir, 0o711);
  for (const name of PRIVATE_FOLDERS) mkdirSync(join(dataDir, name), { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dataDir)) {
    if (OWN_MODES.has(name)) continue;
    const path = join(dataDir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    chmodSync(path, stat.isDirectory() ? 0o700 : 0o600);
  }
}
