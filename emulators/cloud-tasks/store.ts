/**
 * In-memory state of the emulator (queues, tasks, reserved task names) with
 * optional persistence to one JSON file. Writes are atomic (temp file +
 * rename) and debounced; `commit()` lets an RPC wait until its change is on
 * disk, so a task acknowledged by CreateTask survives even a hard kill.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { QueueRecord, TaskRecord } from './model.ts';

interface Snapshot {
  version: 1;
  queues: QueueRecord[];
  tasks: TaskRecord[];
  /** Task name -> time (ms) until which the name stays reserved. */
  tombstones: Record<string, number>;
}

/** Options for {@link openStore}. */
export interface StoreOptions {
  /** JSON file to load from and save to; omit for a memory-only store. */
  dataFile?: string;
  /** Delay that batches several changes into one write. */
  debounceMs?: number;
}

/** Queues, tasks and tombstones, kept per queue for cheap scheduling scans. */
export class TaskStore {
  readonly queues = new Map<string, QueueRecord>();
  readonly tasksByQueue = new Map<string, Map<string, TaskRecord>>();
  readonly tombstones = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private urgent = false;
  private queued: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(private readonly options: StoreOptions = {}) {}

  putQueue(queue: QueueRecord): void {
    this.queues.set(queue.name, queue);
    if (!this.tasksByQueue.has(queue.name)) this.tasksByQueue.set(queue.name, new Map());
  }

  removeQueue(name: string): void {
    this.queues.delete(name);
    this.tasksByQueue.delete(name);
  }

  tasksOf(queueName: string): Map<string, TaskRecord> {
    let tasks = this.tasksByQueue.get(queueName);
    if (!tasks) this.tasksByQueue.set(queueName, (tasks = new Map()));
    return tasks;
  }

  getTask(name: string): TaskRecord | undefined {
    return this.tasksByQueue.get(name.slice(0, name.indexOf('/tasks/')))?.get(name);
  }

  putTask(task: TaskRecord): void {
    this.tasksOf(task.name.slice(0, task.name.indexOf('/tasks/'))).set(task.name, task);
  }

  /** Removes a task; a caller-named task keeps its name reserved until `reserveUntilMs`. */
  removeTask(task: TaskRecord, reserveUntilMs: number): boolean {
    const removed = this.tasksByQueue.get(task.name.slice(0, task.name.indexOf('/tasks/')))?.delete(task.name) ?? false;
    if (removed && task.named && reserveUntilMs > Date.now()) this.tombstones.set(task.name, reserveUntilMs);
    return removed;
  }

  /** True while a deleted or executed task's name is still reserved. */
  isReserved(name: string, now: number): boolean {
    const until = this.tombstones.get(name);
    if (until === undefined) return false;
    if (until > now) return true;
    this.tombstones.delete(name);
    return false;
  }

  /** Loads the data file if it exists. */
  async load(): Promise<void> {
    if (!this.options.dataFile) return;
    let text: string;
    try {
      text = await readFile(this.options.dataFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(text) as Snapshot;
    } catch (error) {
      throw new Error(
        `Cloud Tasks data file ${this.options.dataFile} is not valid JSON (${(error as Error).message}); move it away to start empty.`,
      );
    }
    if (snapshot.version !== 1)
      throw new Error(`Cloud Tasks data file ${this.options.dataFile} has unknown version ${String(snapshot.version)}; expected 1.`);
    for (const queue of snapshot.queues) this.putQueue(queue);
    for (const task of snapshot.tasks) this.putTask(task);
    const now = Date.now();
    for (const [name, until] of Object.entries(snapshot.tombstones)) if (until > now) this.tombstones.set(name, until);
  }

  /** Notes a change; it is written after the debounce delay. */
  changed(): void {
    if (!this.options.dataFile || this.timer) return;
    this.timer = setTimeout(() => void this.writeNow().catch(() => undefined), this.options.debounceMs ?? 25);
  }

  /** Notes a change and resolves once it is on disk. */
  commit(): Promise<void> {
    if (!this.options.dataFile) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      // Someone is waiting: write on the next turn (still batching the
      // commits of concurrent RPCs) instead of after the debounce delay.
      if (!this.urgent) {
        this.urgent = true;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.writeNow().catch(() => undefined), 0);
      }
    });
  }

  /** Writes immediately (used on close). */
  async flush(): Promise<void> {
    if (this.options.dataFile) await this.writeNow();
  }

  private writeNow(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.urgent = false;
    const waiters = this.waiters;
    this.waiters = [];
    // Writes run one at a time so an older snapshot never renames over a
    // newer one; at most one more waits behind the running one, and it takes
    // its snapshot when it starts, so a slow disk cannot build a backlog.
    if (!this.queued) {
      this.queued = this.writing
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.writeSnapshot();
        });
      this.writing = this.queued;
    }
    const write = this.queued;
    write.then(
      () => waiters.forEach((w) => w.resolve()),
      (e) => waiters.forEach((w) => w.reject(e)),
    );
    return write;
  }

  private async writeSnapshot(): Promise<void> {
    const file = this.options.dataFile!;
    const now = Date.now();
    const tombstones: Record<string, number> = {};
    for (const [name, until] of this.tombstones) {
      if (until > now) tombstones[name] = until;
      else this.tombstones.delete(name);
    }
    const snapshot: Snapshot = {
      version: 1,
      queues: [...this.queues.values()],
      tasks: [...this.tasksByQueue.values()].flatMap((tasks) => [...tasks.values()]),
      tombstones,
    };
    const text = JSON.stringify(snapshot);
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    // Tasks carry their payloads and headers (a shared secret among them): the owner's alone.
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, file);
  }
}

/** Creates a store and loads its data file, if any. */
export async function openStore(options: StoreOptions = {}): Promise<TaskStore> {
  const store = new TaskStore(options);
  await store.load();
  return store;
}
