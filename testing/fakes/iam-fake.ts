/**
 * IAM admin v1 (service accounts) and IAM Credentials v1, served by the Google
 * Cloud fake (cloud-run-fake.ts). Follows the official schemas
 * (gcloud SDK generated_clients/apis/iam/v1/iam_v1_messages.py,
 * iamcredentials/v1/iamcredentials_v1_messages.py) and
 * https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts:
 * - create `POST /v1/projects/{p}/serviceAccounts` `{accountId, serviceAccount}`
 *   (account id 6–30 chars `[a-z][a-z0-9-]*[a-z0-9]`, 409 ALREADY_EXISTS), get,
 *   delete `/v1/projects/{p}/serviceAccounts/{email}` (`-` as project works too);
 * - `POST …:getIamPolicy` and `POST …:setIamPolicy {policy}` on an account;
 * - generateAccessToken `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`
 *   `{scope[], lifetime: "900s"}` → `{accessToken, expireTime}`; the caller needs
 *   roles/iam.serviceAccountTokenCreator on that account (else PERMISSION_DENIED),
 *   and a lifetime over 3600 s is refused (the documented default maximum).
 * Admin calls are accepted only from the platform's identity; the fakes know
 * callers by their bearer token (google-rest.ts `createCallers`).
 */
import { clone, emptyPolicy, googleError, policyGrants, setPolicy, type Callers, type FakePolicy } from './google-rest.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';
import { randomHex } from './http-server.ts';

export interface StoredServiceAccount {
  name: string;
  projectId: string;
  uniqueId: string;
  email: string;
  displayName?: string;
  description?: string;
  etag: string;
  policy: FakePolicy;
}

const MAX_LIFETIME_S = 3600;

/**
 * Builds the fake IAM's service accounts and its request handler. `callers`
 * says who each request comes from, so minting a token needs the same role on
 * the account as in the real API.
 */
export function createIamState(callers: Callers) {
  const accounts = new Map<string, StoredServiceAccount>();
  const view = (a: StoredServiceAccount) => ({
    name: a.name,
    projectId: a.projectId,
    uniqueId: a.uniqueId,
    email: a.email,
    displayName: a.displayName,
    description: a.description,
    etag: a.etag,
    oauth2ClientId: a.uniqueId,
  });
  const denied = (what: string) => googleError('PERMISSION_DENIED', `Permission '${what}' denied on resource (or it may not exist).`);

  function handle(request: RecordedRequest): FakeResponse | undefined {
    const { method, path } = request;
    const caller = callers.memberOf(request);
    let m: RegExpExecArray | null;
    if ((m = /^\/v1\/projects\/[^/]+\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path)) && method === 'POST') {
      const account = accounts.get(m[1]);
      if (!caller) return googleError('UNAUTHENTICATED', 'Request had invalid authentication credentials.');
      if (!account || !policyGrants(account.policy, caller, ['roles/iam.serviceAccountTokenCreator', 'roles/owner']))
        return denied('iam.serviceAccounts.getAccessToken');
      const body = (request.body ?? {}) as { scope?: string[]; lifetime?: string };
      if (!Array.isArray(body.scope) || body.scope.length === 0) return googleError('INVALID_ARGUMENT', 'Scope is required.');
      const lifetime = body.lifetime === undefined ? MAX_LIFETIME_S : Number(/^(\d+(?:\.\d+)?)s$/.exec(body.lifetime)?.[1] ?? NaN);
      if (!Number.isFinite(lifetime) || lifetime <= 0 || lifetime > MAX_LIFETIME_S) {
        return googleError(
          'INVALID_ARGUMENT',
          `The lifetime of the access token must be a positive duration of at most ${MAX_LIFETIME_S}s; got ${body.lifetime}.`,
        );
      }
      const accessToken = `ya29.fake-${randomHex(32)}`;
      const expiresAt = Date.now() + lifetime * 1000;
      callers.issue(accessToken, `serviceAccount:${account.email}`, expiresAt);
      return { status: 200, body: { accessToken, expireTime: new Date(expiresAt).toISOString() } };
    }
    if ((m = /^\/v1\/projects\/([^/]+)\/serviceAccounts$/.exec(path)) && method === 'POST') {
      if (!callers.isPlatform(caller)) return denied('iam.serviceAccounts.create');
      const body = (request.body ?? {}) as { accountId?: string; serviceAccount?: { displayName?: string; description?: string } };
      const id = body.accountId ?? '';
      if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id))
        return googleError(
          'INVALID_ARGUMENT',
          `Invalid account id "${id}": 6–30 characters, lowercase letters, digits and hyphens, starting with a letter.`,
        );
      const email = `${id}@${m[1]}.iam.gserviceaccount.com`;
      if (accounts.has(email))
        return googleError('ALREADY_EXISTS', `Service account ${id} already exists within project projects/${m[1]}.`);
      const account: StoredServiceAccount = {
        name: `projects/${m[1]}/serviceAccounts/${email}`,
        projectId: m[1],
        uniqueId: String(100000000000000000000n + BigInt(accounts.size + 1)),
        email,
        displayName: body.serviceAccount?.displayName,
        description: body.serviceAccount?.description,
        etag: 'MDEwMjE5MjA=',
        policy: emptyPolicy(),
      };
      accounts.set(email, account);
      return { status: 200, body: view(account) };
    }
    if ((m = /^\/v1\/projects\/[^/]+\/serviceAccounts\/([^/:]+)(:getIamPolicy|:setIamPolicy)?$/.exec(path))) {
      const account = accounts.get(m[1]);
      if (!callers.isPlatform(caller))
        return denied(`iam.serviceAccounts.${m[2] ? m[2].slice(1) : method === 'DELETE' ? 'delete' : 'get'}`);
      if (!account) return googleError('NOT_FOUND', `Unknown service account ${m[1]}.`);
      if (m[2] === ':getIamPolicy' && method === 'POST') return { status: 200, body: clone(account.policy) };
      if (m[2] === ':setIamPolicy' && method === 'POST') {
        const { policy, error } = setPolicy(account.policy, request.body);
        if (error) return error;
        account.policy = policy!;
        return { status: 200, body: clone(policy) };
      }
      if (!m[2] && method === 'GET') return { status: 200, body: view(account) };
      if (!m[2] && method === 'DELETE') {
        accounts.delete(m[1]);
        return { status: 200, body: {} };
      }
    }
    return undefined;
  }

  return { handle, accounts, exists: (email: string) => accounts.has(email) };
}
export type IamState = ReturnType<typeof createIamState>;
