/**
 * Deadlines on calls to dependencies. A dependency that is down must give the
 * caller a clear `503 unavailable` naming it, with Retry-After, within a few
 * seconds — never a request that hangs while a client library retries for
 * minutes (the Firestore client waits 45 s per attempt for a refused port).
 */
import { AppError } from './errors.ts';

/** The outside systems a request may wait on, as `/api/health` names them. */
export type Dependency = 'store' | 'queue' | 'auth' | 'mail' | 'runtime';

const LABELS: Record<Dependency, string> = {
  store: 'The database (Firestore)',
  queue: 'The task queue (Cloud Tasks)',
  auth: 'The sign-in service (Firebase Auth)',
  mail: 'The mail provider',
  runtime: 'The runtime API',
};

/** Seconds a client should wait before trying again after an outage answer. */
export const RETRY_AFTER_SECONDS = 5;

/** The 503 a caller gets when `dependency` did not answer (or refused) in time. */
export function dependencyUnavailable(dependency: Dependency, reason: string, cause?: unknown): AppError {
  return new AppError(
    'unavailable',
    `${LABELS[dependency]} is not answering (${reason}); try again shortly.`,
    { dependency },
    { cause },
  ).withHeader('Retry-After', String(RETRY_AFTER_SECONDS));
}

/** True for an error raised by {@link withDeadline} or {@link dependencyUnavailable}. */
export function isDependencyUnavailable(err: unknown): err is AppError {
  return err instanceof AppError && err.code === 'unavailable' && typeof err.details?.dependency === 'string';
}

/**
 * Settles with `work`, or rejects with a 503 naming `dependency` once `ms`
 * have passed. The late outcome of `work` is observed (never an unhandled
 * rejection) and handed to `onLate`, e.g. to release a stream nobody reads.
 */
export function withDeadline<T>(dependency: Dependency, ms: number, work: Promise<T>, onLate?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(dependencyUnavailable(dependency, `no answer within ${formatMs(ms)}`));
    }, ms);
    timer.unref?.();
  });
  work.then(
    (value) => {
      if (expired) onLate?.(value);
    },
    () => undefined,
  );
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** gRPC status codes that mean "could not reach it" rather than "it said no". */
const UNREACHABLE_CODES = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);

/** Maps a gRPC client's "cannot reach" error to a 503 naming the dependency; other errors pass unchanged. */
export function asUnavailable(dependency: Dependency, err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'number' && UNREACHABLE_CODES.has(code)) {
    return dependencyUnavailable(
      dependency,
      String((err as Error).message ?? err)
        .split('\n')[0]
        .slice(0, 200),
      err,
    );
  }
  return err;
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
