/**
 * Per-user projects end to end (R-PROJECTS-1/2) through the gateway, on the
 * local runtime: real Auth-emulator users, real Firestore, real agent processes.
 */
import test from 'ava';
import type { LocalDriver } from '../shared/runtime/index.ts';
import { projectRef } from '../shared/projects/names.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let alice: TestUser;
let bob: TestUser;
let admin: TestUser;
test.before(async () => {
  stack = await startTestStack({ tasks: false });
  [alice, bob, admin] = await Promise.all([
    createTestUser(stack.deps),
    createTestUser(stack.deps),
    createTestUser(stack.deps, { role: 'admin' }),
  ]);
});
test.after.always(async () => {
  await (stack?.deps.runtime() as LocalDriver | undefined)?.stopAll();
  await stack?.close();
});

const SPEC_FIELDS = [
  'created_at',
  'deployment',
  'endpoint',
  'ingress',
  'name',
  'namespace',
  'project_id',
  'service',
  'status',
  'updated_at',
  'user_id',
];
const base = (user: TestUser) => `/api/v1/users/${user.uid}/projects`;
const call = (method: string, path: string, user: TestUser | undefined, json?: unknown) =>
  stack.fetch(path, { method, token: user?.token, json });

async function createProject(owner: TestUser, projectId: string, by = owner) {
  const res = await call('POST', base(owner), by, { project_id: projectId, name: `Agent ${projectId}` });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${JSON.stringify(body)}`);
  return body.project;
}

/** Reads an SSE response read by read, noting which reads carried which text. */
async function readChunks(res: Response): Promise<string[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const reads: string[] = [];
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) reads.push(decoder.decode(chunk.value, { stream: true }));
  return reads;
}

// Lifecycle

test.serial('a new project is inactive, carries exactly the SPEC fields and the Kubernetes names', async (t) => {
  const project = await createProject(alice, 'helper');
  t.deepEqual(Object.keys(project).sort(), SPEC_FIELDS);
  t.like(project, {
    user_id: alice.uid,
    project_id: 'helper',
    name: 'Agent helper',
    status: 'inactive',
    endpoint: null,
    deployment: 'proj-helper-api',
    service: 'proj-helper-api',
    ingress: 'proj-helper-api',
  });
  t.regex(project.namespace, /^user-[a-z0-9-]+$/);
  const got = await (await call('GET', `${base(alice)}/helper`, alice)).json();
  t.deepEqual(got.project, project);
});

test.serial('a duplicate id is a conflict, and bad input is refused without storing anything', async (t) => {
  t.is((await call('POST', base(alice), alice, { project_id: 'helper' })).status, 409);
  for (const bad of [
    {},
    { project_id: 'X' },
    { project_id: 'ends-' },
    { project_id: '9lives' },
    { project_id: 'ok-id', extra: 1 },
    { project_id: 'ok-id', name: '' },
  ]) {
    const res = await call('POST', base(alice), alice, bad);
    t.is(res.status, 400, JSON.stringify(bad));
    t.is((await res.json()).error.code, 'validation_failed');
  }
  const { projects } = await (await call('GET', base(alice), alice)).json();
  t.deepEqual(
    projects.map((p: { project_id: string }) => p.project_id),
    ['helper'],
  );
});

test.serial('a project created with only a name gets an id made from it', async (t) => {
  const res = await call('POST', base(alice), alice, { name: 'Sales Bot 2' });
  t.is(res.status, 201);
  t.like((await res.json()).project, { project_id: 'sales-bot-2', name: 'Sales Bot 2', deployment: 'proj-sales-bot-2-api' });
  t.is((await call('POST', base(alice), alice, { name: '!!' })).status, 400);
  t.is((await call('DELETE', `${base(alice)}/sales-bot-2`, alice)).status, 204);
});

test.serial('talking to an inactive project is a conflict that says to activate it', async (t) => {
  const res = await call('POST', `${base(alice)}/helper/messages`, alice, { message: 'hello' });
  t.is(res.status, 409);
  t.regex((await res.json()).error.message, /inactive.*activate/);
});

test.serial('activating starts the environment and stores an endpoint that answers', async (t) => {
  const res = await call('POST', `${base(alice)}/helper/activate`, alice);
  const { project } = await res.json();
  t.is(res.status, 200, JSON.stringify(project));
  t.is(project.status, 'active');
  t.regex(project.endpoint, /^http:\/\//);
  const health = await fetch(`${project.endpoint}/health`);
  t.is(health.status, 200);
  t.is((await health.json()).tenantId, 'helper');
});

test.serial("the agent's answer streams back in several chunks, the first arriving before the agent has finished", async (t) => {
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
  // On the api function's own URL, as the pages open it: Hosting would hand the answer over only at its end.
  const res = await fetch(`${stack.streamUrl}${base(alice)}/helper/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${alice.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: words.join(' ') }),
  });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reads = await readChunks(res);
  // The agent writes one word every 50 ms (about 2.5 s in all); a buffering proxy would deliver it in one read at the end.
  t.true(reads.length > 1, `expected several reads, got ${reads.length}`);
  t.false(reads[0].includes('event: done'), 'the first read already held the end of the stream');
  const text = reads.join('');
  const deltas = [...text.matchAll(/^data: (\{"delta".*\})$/gm)].map((m) => JSON.parse(m[1]).delta).join('');
  t.true(deltas.endsWith(`You said: ${words.join(' ')}`), deltas);
  t.regex(text, /event: done/);
});

test.serial('deactivating stops the environment: its endpoint no longer answers and messages are refused', async (t) => {
  const { project: before } = await (await call('GET', `${base(alice)}/helper`, alice)).json();
  const res = await call('POST', `${base(alice)}/helper/deactivate`, alice);
  const { project } = await res.json();
  t.is(res.status, 200);
  t.like(project, { status: 'inactive', endpoint: null });
  // The agent is stopped: its address answers only the paused page.
  t.is((await fetch(`${before.endpoint}/health`)).status, 503);
  t.is((await call('POST', `${base(alice)}/helper/messages`, alice, { message: 'hello' })).status, 409);
  t.is((await call('POST', `${base(alice)}/helper/deactivate`, alice)).status, 200, 'deactivating twice is fine');
});

test.serial('renaming with PUT changes the name only; read-only fields are refused', async (t) => {
  const res = await call('PUT', `${base(alice)}/helper`, alice, { name: 'Support agent' });
  t.is(res.status, 200);
  t.is((await res.json()).project.name, 'Support agent');
  const bad = await call('PUT', `${base(alice)}/helper`, alice, { name: 'x', status: 'active' });
  t.is(bad.status, 400);
  t.is((await (await call('GET', `${base(alice)}/helper`, alice)).json()).project.status, 'inactive');
  t.is((await call('PUT', `${base(alice)}/nope`, alice, { name: 'x' })).status, 404);
});

test.serial('deleting removes the environment and the record, and is safe to repeat', async (t) => {
  t.is((await call('POST', `${base(alice)}/helper/activate`, alice)).status, 200);
  t.is((await call('DELETE', `${base(alice)}/helper`, alice)).status, 204);
  t.is((await call('GET', `${base(alice)}/helper`, alice)).status, 404);
  t.is((await stack.deps.runtime().status(projectRef(alice.uid, 'helper'))).state, 'absent');
  t.is((await call('DELETE', `${base(alice)}/helper`, alice)).status, 204);
  t.is((await call('POST', `${base(alice)}/helper/activate`, alice)).status, 404);
});

// Ownership

test.serial("users cannot see or touch each other's projects; admins can", async (t) => {
  await createProject(alice, 'private');
  for (const [method, path] of [
    ['GET', base(alice)],
    ['GET', `${base(alice)}/private`],
    ['POST', `${base(alice)}/private/activate`],
    ['DELETE', `${base(alice)}/private`],
    ['POST', `${base(alice)}/private/messages`],
  ]) {
    t.is((await call(method, path, bob, method === 'POST' ? { message: 'x' } : undefined)).status, 403, `${method} ${path}`);
  }
  const { projects } = await (await call('GET', base(bob), bob)).json();
  t.deepEqual(projects, []);
  t.is((await call('GET', `${base(alice)}/private`, admin)).status, 200);
  t.is((await createProject(alice, 'by-admin', admin)).user_id, alice.uid);
  t.is((await call('POST', '/api/v1/users/no-such-user/projects', admin, { project_id: 'orphan' })).status, 404);
});

test.serial("a project id another user holds is taken, since it names the project's environment", async (t) => {
  const res = await call('POST', base(bob), bob, { project_id: 'private' });
  t.is(res.status, 409);
  t.regex((await res.json()).error.message, /taken/);
});

test.serial("listing pages through a user's projects", async (t) => {
  const first = await (await call('GET', `${base(alice)}?pageSize=1`, alice)).json();
  t.is(first.projects.length, 1);
  t.truthy(first.nextPageToken);
  const second = await (await call('GET', `${base(alice)}?pageSize=1&pageToken=${first.nextPageToken}`, alice)).json();
  t.is(second.projects.length, 1);
  t.not(second.projects[0].project_id, first.projects[0].project_id);
  t.is(second.nextPageToken, undefined);
});
