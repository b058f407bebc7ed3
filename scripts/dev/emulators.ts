import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
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
  let components = '';
  try {
    components = execFileSync('gcloud', ['components', 'list', '--only-local-state', '--format=value(id)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    throw new PrerequisiteError('The gcloud SDK is missing: install it and run `gcloud components install cloud-firestore-emulator`.');
  }
  if (!components.includes('cloud-firestore-emulator')) {
    throw new PrerequisiteError('The Firestore emulator is missing: run `gcloud components install cloud-firestore-emulator` (or `apt-get install google-cloud-cli-firestore-emulator`).');
  }
}

/** The gcloud SDK's Firestore emulator (runs on Java 17; the firebase-tools one needs Java 21). */
export async function startFirestoreEmulator(options: { port?: number; logDir: string }): Promise<{ host: string; process: Managed }> {
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  mkdirSync(options.logDir, { recursive: true });
  const proc = startManaged('firestore', 'gcloud', ['emulators', 'firestore', 'start', `--host-port=${host}`, '--quiet'], {
    logFile: createWriteStream(join(options.logDir, 'firestore.log')),
  });
  await waitFor('The Firestore emulator', () => httpOk(`http://${host}/`), 60_000, proc.child);
  return { host, process: proc };
}

/** The firebase-tools Auth emulator (pure Node, offline), on free hub/logging ports. */
export async function startAuthEmulator(options: { port?: number; projectId: string; logDir: string }): Promise<{ host: string; process: Managed }> {
  const port = options.port ?? (await freePort());
  const dir = join(options.logDir, 'auth-emulator');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: await freePort() },
        logging: { host: '127.0.0.1', port: await freePort() },
        ui: { enabled: false },
        singleProjectMode: false,
      },
    }),
  );
  const bin = join(root, 'node_modules/.bin/firebase');
  const proc = startManaged('auth', bin, ['emulators:start', '--only', 'auth', '--project', options.projectId], {
    cwd: dir,
    env: { ...process.env, FIREBASE_CLI_DISABLE_UPDATE_CHECK: 'true', FIREBASE_CLI_EXPERIMENTS: '' },
    logFile: createWriteStream(join(options.logDir, 'auth.log')),
  });
  const host = `127.0.0.1:${port}`;
  await waitFor('The Auth emulator', () => httpOk(`http://${host}/`), 90_000, proc.child);
  return { host, process: proc };
}
