/**
 * The CloudTasks RPCs over the store and dispatcher, transport-free: each
 * method takes the request as a plain object (proto-loader shape) and
 * returns the response object or throws an ApiError. The gRPC service and
 * the REST transcoder both call these.
 */
import { ApiError } from './api-error.ts';
import { queueToApi, readView, taskToApi } from './convert.ts';
import type { Dispatcher } from './dispatcher.ts';
import { checkLocationName, checkQueueName, checkTaskName, locationOf, type QueueRecord, type TaskRecord } from './model.ts';
import { decodePageToken, encodePageToken, parseQueueFilter, readPageSize } from './paging.ts';
import { createQueueRecord, updateQueueRecord, type QueueInput } from './queue-settings.ts';
import { createTaskRecord, type TaskInput } from './task-input.ts';
import type { TaskStore } from './store.ts';

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Res = Record<string, unknown>;

const notFound = (kind: string, name: string): ApiError =>
  new ApiError('NOT_FOUND', `Requested entity was not found: ${kind} "${name}" does not exist.`);

/** The RPC implementations, keyed by method name as in the proto service. */
export class TasksApi {
  constructor(
    private readonly store: TaskStore,
    private readonly dispatcher: Dispatcher,
    private readonly dedupWindowMs: number,
  ) {}

  private queue(name: unknown, field = 'name'): QueueRecord {
    const queueName = checkQueueName(name, field);
    const queue = this.store.queues.get(queueName);
    if (!queue) throw notFound('queue', queueName);
    return queue;
  }

  private task(name: unknown): { queue: QueueRecord; task: TaskRecord } {
    const parsed = checkTaskName(name);
    const queue = this.queue(parsed.queue);
    const task = this.store.getTask(name as string);
    if (!task) throw notFound('task', name as string);
    return { queue, task };
  }

  async ListQueues(req: Req): Promise<Res> {
    const parent = checkLocationName(req.parent);
    const pageSize = readPageSize(req.pageSize, 9800);
    const matches = parseQueueFilter(req.filter ?? '');
    const after = decodePageToken(req.pageToken ?? '', parent);
    const all = [...this.store.queues.values()]
      .filter((q) => locationOf(q.name) === parent && matches(q) && (after === undefined || q.name > after))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const page = all.slice(0, pageSize);
    const more = all.length > pageSize;
    return { queues: page.map(queueToApi), nextPageToken: more ? encodePageToken(parent, page[page.length - 1].name) : '' };
  }

  async GetQueue(req: Req): Promise<Res> {
    return queueToApi(this.queue(req.name));
  }

  async CreateQueue(req: Req): Promise<Res> {
    const parent = checkLocationName(req.parent);
    const input = (req.queue ?? {}) as QueueInput;
    const name = checkQueueName(input.name, 'queue.name');
    if (locationOf(name) !== parent) {
      throw new ApiError('INVALID_ARGUMENT', `The queue name "${name}" is not in the parent location "${parent}".`);
    }
    if (this.store.queues.has(name)) throw new ApiError('ALREADY_EXISTS', `Requested entity already exists: queue "${name}".`);
    const queue = createQueueRecord(name, input);
    this.store.putQueue(queue);
    await this.store.commit();
    return queueToApi(queue);
  }

  async UpdateQueue(req: Req): Promise<Res> {
    const input = (req.queue ?? {}) as QueueInput;
    const name = checkQueueName(input.name, 'queue.name');
    const existing = this.store.queues.get(name);
    // UpdateQueue documents "create or update": a missing queue is created.
    const base = existing ?? createQueueRecord(name, {});
    const next = updateQueueRecord(base, input, (req.updateMask?.paths ?? []) as string[]);
    this.store.putQueue(next);
    this.dispatcher.resetQueue(name);
    this.dispatcher.kick();
    await this.store.commit();
    return queueToApi(next);
  }

  async DeleteQueue(req: Req): Promise<Res> {
    const queue = this.queue(req.name);
    this.store.removeQueue(queue.name);
    this.dispatcher.resetQueue(queue.name);
    await this.store.commit();
    return {};
  }

  async PurgeQueue(req: Req): Promise<Res> {
    const queue = this.queue(req.name);
    const now = Date.now();
    for (const task of [...this.store.tasksOf(queue.name).values()]) {
      if (task.createTimeMs <= now) this.store.removeTask(task, now + this.dedupWindowMs);
    }
    queue.purgeTimeMs = now;
    await this.store.commit();
    return queueToApi(queue);
  }

  async PauseQueue(req: Req): Promise<Res> {
    return this.setState(req.name, 'PAUSED');
  }

  async ResumeQueue(req: Req): Promise<Res> {
    return this.setState(req.name, 'RUNNING');
  }

  private async setState(name: unknown, state: 'PAUSED' | 'RUNNING'): Promise<Res> {
    const queue = this.queue(name);
    if (queue.state === 'DISABLED') {
      throw new ApiError('FAILED_PRECONDITION', `Queue "${queue.name}" is DISABLED; a disabled queue cannot be paused or resumed.`);
    }
    queue.state = state;
    this.dispatcher.kick();
    await this.store.commit();
    return queueToApi(queue);
  }

  async ListTasks(req: Req): Promise<Res> {
    const queue = this.queue(req.parent, 'parent');
    const view = readView(req.responseView);
    const pageSize = readPageSize(req.pageSize, 1000);
    const after = decodePageToken(req.pageToken ?? '', queue.name);
    const all = [...this.store.tasksOf(queue.name).values()]
      .filter((t) => after === undefined || t.name > after)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const page = all.slice(0, pageSize);
    const more = all.length > pageSize;
    return {
      tasks: page.map((t) => taskToApi(t, view)),
      nextPageToken: more ? encodePageToken(queue.name, page[page.length - 1].name) : '',
    };
  }

  async GetTask(req: Req): Promise<Res> {
    return taskToApi(this.task(req.name).task, readView(req.responseView));
  }

  async CreateTask(req: Req): Promise<Res> {
    const queue = this.queue(req.parent, 'parent');
    const view = readView(req.responseView);
    const now = Date.now();
    const task = createTaskRecord(queue.name, req.task as TaskInput, now);
    if (this.store.getTask(task.name) || this.store.isReserved(task.name, now)) {
      throw new ApiError(
        'ALREADY_EXISTS',
        `Requested entity already exists: task "${task.name}" exists or was deleted or executed within the last ${Math.round(this.dedupWindowMs / 1000)}s (task names are reserved for that long).`,
      );
    }
    this.store.putTask(task);
    // Durable before acknowledging, so an accepted task survives a crash.
    await this.store.commit();
    this.dispatcher.kick();
    return taskToApi(task, view);
  }

  async DeleteTask(req: Req): Promise<Res> {
    const { task } = this.task(req.name);
    this.store.removeTask(task, Date.now() + this.dedupWindowMs);
    await this.store.commit();
    return {};
  }

  async RunTask(req: Req): Promise<Res> {
    const view = readView(req.responseView);
    const { queue, task } = this.task(req.name);
    // Documented: RunTask dispatches even when the queue is PAUSED, rate
    // limited, or the task is already running.
    this.dispatcher.forceDispatch(queue, task);
    return taskToApi(task, view);
  }
}

/** IAM methods of the service that the emulator does not model. */
export const UNIMPLEMENTED_METHODS = ['GetIamPolicy', 'SetIamPolicy', 'TestIamPermissions'];
