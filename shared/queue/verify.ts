import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Context } from '../http/wrap.ts';
import { TASK_SECRET_HEADER } from './client.ts';

/**
 * Task endpoints accept only requests the queue made: every task carries the
 * shared task secret as a header (in production the function is also private,
 * so Cloud Run checks the task's OIDC token before the request reaches us).
 */
export function verifyTaskRequest(ctx: Context, secret: string): { queue: string; task: string; retryCount: number } {
  const given = Buffer.from(ctx.header(TASK_SECRET_HEADER) ?? '');
  const expected = Buffer.from(secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError('forbidden', 'This endpoint only accepts requests from the task queue.');
  }
  return {
    queue: ctx.header('x-cloudtasks-queuename') ?? '',
    task: ctx.header('x-cloudtasks-taskname') ?? '',
    retryCount: Number(ctx.header('x-cloudtasks-taskretrycount') ?? 0),
  };
}
