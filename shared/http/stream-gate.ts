/**
 * The per-user cap on open streams (STREAMS_PER_USER). A stream holds a
 * connection, a Firestore listener or an upstream request for minutes, so one
 * user opening hundreds would starve everyone else on the instance.
 *
 * The counts live in this process. In production every function instance
 * keeps its own, so a user whose streams land on N instances may hold up to
 * N × the cap: the cap protects an instance, not the whole platform. Keeping
 * the counts in Firestore would cost two writes per stream and leave counts
 * behind when an instance dies with streams open.
 */
import type { ServerResponse } from 'node:http';
import type { StreamsConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { openSse, type SseStream } from './sse.ts';

export interface StreamGate {
  /** Takes one of `uid`'s slots, or throws 429 `rate_limited` with Retry-After; call the returned function once the stream ended. */
  enter(uid: string): () => void;
  /** How many streams `uid` holds open now. */
  count(uid: string): number;
}

export function createStreamGate(limits: Pick<StreamsConfig, 'perUser' | 'deadlineMs'>, now: () => number = Date.now): StreamGate {
  /** The opening times of each user's open streams, oldest first. */
  const open = new Map<string, number[]>();
  return {
    enter(uid) {
      const times = open.get(uid) ?? [];
      if (times.length >= limits.perUser) {
        // The oldest stream ends at its deadline at the latest: by then a slot is certainly free.
        const seconds = Math.max(1, Math.ceil((times[0] + limits.deadlineMs - now()) / 1000));
        throw new AppError(
          'rate_limited',
          `You have ${times.length} streams open, the most one account may hold at once; close one (another tab or a running \`tenantplane events\`) or try again in ${seconds} s.`,
          { limit: limits.perUser, open: times.length },
        ).withHeader('Retry-After', String(seconds));
      }
      const opened = now();
      times.push(opened);
      open.set(uid, times);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const index = times.indexOf(opened);
        if (index >= 0) times.splice(index, 1);
        if (times.length === 0) open.delete(uid);
      };
    },
    count: (uid) => open.get(uid)?.length ?? 0,
  };
}

/**
 * Opens an SSE answer with the configured heartbeat and deadline, and gives
 * the caller's slot back (`release`, from `gate.enter`) once it closes. Take
 * the slot before any work, so a caller over the cap gets a plain JSON 429.
 */
export function openLimitedSse(res: ServerResponse, release: () => void, limits: StreamsConfig): SseStream {
  const sse = openSse(res, { heartbeatMs: limits.heartbeatMs, deadlineMs: limits.deadlineMs });
  void sse.closed.then(release);
  return sse;
}
