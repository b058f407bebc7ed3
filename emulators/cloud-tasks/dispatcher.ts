/**
 * Decides when each task is attempted: due tasks of RUNNING queues go out in
 * schedule order through a token bucket (max_dispatches_per_second refill,
 * max_burst_size capacity) and a max_concurrent_dispatches cap, as
 * documented for google.cloud.tasks.v2.RateLimits. Results update the task
 * (counts, attempts, next schedule_time per RetryConfig) or delete it.
 */
import { setMaxListeners } from 'node:events';
import { codeForHttpStatus, Code } from './api-error.ts';
import { buildDispatchHeaders, createDispatchAgents, sendAttempt, type AttemptOutcome } from './http-attempt.ts';
import { refusalFor } from './private-targets.ts';
import { shortId, type AttemptRecord, type QueueRecord, type TaskRecord } from './model.ts';
import { computeBackoffMs, shouldRetry } from './retry-math.ts';
import type { TaskStore } from './store.ts';

/** One log line per dispatch attempt. */
export interface DispatchLogLine {
  queue: string;
  task: string;
  attempt: number;
  status: number | 'deadline-exceeded' | 'unreachable' | 'aborted';
  ms: number;
  outcome: 'done' | 'retry' | 'gave-up' | 'gone' | 'interrupted';
  nextAttemptInMs?: number;
  reason?: string;
}

export interface DispatcherOptions {
  store: TaskStore;
  dedupWindowMs: number;
  log: (line: DispatchLogLine) => void;
  /** Function URLs that refuse a call without an OIDC token for exactly that URL (see private-targets.ts). */
  privateTargets?: readonly string[];
}

interface Bucket {
  tokens: number;
  at: number;
}

// Longest single timer; the loop simply re-plans when it fires.
const MAX_SLEEP_MS = 60_000;

/** Runs the dispatch loop over a {@link TaskStore}. */
export class Dispatcher {
  private readonly buckets = new Map<string, Bucket>();
  private readonly inFlightByQueue = new Map<string, number>();
  private readonly runningTasks = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private readonly agents = createDispatchAgents();
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;

  constructor(private readonly options: DispatcherOptions) {
    // Every in-flight attempt listens for shutdown; up to 5000 per queue is normal.
    setMaxListeners(0, this.shutdown.signal);
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (this.kicked || this.shutdown.signal.aborted) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.tick();
    });
  }

  /** Forgets rate-limit state of a deleted or updated queue. */
  resetQueue(queueName: string): void {
    this.buckets.delete(queueName);
  }

  /** Whether an attempt of this task is under way. */
  isRunning(taskName: string): boolean {
    return (this.runningTasks.get(taskName) ?? 0) > 0;
  }

  /** RunTask: dispatch now, ignoring pause, rate limits and running attempts. */
  forceDispatch(queue: QueueRecord, task: TaskRecord): void {
    this.dispatch(queue, task, true);
  }

  /** Stops the loop, aborts in-flight attempts (their tasks stay queued) and waits for them. */
  async close(): Promise<void> {
    this.shutdown.abort();
    clearTimeout(this.timer);
    await Promise.allSettled([...this.pending]);
    this.agents.destroy();
  }

  private takeToken(queue: QueueRecord, now: number): number {
    const { maxDispatchesPerSecond: rate, maxBurstSize: burst } = queue.rateLimits;
    const bucket = this.buckets.get(queue.name) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(queue.name, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rate) * 1000);
  }

  private tick(): void {
    if (this.shutdown.signal.aborted) return;
    const now = Date.now();
    let wakeAt = now + MAX_SLEEP_MS;
    for (const queue of this.options.store.queues.values()) {
      if (queue.state !== 'RUNNING') continue;
      const due: TaskRecord[] = [];
      for (const task of this.options.store.tasksOf(queue.name).values()) {
        if (this.isRunning(task.name)) continue;
        if (task.scheduleTimeMs <= now) due.push(task);
        else wakeAt = Math.min(wakeAt, task.scheduleTimeMs);
      }
      due.sort((a, b) => a.scheduleTimeMs - b.scheduleTimeMs);
      for (const task of due) {
        // A completion kicks the loop, so a full queue needs no timer.
        if ((this.inFlightByQueue.get(queue.name) ?? 0) >= queue.rateLimits.maxConcurrentDispatches) break;
        const waitMs = this.takeToken(queue, now);
        if (waitMs > 0) {
          wakeAt = Math.min(wakeAt, now + waitMs);
          break;
        }
        this.dispatch(queue, task, false);
      }
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), Math.max(0, wakeAt - Date.now()));
  }

  private dispatch(queue: QueueRecord, task: TaskRecord, forced: boolean): void {
    const now = Date.now();
    const headers = buildDispatchHeaders(queue.name, task, now);
    const attempt: AttemptRecord = { scheduleTimeMs: task.scheduleTimeMs, dispatchTimeMs: now };
    task.dispatchCount += 1;
    task.firstAttempt ??= { dispatchTimeMs: now };
    task.lastAttempt = attempt;
    const attemptNumber = task.dispatchCount;
    this.count(this.inFlightByQueue, queue.name, 1);
    this.count(this.runningTasks, task.name, 1);
    this.options.store.changed();
    const refusal = refusalFor(task.http, this.options.privateTargets ?? []);
    const work = (refusal ? Promise.resolve(refusal) : sendAttempt(task, headers, this.agents, this.shutdown.signal))
      .then((outcome) => this.settle(queue.name, task, attempt, attemptNumber, outcome, forced ? now : Date.now(), now))
      .finally(() => {
        this.count(this.inFlightByQueue, queue.name, -1);
        this.count(this.runningTasks, task.name, -1);
        this.pending.delete(work);
        this.kick();
      });
    this.pending.add(work);
  }

  private count(map: Map<string, number>, key: string, delta: number): void {
    const next = (map.get(key) ?? 0) + delta;
    if (next > 0) map.set(key, next);
    else map.delete(key);
  }

  private settle(
    queueName: string,
    task: TaskRecord,
    attempt: AttemptRecord,
    attemptNumber: number,
    outcome: AttemptOutcome,
    retryBase: number,
    startedAt: number,
  ): void {
    const now = Date.now();
    const { store, log, dedupWindowMs } = this.options;
    const line: DispatchLogLine = {
      queue: shortId(queueName),
      task: shortId(task.name),
      attempt: attemptNumber,
      status: outcome.kind === 'response' ? outcome.status : outcome.kind,
      ms: now - startedAt,
      outcome: 'done',
    };
    if (outcome.kind === 'aborted') {
      // Server shutting down: the task stays as it is and is attempted after restart.
      log({ ...line, outcome: 'interrupted' });
      return;
    }
    const queue = store.queues.get(queueName);
    if (!queue || store.getTask(task.name) !== task) {
      log({ ...line, outcome: 'gone' });
      return;
    }
    attempt.responseTimeMs = now;
    if (outcome.kind === 'response') {
      task.responseCount += 1;
      if (outcome.status < 500) task.executionCount += 1;
      attempt.responseStatus = { code: codeForHttpStatus(outcome.status), message: `HTTP status ${outcome.status}` };
      if (outcome.status >= 200 && outcome.status < 300) {
        store.removeTask(task, now + dedupWindowMs);
        store.changed();
        log(line);
        return;
      }
      task.previousHttpStatus = outcome.status;
      task.previousFailure = `HTTP status ${outcome.status}`;
    } else if (outcome.kind === 'deadline-exceeded') {
      attempt.responseStatus = {
        code: Code.DEADLINE_EXCEEDED,
        message: `No response within the dispatch deadline of ${task.dispatchDeadlineMs / 1000}s`,
      };
      task.previousHttpStatus = undefined;
      task.previousFailure = 'Deadline exceeded';
    } else {
      attempt.responseStatus = { code: Code.UNAVAILABLE, message: `Target unreachable: ${outcome.message}` };
      task.previousHttpStatus = undefined;
      task.previousFailure = `Target unreachable: ${outcome.message}`;
    }
    const firstMs = task.firstAttempt?.dispatchTimeMs ?? startedAt;
    if (!shouldRetry(queue.retryConfig, task.dispatchCount, firstMs, now)) {
      store.removeTask(task, now + dedupWindowMs);
      store.changed();
      log({ ...line, outcome: 'gave-up', reason: task.previousFailure });
      return;
    }
    const delay = computeBackoffMs(queue.retryConfig, task.dispatchCount);
    task.scheduleTimeMs = retryBase + delay;
    store.changed();
    log({ ...line, outcome: 'retry', nextAttemptInMs: Math.max(0, task.scheduleTimeMs - now), reason: task.previousFailure });
  }
}
