import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findOnPath } from './find-on-path.ts';
import { freePort, httpOk, startManaged, waitFor, type Managed } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');

export class PrerequisiteError extends Error {}

/** Checks Java and the gcloud Firestore emulator component, with one line saying how to fix each. */
export function checkPrerequisites(): void {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new PrerequisiteError('Java 17+ is missing: install it (e.g. `apt-get install openjdk-17-jre-headless`) and put `java` on PATH.');
  }
  // Where `gcloud` on PATH comes from an SDK folder holding the emulator, that is enough; asking
  // `gcloud components list` costs about 1.4 s of Python at every start, test run and bench.
  if (sdkHasFirestoreEmulator()) return;
  let components = '';
  try {
    components = execFileSync('gcloud', ['components', 'list', '--only-local-state', '--format=value(id)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    throw new PrerequisiteError('The gcloud SDK is missing: install it and run `gcloud components install cloud-firestore-emulator`.');
  }
  if (!components.includes('cloud-firestore-emulator')) {
    throw new PrerequisiteError(
      'The Firestore emulator is missing: run `gcloud components install cloud-firestore-emulator` (or `apt-get install google-cloud-cli-firestore-emulator`).',
    );
  }
}

/** Whether the SDK of the first `gcloud` on PATH has the Firestore emulator's jar where its components go. */
function sdkHasFirestoreEmulator(): boolean {
  const gcloud = findOnPath('gcloud');
  if (!gcloud) return false;
  try {
    const sdk = resolve(dirname(realpathSync(gcloud)), '..');
    return existsSync(join(sdk, 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'));
  } catch {
    return false;
  }
}

/** JVM flags for the Firestore emulator: the first compiler only (see startFirestoreEmulator). */
const JIT_FLAGS = '-XX:TieredStopAtLevel=1';

/** The gcloud SDK's Firestore emulator (runs on Java 17; the firebase-tools one needs Java 21). */
export async function startFirestoreEmulator(options: {
  port?: number;
  logDir: string;
  importFrom?: string;
}): Promise<{ host: string; process: Managed }> {
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  mkdirSync(options.logDir, { recursive: true });
  const args = ['emulators', 'firestore', 'start', `--host-port=${host}`, '--quiet'];
  if (options.importFrom) args.push(`--import-data=${options.importFrom}`);
  const proc = startManaged('firestore', 'gcloud', args, {
    logPath: join(options.logDir, 'firestore.log'),
    // The JVM's second compiler (C2) spent about half the emulator's CPU in runs as long as a test file or a
    // bench; with the first one only, 10 launches one after another cost the emulator 1.7 s of CPU instead of
    // 3.1 s, and a burst of 100 took 22 s instead of 28–35 s on the 2-core machine (issue 19).
    env: { ...process.env, JAVA_TOOL_OPTIONS: [process.env.JAVA_TOOL_OPTIONS, JIT_FLAGS].filter(Boolean).join(' ') },
  });
  await waitFor('The Firestore emulator', () => httpOk(`http://${host}/`), 60_000, proc.child);
  return { host, process: proc };
}

/** Makes the Auth emulator compile its request validators when first used instead of before it listens (see the file). */
const LAZY_VALIDATORS = join(root, 'scripts/dev/auth-emulator-lazy.cjs');

type AuthOptions = { port?: number; projectId: string; logDir: string; dataDir?: string };

/**
 * The firebase-tools Auth emulator (pure Node, offline), on free hub/logging
 * ports. A free port can be taken by another program between our check and
 * the emulator's bind, so a failed start is tried again on fresh ports.
 */
export async function startAuthEmulator(options: AuthOptions): Promise<{ host: string; process: Managed; hubPort: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAuthEmulatorOnce(options);
    } catch (err) {
      if (attempt >= 3 || options.port) throw err;
    }
  }
}

async function startAuthEmulatorOnce(options: AuthOptions): Promise<{ host: string; process: Managed; hubPort: number }> {
  const port = options.port ?? (await freePort());
  let hubPort = 0;
  const dir = join(options.logDir, 'auth-emulator');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: (hubPort = await freePort()) },
        logging: { host: '127.0.0.1', port: await freePort() },
        ui: { enabled: false },
        singleProjectMode: false,
      },
    }),
  );
  const bin = join(root, 'node_modules/.bin/firebase');
  const args = ['emulators:start', '--only', 'auth', '--project', options.projectId];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    if (existsSync(join(options.dataDir, 'firebase-export-metadata.json'))) args.push('--import', options.dataDir);
  }
  const proc = startManaged('auth', bin, args, {
    cwd: dir,
    env: {
      ...process.env,
      FIREBASE_CLI_DISABLE_UPDATE_CHECK: 'true',
      FIREBASE_CLI_EXPERIMENTS: '',
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require ${JSON.stringify(LAZY_VALIDATORS)}`].filter(Boolean).join(' '),
    },
    logPath: join(options.logDir, 'auth.log'),
  });
  const host = `127.0.0.1:${port}`;
  await waitFor('The Auth emulator', () => httpOk(`http://${host}/`), 90_000, proc.child);
  return { host, process: proc, hubPort };
}

/** Saves the Firestore emulator's data (its REST export), so `npm start` can import it next time. */
export async function exportFirestore(host: string, projectId: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const res = await fetch(`http://${host}/emulator/v1/projects/${projectId}:export`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ database: `projects/${projectId}/databases/(default)`, export_directory: dir }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`Firestore export failed: ${res.status} ${await res.text()}`);
}

/** Saves the Auth emulator's users through the emulator hub's export. */
export async function exportAuth(hubPort: number, dir: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${hubPort}/_admin/export`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ path: dir, initiatedBy: 'tenantplane', nonInteractive: true }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`Auth export failed: ${res.status} ${await res.text()}`);
}
