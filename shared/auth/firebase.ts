import type { Auth } from 'firebase-admin/auth';
import type { Config } from '../config.ts';

/**
 * firebase-admin's Auth for the configured project. firebase-admin finds the
 * Auth emulator only through FIREBASE_AUTH_EMULATOR_HOST in process.env, so
 * this factory (and nothing else) sets it from config.
 */
export function createFirebaseAuth(config: Pick<Config, 'authProjectId' | 'emulators'>): () => Promise<Auth> {
  let auth: Promise<Auth> | undefined;
  return () =>
    (auth ??= (async () => {
      if (config.emulators.auth) process.env.FIREBASE_AUTH_EMULATOR_HOST = config.emulators.auth;
      const { initializeApp, getApps } = await import('firebase-admin/app');
      const { getAuth } = await import('firebase-admin/auth');
      const name = `tenantplane-${config.authProjectId}`;
      const app = getApps().find((a) => a.name === name) ?? initializeApp({ projectId: config.authProjectId }, name);
      return getAuth(app);
    })());
}
