/**
 * What a project does when its environment will not start: the activation is
 * bounded, answers 504 with what to do, leaves the record `failed` and no
 * workload running, and the project can still be deleted.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../shared/auth/principal.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { AppError } from '../shared/errors.ts';
import { projectRef } from '../shared/projects/names.ts';
import { createProjectService, type ProjectService } from '../shared/projects/service.ts';
import { createLocalDriver, type LocalDriver } from '../shared/runtime/index.ts';
import { allocatePorts } from '../testing/ports.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';

let stack: TestStack;
let deps: Deps;
let driver: LocalDriver;
let projects: ProjectService;
let dataDir: string;
const user: Principal = { uid: 'u-failures', email: 'f@example.com', role: 'tenant' };

test.before(async () => {
  stack = await startTestStack({ tasks: false, env: { PROVISION_READY_TIMEOUT_MS: '1500' } });
  dataDir = mkdtempSync(join(tmpdir(), 'tp-projects-failures-'));
  // A workload that runs but never answers its health check: activation can only time out.
  driver = createLocalDriver({
    dataDir,
    portRange: await allocatePorts(20),
    command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    startTimeoutMs: 1500,
    stopTimeoutMs: 1000,
  });
  deps = createDeps(stack.config, { db: stack.deps.db, runtime: () => driver });
  projects = createProjectService(deps);
});
test.after.always(async () => {
  await driver?.stopAll();
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

// Activation that cannot finish

test.serial('an environment that never becomes ready is a 504 that says how to retry, and the project is marked failed', async (t) => {
  await projects.create(user, user.uid, { project_id: 'stuck' });
  const error = await t.throwsAsync(projects.activate(user, user.uid, 'stuck'), { instanceOf: AppError });
  t.is(error?.status, 504);
  t.regex(error!.message, /did not become ready within 2 s .*retry with POST \/api\/v1\/users\/u-failures\/projects\/stuck\/activate/);
  const record = await projects.get(user, user.uid, 'stuck');
  t.like(record, { status: 'failed', endpoint: null });
  // The record says nothing runs, and nothing does: the environment is stopped, not merely "not running yet".
  t.like(await driver.status(projectRef(user.uid, 'stuck')), { state: 'stopped', ready: false });
});

test.serial('a failed project refuses messages and can still be deleted', async (t) => {
  const error = await t.throwsAsync(projects.messagesEndpoint(user, user.uid, 'stuck'), { instanceOf: AppError });
  t.is(error?.status, 409);
  await projects.remove(user, user.uid, 'stuck');
  await t.throwsAsync(projects.get(user, user.uid, 'stuck'), { message: /not found/ });
  t.is((await driver.status(projectRef(user.uid, 'stuck'))).state, 'absent');
});

test.serial('the service itself refuses another user, whoever calls it', async (t) => {
  await projects.create(user, user.uid, { project_id: 'mine' });
  const other: Principal = { uid: 'u-other', role: 'tenant' };
  for (const attempt of [
    () => projects.get(other, user.uid, 'mine'),
    () => projects.activate(other, user.uid, 'mine'),
    () => projects.list(other, user.uid),
  ]) {
    const error = await t.throwsAsync(attempt(), { instanceOf: AppError });
    t.is(error?.status, 403);
  }
});
