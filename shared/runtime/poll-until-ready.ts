/**
 * Waiting for an environment to become ready by reading its status again and
 * again: Cloud Run, Kubernetes and the local driver have no event to wait
 * for. They differ only in which states end the wait early and in what their
 * errors say, so those are the caller's.
 */
import type { EnvironmentStatus } from './types.ts';

export interface PollUntilReadyOptions {
  /** How long to keep reading before giving up. */
  timeoutMs: number;
  /** Pause between two reads; the last pause ends at the deadline. */
  intervalMs: number;
  /**
   * The first pause, when shorter: each pause after it is a quarter longer,
   * up to `intervalMs` (a local process answers within a few hundred ms, and
   * a fixed 100 ms pause cost a launch 50 ms on average).
   */
  firstIntervalMs?: number;
  /** States from which readiness cannot come, so waiting longer is pointless. Default: `failed`. */
  isFinal?: (status: EnvironmentStatus) => boolean;
  /** The error to throw, given the last status read and whether it was final or time ran out. */
  fail: (status: EnvironmentStatus, reason: 'final' | 'timeout') => Error | Promise<Error>;
}

/** Reads `read()` until it says ready and returns that status; throws `fail`'s error otherwise. */
export async function pollUntilReady(read: () => Promise<EnvironmentStatus>, options: PollUntilReadyOptions): Promise<EnvironmentStatus> {
  const { timeoutMs, intervalMs, isFinal = (status) => status.state === 'failed', fail } = options;
  const deadline = Date.now() + timeoutMs;
  let pause = Math.min(options.firstIntervalMs ?? intervalMs, intervalMs);
  for (;;) {
    const status = await read();
    if (status.ready) return status;
    if (isFinal(status)) throw await fail(status, 'final');
    if (Date.now() >= deadline) throw await fail(status, 'timeout');
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(0, deadline - Date.now()))));
    pause = Math.min(intervalMs, pause * 1.25);
  }
}
