/**
 * `npm run create-admin -- <email>`: makes the first admin (or any later one).
 * Creates the Firebase Auth user for the address, or finds the existing one,
 * enables it, sets the custom claim `role: "admin"` (other claims kept) and
 * mirrors the role in Firestore `users/{uid}`, which the last-admin guard reads.
 *
 * Targets, from the same variables the functions read (shared/config.ts):
 * - local: FIREBASE_AUTH_EMULATOR_HOST (and FIRESTORE_EMULATOR_HOST) as `npm start`
 *   runs them (firebase.json: 127.0.0.1:9099 and 127.0.0.1:8081);
 * - production: GCP_PROJECT_ID (FIREBASE_PROJECT_ID if Auth lives elsewhere)
 *   with Application Default Credentials (`gcloud auth application-default login`).
 * It also adds every Auth user missing from that directory (the portal's users table reads it).
 * Safe to repeat: a second run finds the user and changes nothing else.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Auth, UserRecord } from 'firebase-admin/auth';
import { createFirebaseAuth } from '../shared/auth/firebase.ts';
import { ConfigError, parseConfig, type Config, type Env } from '../shared/config.ts';
import { createFirestore } from '../shared/store/db.ts';
import { mirrorUser, syncUserDirectory } from '../shared/store/users.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

class UsageError extends Error {}

async function findOrCreate(auth: Auth, email: string): Promise<{ user: UserRecord; created: boolean }> {
  try {
    return { user: await auth.getUserByEmail(email), created: false };
  } catch (err) {
    if ((err as { code?: string }).code !== 'auth/user-not-found') throw err;
  }
  try {
    return { user: await auth.createUser({ email, emailVerified: true }), created: true };
  } catch (err) {
    // Created meanwhile (an activation, another run): use that one.
    if ((err as { code?: string }).code !== 'auth/email-already-exists') throw err;
    return { user: await auth.getUserByEmail(email), created: false };
  }
}

function describeTarget(config: Config): string {
  if (config.emulators.auth) return `the Auth emulator at ${config.emulators.auth} (project ${config.authProjectId})`;
  if (config.authProjectId.startsWith('demo-')) {
    throw new UsageError(
      `No Auth emulator is set and the project is the demo default "${config.authProjectId}". ` +
        'Locally: FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 FIRESTORE_EMULATOR_HOST=127.0.0.1:8081 npm run create-admin -- <email> (with npm start running). ' +
        'Production: GCP_PROJECT_ID=<your project> npm run create-admin -- <email> (after gcloud auth application-default login).',
    );
  }
  return `Firebase project ${config.authProjectId}`;
}

/** Bounded, so a Firestore without credentials fails in seconds instead of retrying for minutes. */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)),
  );
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the command; returns the exit code. Output goes to `out`/`err` (console by default). */
export async function runCreateAdmin(argv: string[], env: Env, out = console.log, err = console.error): Promise<number> {
  try {
    const email = argv
      .find((a) => !a.startsWith('-'))
      ?.trim()
      .toLowerCase();
    if (!email || !EMAIL.test(email))
      throw new UsageError(`Usage: npm run create-admin -- <email>${email ? ` ("${email}" is not an email address)` : ''}`);
    const config = parseConfig(env);
    const target = describeTarget(config);
    const auth = await createFirebaseAuth(config)();
    let { user, created } = await findOrCreate(auth, email);
    if (user.disabled) user = await auth.updateUser(user.uid, { disabled: false });
    const wasAdmin = user.customClaims?.role === 'admin';
    if (!wasAdmin) await auth.setCustomUserClaims(user.uid, { ...(user.customClaims ?? {}), role: 'admin' });
    out(`✓ ${email} (uid ${user.uid}) ${created ? 'created and made' : wasAdmin ? 'was already' : 'is now'} an admin in ${target}.`);

    if (config.emulators.firestore || !config.projectId.startsWith('demo-')) {
      // Against the emulator there is no metadata server to ask for credentials; skip the probe and its warning.
      if (config.emulators.firestore) process.env.METADATA_SERVER_DETECTION ??= 'none';
      const db = createFirestore(config);
      try {
        const createdAt = user.metadata.creationTime ? new Date(user.metadata.creationTime).toISOString() : null;
        await withTimeout(
          mirrorUser(db, { uid: user.uid, email, role: 'admin', createdAt }, new Date()),
          20_000,
          'writing users/' + user.uid,
        );
        out(`✓ Mirrored the role in Firestore users/${user.uid}.`);
        // The portal's user table reads the directory: users made before it (or outside the platform) get their entry.
        const synced = await withTimeout(
          syncUserDirectory(db, auth, () => new Date()),
          120_000,
          'syncing the user directory',
        );
        if (synced > 0) out(`✓ Added ${synced} user(s) to the portal's user directory (Firestore users/).`);
      } catch (error) {
        err(
          `! The Firestore mirror users/${user.uid} was not written (${(error as Error).message}); the role is set, but the last-admin guard counts this admin only once an admin sets a role through the API.`,
        );
      } finally {
        await db.terminate().catch(() => undefined);
      }
    } else {
      err(
        '! FIRESTORE_EMULATOR_HOST is not set, so the Firestore mirror users/{uid} was not written; set it to the emulator npm start runs (127.0.0.1:8081) and run this again.',
      );
    }

    const mail = config.mail.catcherUrl ? ` (locally the mail lands in the mail catcher, ${config.mail.catcherUrl})` : '';
    out(`Sign in: open ${config.publicUrl}/signup.html and enter ${email}; the mail${mail} holds a one-time sign-in link.`);
    if (!wasAdmin && !created)
      out('An ID token issued before this change still says "tenant": sign in again to get one with the admin role.');
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`✗ ${error.message}`);
      return 2;
    }
    err(`✗ Could not create the admin: ${(error as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Exit explicitly: firebase-admin keeps sockets alive that would hold the process open.
  process.exit(await runCreateAdmin(process.argv.slice(2), process.env));
}
