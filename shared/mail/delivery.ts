/**
 * After a commit added a message to the outbox: makes sure a task will deliver
 * it. With a batching window (MAIL_BATCH_MS, default 500 ms) every message of
 * one window shares one flush task, and an instance creates that task once per
 * window rather than once per message (issue 19: a Cloud Tasks call less on
 * nearly every signup); with 0 each message gets its own task.
 */
import type { Queue } from '../queue/client.ts';
import { mailFlushTask, outboxTask } from '../store/outbox.ts';

/** The windows whose flush task this instance created (or is creating), per queue: a test process holds several platforms. */
const flushes = new WeakMap<Queue, Map<number, Promise<unknown>>>();

/**
 * Call once the message is committed. Skipping the enqueue is safe only
 * because of that order: the window's task runs after the window closes, so
 * it sees every message committed while the window was open. Throws when the
 * queue refused; the message then waits for the outbox sweeper.
 */
export async function requestMailDelivery(queue: Queue, outboxId: string, batchWindowMs: number): Promise<void> {
  if (batchWindowMs === 0) {
    const task = outboxTask(outboxId);
    await queue.enqueue(task.queue, task.options);
    return;
  }
  const task = mailFlushTask(Date.now(), batchWindowMs);
  let windows = flushes.get(queue);
  if (!windows) flushes.set(queue, (windows = new Map()));
  let creating = windows.get(task.window);
  if (!creating) {
    const known = windows;
    creating = queue.enqueue(task.queue, task.options).catch((err) => {
      known.delete(task.window);
      throw err;
    });
    known.set(task.window, creating);
    for (const window of known.keys()) if (window < task.window - 2) known.delete(window);
  }
  await creating;
}
