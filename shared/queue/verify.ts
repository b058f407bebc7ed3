import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { Context } from '../http/wrap.ts';
import { TASK_SECRET_HEADER } from './client.ts';

type TaskConfig = Pick<Config, 'tasks' | 'functionsUrl' | 'mode' | 'emulators'>;

/**
 * Task endpoints accept only requests the queue (or Cloud Scheduler) made:
 * - every task carries the shared task secret as a header;
 * - where TASKS_SERVICE_ACCOUNT is set, it also carries an OIDC token for that
 *   account whose audience is this function's own URL, as Cloud Tasks and
 *   Cloud Scheduler send it (oidc_token). The claims are checked here; the
 *   signature is checked against Google's keys when there is one. Cloud Run,
 *   in front of a private function, has verified it before the request
 *   arrives. The local Cloud Tasks server sends the same claims unsigned,
 *   accepted only while the tasks emulator is configured.
 */
export async function verifyTaskRequest(
  ctx: Context,
  config: TaskConfig,
  fn: string,
): Promise<{ queue: string; task: string; retryCount: number }> {
  const given = Buffer.from(ctx.header(TASK_SECRET_HEADER) ?? '');
  const expected = Buffer.from(config.tasks.secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError('forbidden', 'This endpoint only accepts requests from the task queue.');
  }
  if (config.tasks.serviceAccount) await verifyOidcToken(ctx.header('authorization'), config, fn);
  return {
    queue: ctx.header('x-cloudtasks-queuename') ?? '',
    task: ctx.header('x-cloudtasks-taskname') ?? '',
    retryCount: Number(ctx.header('x-cloudtasks-taskretrycount') ?? 0),
  };
}

async function verifyOidcToken(authorization: string | undefined, config: TaskConfig, fn: string): Promise<void> {
  const refuse = (why: string) => new AppError('unauthenticated', `This endpoint only accepts the task queue's OIDC token: ${why}.`);
  const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  if (!token) throw refuse('none was sent');
  const [header, payload, signature] = token.split('.');
  let claims: { aud?: string; email?: string; email_verified?: boolean; exp?: number; iss?: string };
  try {
    JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
  } catch {
    throw refuse('it is not a JWT');
  }
  const audience = config.functionsUrl.replace('{name}', fn);
  if (signature) {
    const { OAuth2Client } = await import('google-auth-library');
    await new OAuth2Client().verifyIdToken({ idToken: token, audience }).catch(() => {
      throw refuse("its signature is not Google's");
    });
  } else if (config.mode === 'production' && !config.emulators.tasks) {
    // Cloud Run's front end checked the signature of a private function's token before forwarding it.
  } else if (!config.emulators.tasks) {
    throw refuse('it is unsigned');
  }
  if (claims.iss !== 'https://accounts.google.com' && claims.iss !== 'accounts.google.com') throw refuse('Google did not issue it');
  if (claims.aud !== audience) throw refuse(`its audience is not ${audience}`);
  if (claims.email !== config.tasks.serviceAccount || claims.email_verified === false)
    throw refuse(`it is not for ${config.tasks.serviceAccount}`);
  if (!claims.exp || claims.exp * 1000 < Date.now()) throw refuse('it has expired');
}
