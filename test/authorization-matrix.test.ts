/**
 * The authorization matrix (R-AUTH-2): every endpoint × {no token, bad token,
 * tenant owner, tenant non-owner, admin}. Routes come from the API's own route
 * table (plus the separately deployed functions that authorize callers:
 * chat, billing-aggregate); the expectation comes from each route's rule.
 *
 * `MATRIX` below is the security contract written out by hand: a new route
 * fails this test until it is added here, and a route whose action is missing
 * from POLICY, or whose POLICY rule differs from the one written here, fails too.
 */
import test from 'ava';
import { apiRoutes } from '../functions/api/handler.ts';
import { functionHandlers } from '../functions/registry.ts';
import { POLICY, type Rule } from '../shared/auth/authorize.ts';
import type { LocalDriver } from '../shared/runtime/index.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

const T = '/api/v1/tenants/:id';
const P = '/api/v1/users/:uid/projects/:projectId';

/** Who may call what. Keep in step with SPEC §2–§6; a change here is a change of the security contract. */
const MATRIX: Record<string, Rule> = {
  'GET /api/health': 'public',
  'GET /api/config': 'public',
  'GET /api/v1/plans': 'public',
  'POST /api/v1/webhooks/:provider': 'public',
  'POST /api/v1/tenants': 'user',
  'GET /api/v1/tenants': 'user',
  'POST /api/v1/checkout': 'user',
  'GET /api/v1/audit': 'user',
  [`GET ${T}`]: 'owner',
  [`PATCH ${T}`]: 'owner',
  [`DELETE ${T}`]: 'owner',
  [`POST ${T}/suspend`]: 'owner',
  [`POST ${T}/resume`]: 'owner',
  [`POST ${T}/restart`]: 'owner',
  [`POST ${T}/retry-provision`]: 'owner',
  [`POST ${T}/restore`]: 'owner',
  [`GET ${T}/status`]: 'owner',
  [`GET ${T}/environments`]: 'owner',
  [`POST ${T}/environments/:env/reset`]: 'owner',
  [`POST ${T}/deploy`]: 'owner',
  [`GET ${T}/registry-token`]: 'owner',
  [`GET ${T}/logs`]: 'owner',
  [`GET ${T}/logs/stream`]: 'owner',
  [`GET ${T}/metrics`]: 'owner',
  [`GET ${T}/metrics/history`]: 'owner',
  [`GET ${T}/events`]: 'owner',
  [`GET ${T}/secrets`]: 'owner',
  [`POST ${T}/secrets/:key`]: 'owner',
  [`GET ${T}/secrets/:key`]: 'owner',
  [`PATCH ${T}/secrets/:key`]: 'owner',
  [`DELETE ${T}/secrets/:key`]: 'owner',
  [`GET ${T}/credentials/:token`]: 'owner',
  [`POST ${T}/rotate-credentials`]: 'owner',
  [`GET ${T}/billing`]: 'owner',
  [`GET ${T}/backups`]: 'owner',
  [`POST ${T}/backups`]: 'owner',
  [`POST ${T}/backups/:backupId/restore`]: 'owner',
  [`GET ${T}/exports`]: 'owner',
  [`POST ${T}/exports`]: 'owner',
  [`GET ${T}/exports/:exportId/download`]: 'owner',
  'GET /api/v1/users': 'admin',
  'GET /api/v1/fleet': 'admin',
  'GET /api/v1/users/:uid': 'owner',
  'PATCH /api/v1/users/:uid': 'admin',
  'GET /api/v1/users/:uid/projects': 'owner',
  'POST /api/v1/users/:uid/projects': 'owner',
  [`GET ${P}`]: 'owner',
  [`PUT ${P}`]: 'owner',
  [`DELETE ${P}`]: 'owner',
  [`POST ${P}/activate`]: 'owner',
  [`POST ${P}/deactivate`]: 'owner',
  [`POST ${P}/messages`]: 'owner',
  'POST /api/v1/device/code': 'public',
  'POST /api/v1/device/token': 'public',
  'POST /api/v1/device/approve': 'user',
  'POST /api/v1/device/deny': 'user',
  'POST /api/v1/session/revoke': 'user',
  'POST /api/v1/images': 'admin',
  'GET /api/v1/images': 'admin',
  'POST /api/v1/releases': 'admin',
  'GET /api/v1/releases': 'admin',
  'POST /api/v1/rollouts': 'admin',
  'GET /api/v1/rollouts': 'admin',
  'GET /api/v1/rollouts/:rolloutId': 'admin',
  'POST /api/v1/rollouts/:rolloutId/pause': 'admin',
  'POST /api/v1/rollouts/:rolloutId/resume': 'admin',
  'POST /api/v1/rollouts/:rolloutId/cancel': 'admin',
  'POST /api/v1/rollouts/:rolloutId/rollback': 'admin',
  'GET /api/v1/rollouts/:rolloutId/events': 'admin',
  [`GET ${T}/release-settings`]: 'admin',
  [`PUT ${T}/release-settings`]: 'admin',
  // Separate functions, reached at their hosting paths.
  'POST /api/chat': 'user',
  'POST /api/billing/aggregate': 'admin',
};

/**
 * What an allowed caller gets for the matrix's sample request (an empty JSON
 * body, sample ids): the success status, or the documented 4xx for that input.
 * Operations on the sample tenant may meet it mid-provisioning, hence 202 or 409.
 */
const ALLOWED: Record<string, number[]> = {
  'GET /api/health': [200],
  'GET /api/config': [200],
  'GET /api/v1/plans': [200],
  // No payment provider is configured in the test stack: 503; configured, an unsigned body is 401.
  'POST /api/v1/webhooks/:provider': [401, 503],
  'POST /api/v1/tenants': [400],
  'GET /api/v1/tenants': [200],
  'POST /api/v1/checkout': [400],
  'GET /api/v1/audit': [200],
  [`GET ${T}`]: [200],
  [`PATCH ${T}`]: [200],
  [`DELETE ${T}`]: [202],
  [`POST ${T}/suspend`]: [202, 409],
  [`POST ${T}/resume`]: [202, 409],
  [`POST ${T}/restart`]: [202, 409],
  [`POST ${T}/retry-provision`]: [202, 409],
  // A tenant that is not deleted has nothing to restore; a deleted one within its grace period comes back.
  [`POST ${T}/restore`]: [202, 409],
  [`GET ${T}/status`]: [200],
  [`GET ${T}/environments`]: [200],
  [`POST ${T}/environments/:env/reset`]: [202, 409],
  [`POST ${T}/deploy`]: [400],
  [`GET ${T}/registry-token`]: [200],
  [`GET ${T}/logs`]: [200],
  [`GET ${T}/logs/stream`]: [200],
  [`GET ${T}/metrics`]: [200],
  [`GET ${T}/metrics/history`]: [200],
  [`GET ${T}/events`]: [200],
  [`GET ${T}/secrets`]: [200],
  [`POST ${T}/secrets/:key`]: [400],
  [`GET ${T}/secrets/:key`]: [404],
  [`PATCH ${T}/secrets/:key`]: [400],
  [`DELETE ${T}/secrets/:key`]: [404],
  [`GET ${T}/credentials/:token`]: [400],
  [`POST ${T}/rotate-credentials`]: [202, 409],
  [`GET ${T}/billing`]: [200],
  [`GET ${T}/backups`]: [200],
  // A backup starts (or waits for the tenant's running operation); an unknown backup is not found.
  [`POST ${T}/backups`]: [202, 409],
  [`POST ${T}/backups/:backupId/restore`]: [404],
  [`GET ${T}/exports`]: [200],
  // An export starts (or waits for the tenant's running operation); an unknown export is not found.
  [`POST ${T}/exports`]: [202, 409],
  [`GET ${T}/exports/:exportId/download`]: [404],
  'GET /api/v1/users': [200],
  'GET /api/v1/fleet': [200],
  'GET /api/v1/users/:uid': [200],
  'PATCH /api/v1/users/:uid': [400],
  'GET /api/v1/users/:uid/projects': [200],
  'POST /api/v1/users/:uid/projects': [400],
  [`GET ${P}`]: [200],
  [`PUT ${P}`]: [400],
  [`DELETE ${P}`]: [204],
  [`POST ${P}/activate`]: [200],
  [`POST ${P}/deactivate`]: [200],
  // An empty message to a project whose agent is not running.
  [`POST ${P}/messages`]: [400, 409],
  'POST /api/v1/device/code': [200],
  'POST /api/v1/device/token': [400],
  'POST /api/v1/device/approve': [400],
  'POST /api/v1/device/deny': [400],
  // Without {"sessions": "all"} nothing is revoked (the matrix's callers keep their tokens).
  'POST /api/v1/session/revoke': [400],
  'POST /api/chat': [400],
  'POST /api/billing/aggregate': [200],
  // The matrix sends JSON, not an archive.
  'POST /api/v1/images': [415],
  'GET /api/v1/images': [200],
  'POST /api/v1/releases': [400],
  'GET /api/v1/releases': [200],
  'POST /api/v1/rollouts': [400],
  'GET /api/v1/rollouts': [200],
  // The sample rollout id names no rollout.
  'GET /api/v1/rollouts/:rolloutId': [404],
  'POST /api/v1/rollouts/:rolloutId/pause': [404],
  'POST /api/v1/rollouts/:rolloutId/resume': [404],
  'POST /api/v1/rollouts/:rolloutId/cancel': [404],
  'POST /api/v1/rollouts/:rolloutId/rollback': [404],
  'GET /api/v1/rollouts/:rolloutId/events': [404],
  [`GET ${T}/release-settings`]: [200],
  [`PUT ${T}/release-settings`]: [200],
};

/** Functions outside the api route table that authorize callers with a POLICY action themselves. */
const FUNCTION_ROUTES = [
  { fn: 'chat', method: 'POST', path: '/api/chat', action: 'chat.use' },
  { fn: 'billing-aggregate', method: 'POST', path: '/api/billing/aggregate', action: 'billing.aggregate' },
] as const;

interface MatrixRoute {
  method: string;
  path: string;
  action: string;
}

let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
let admin: TestUser;
const params: Record<string, string> = {
  uid: '',
  id: '',
  projectId: 'matrix',
  env: 'test',
  key: 'MATRIX_KEY',
  token: 'a'.repeat(43),
  provider: 'stripe',
  rolloutId: 'ro-000000000000',
  backupId: 'b20260101000000-abcd-live',
  exportId: 'x20260101000000-abcd',
};

test.before(async () => {
  stack = await startTestStack();
  [owner, stranger, admin] = await Promise.all([
    createTestUser(stack.deps),
    createTestUser(stack.deps),
    createTestUser(stack.deps, { role: 'admin' }),
  ]);
  params.uid = owner.uid;
  const tenant = await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name: 'matrix' } });
  if (tenant.status !== 202) throw new Error(`creating the owner's tenant answered ${tenant.status}: ${await tenant.text()}`);
  params.id = (await tenant.json()).tenant.id;
  const project = await stack.fetch(`/api/v1/users/${owner.uid}/projects`, {
    method: 'POST',
    token: owner.token,
    json: { project_id: params.projectId },
  });
  if (project.status !== 201) throw new Error(`creating the owner's project answered ${project.status}: ${await project.text()}`);
});
test.after.always(async () => {
  if (stack && params.id) await waitUntilDeleted(params.id);
  await (stack?.deps.runtime() as LocalDriver | undefined)?.stopAll();
  await stack?.close();
});

/** The matrix deletes the tenant; its worker must finish before the stack's clients close under it. */
async function waitUntilDeleted(id: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const res = await stack.fetch(`/api/v1/tenants/${id}`, { token: admin.token }).catch(() => undefined);
    const state = res?.ok ? (await res.json()).tenant.state : res?.status;
    if (state === 'deleted' || state === 404 || state === 410) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const keyOf = (route: MatrixRoute) => `${route.method} ${route.path}`;

function routesUnderTest(): MatrixRoute[] {
  const api = apiRoutes(stack.deps).map(({ method, path, action }) => ({ method, path, action: action as string }));
  const functions = FUNCTION_ROUTES.filter((r) => r.fn in functionHandlers).map(({ method, path, action }) => ({
    method,
    path,
    action: action as string,
  }));
  return [...api, ...functions];
}

function fillPath(route: MatrixRoute): string {
  return route.path.replace(/:(\w+)/g, (_, name: string) => {
    if (!(name in params))
      throw new Error(`${keyOf(route)}: no sample value for :${name}; add one to params in test/authorization-matrix.test.ts`);
    return encodeURIComponent(params[name]);
  });
}

type Caller = 'no token' | 'bad token' | 'tenant owner' | 'tenant non-owner' | 'admin';
const CALLERS: Caller[] = ['no token', 'bad token', 'tenant non-owner', 'tenant owner', 'admin'];

function tokenOf(caller: Caller): string | undefined {
  return {
    'no token': undefined,
    'bad token': 'not-a-firebase-id-token',
    'tenant owner': owner.token,
    'tenant non-owner': stranger.token,
    admin: admin.token,
  }[caller];
}

/**
 * The status the rule demands, or the statuses it forbids for an allowed caller.
 * Another user's tenant answers 404, exactly like a tenant that does not exist (R-ISO-3).
 */
function expectationOf(rule: Rule, caller: Caller, route: MatrixRoute): { exactly: number } | { allowed: true } {
  if (rule === 'public') return { allowed: true };
  if (caller === 'no token' || caller === 'bad token') return { exactly: 401 };
  if (rule === 'user') return { allowed: true };
  if (rule === 'owner') return caller === 'tenant non-owner' ? { exactly: route.path.startsWith(T) ? 404 : 403 } : { allowed: true };
  return caller === 'admin' ? { allowed: true } : { exactly: 403 };
}

/**
 * Sends one request and returns its status; streaming answers (SSE) are cut off once the status is known.
 * The event and log streams go to the api function's own URL, as clients open it: through Hosting its status would wait for its end.
 */
async function statusOf(route: MatrixRoute, caller: Caller): Promise<number> {
  const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
  const init = { method: route.method, token: tokenOf(caller), json: hasBody ? {} : undefined, signal: AbortSignal.timeout(60_000) };
  const res = /\/(events|logs\/stream)$/.test(route.path)
    ? await fetch(stack.streamUrl + fillPath(route), {
        method: 'GET',
        headers: init.token ? { Authorization: `Bearer ${init.token}` } : {},
        signal: init.signal,
      })
    : await stack.fetch(fillPath(route), init);
  await res.body?.cancel().catch(() => undefined);
  return res.status;
}

// The contract

test.serial('every route has a rule in the matrix, its action is in POLICY, and POLICY gives it that rule', (t) => {
  const problems: string[] = [];
  const routes = routesUnderTest();
  for (const route of routes) {
    const key = keyOf(route);
    const rule = (POLICY as Record<string, Rule>)[route.action];
    if (!(key in MATRIX)) problems.push(`${key} is not in the authorization matrix: add it to MATRIX with the rule it must follow`);
    else if (!rule) problems.push(`${key} names action "${route.action}", which POLICY (shared/auth/authorize.ts) does not define`);
    else if (rule !== MATRIX[key])
      problems.push(`${key}: action "${route.action}" is "${rule}" in POLICY, but the matrix says "${MATRIX[key]}"`);
  }
  const keys = new Set(routes.map(keyOf));
  const unregistered = new Set<string>(FUNCTION_ROUTES.filter((r) => !(r.fn in functionHandlers)).map((r) => `${r.method} ${r.path}`));
  for (const key of Object.keys(MATRIX))
    if (!keys.has(key) && !unregistered.has(key)) problems.push(`${key} is in the matrix but no such route exists: remove it`);
  for (const key of Object.keys(MATRIX))
    if (!ALLOWED[key]) problems.push(`${key} has no entry in ALLOWED: add the status an allowed caller gets`);
  t.deepEqual(problems, []);
  t.true(routes.length >= Object.keys(MATRIX).length - unregistered.size);
});

// The behaviour

test.serial(
  "every route answers each caller as its rule says: 401 without a valid token, 403 for the wrong caller (404 for another user's tenant), the documented status for an allowed one, never 500",
  async (t) => {
    // Deletions last, so the other routes meet the tenant and the project while they exist.
    const routes = routesUnderTest().sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    const problems: string[] = [];
    let checked = 0;
    for (const route of routes) {
      const rule = MATRIX[keyOf(route)];
      if (!rule) continue; // reported by the contract test
      const statuses = new Map<Caller, number>();
      for (const caller of CALLERS) {
        const status = await statusOf(route, caller);
        statuses.set(caller, status);
        checked++;
        const expected = expectationOf(rule, caller, route);
        const label = `${keyOf(route)} (${rule}) × ${caller}`;
        if ('exactly' in expected && status !== expected.exactly) problems.push(`${label}: expected ${expected.exactly}, got ${status}`);
        if ('allowed' in expected && !(ALLOWED[keyOf(route)] ?? []).includes(status)) {
          problems.push(`${label}: expected ${(ALLOWED[keyOf(route)] ?? ['an entry in ALLOWED']).join(' or ')}, got ${status}`);
        }
        if (status === 500) problems.push(`${label}: answered 500 (a bug)`);
      }
      // Public means a Firebase identity changes nothing (a webhook may still check its own signature).
      if (rule === 'public' && new Set(statuses.values()).size > 1)
        problems.push(`${keyOf(route)} (public): answers differ by caller: ${JSON.stringify(Object.fromEntries(statuses))}`);
    }
    t.log(`${checked} requests over ${routes.length} routes`);
    t.deepEqual(problems, []);
  },
);
