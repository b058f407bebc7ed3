/**
 * Secret Manager API v1 REST surface, enough for a runtime driver, served by
 * the Cloud Run fake. Follows:
 * - google/cloud/secretmanager/v1/service.proto (http rules: CreateSecret
 *   `POST /v1/{parent=projects/*}/secrets?secretId=`, AddSecretVersion
 *   `POST /v1/{parent=projects/*\/secrets/*}:addVersion`, GetSecret, DeleteSecret,
 *   ListSecrets with `filter`, AccessSecretVersion `GET …/versions/{v}:access`)
 * - google/cloud/secretmanager/v1/resources.proto (Secret, SecretVersion, SecretPayload)
 * - https://cloud.google.com/secret-manager/docs/filtering (`labels.KEY=VALUE`, AND)
 * - IAM on a secret: `GET /v1/{resource}:getIamPolicy`, `POST /v1/{resource}:setIamPolicy {policy}`
 *   (etag checked). Only the platform's identity manages secrets; any other caller
 *   may read a version only with roles/secretmanager.secretAccessor on that secret.
 * Not modelled: project-level IAM, CMEK, rotation, topics, payload CRC32C verification.
 */
import { clone, emptyPolicy, googleError, invalidLabel, policyGrants, setPolicy, type Callers, type FakePolicy } from './google-rest.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';

interface StoredSecret {
  name: string;
  labels: Record<string, string>;
  replication: unknown;
  createTime: string;
  etag: string;
  versions: { data: string; createTime: string; state: 'ENABLED' | 'DESTROYED' }[];
  policy: FakePolicy;
}

const ACCESSORS = ['roles/secretmanager.secretAccessor', 'roles/secretmanager.admin', 'roles/owner'];

/** In-memory Secret Manager. `handle` answers undefined for paths it does not own. */
export function createSecretManagerState(callers?: Callers) {
  const secrets = new Map<string, StoredSecret>();

  function view(secret: StoredSecret) {
    return {
      name: secret.name,
      labels: clone(secret.labels),
      replication: clone(secret.replication),
      createTime: secret.createTime,
      etag: secret.etag,
    };
  }

  function matches(secret: StoredSecret, filter: string): boolean {
    if (!filter.trim()) return true;
    return filter.split(/\s+AND\s+/).every((term) => {
      const m = /^labels\.([a-z0-9_-]+)\s*[=:]\s*"?([^"]*)"?$/.exec(term.trim());
      if (!m) throw new Error(`unsupported filter term: ${term}`);
      return secret.labels[m[1]] === m[2];
    });
  }

  function handle(request: RecordedRequest): FakeResponse | undefined {
    const { method, path } = request;
    let m: RegExpExecArray | null;
    if (!/^\/v1\/projects\/[^/]+\/secrets(\/|$)/.test(path)) return undefined;
    const caller = callers?.memberOf(request);
    if (callers && !callers.isPlatform(caller)) {
      // A tenant's identity may only read versions of secrets it was granted.
      m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/:]+)\/versions\/[^/:]+:access$/.exec(path);
      if (!m || !caller || !canAccess(caller, m[1]))
        return googleError(
          'PERMISSION_DENIED',
          `Permission 'secretmanager.versions.access' denied for resource '${m?.[1] ?? path.slice(4)}' (or it may not exist).`,
        );
    }
    if ((m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/:]+):(getIamPolicy|setIamPolicy)$/.exec(path))) {
      const secret = secrets.get(m[1]);
      if (!secret) return googleError('NOT_FOUND', `Secret [${m[1]}] not found.`);
      if (m[2] === 'getIamPolicy' && method === 'GET') return { status: 200, body: clone(secret.policy) };
      if (m[2] === 'setIamPolicy' && method === 'POST') {
        const { policy, error } = setPolicy(secret.policy, request.body);
        if (error) return error;
        secret.policy = policy!;
        return { status: 200, body: clone(policy) };
      }
    }
    if ((m = /^\/v1\/projects\/([^/]+)\/secrets$/.exec(path))) {
      const parent = `projects/${m[1]}`;
      if (method === 'GET') {
        let list: StoredSecret[];
        try {
          list = [...secrets.values()].filter((s) => s.name.startsWith(`${parent}/`) && matches(s, request.query.get('filter') ?? ''));
        } catch (error) {
          return googleError('INVALID_ARGUMENT', String((error as Error).message));
        }
        return { status: 200, body: list.length ? { secrets: list.map(view), totalSize: list.length } : {} };
      }
      if (method === 'POST') {
        const id = request.query.get('secretId') ?? '';
        if (!/^[A-Za-z0-9_-]{1,255}$/.test(id)) return googleError('INVALID_ARGUMENT', `Invalid secret id "${id}".`);
        const body = (request.body ?? {}) as { labels?: Record<string, string>; replication?: unknown };
        if (!body.replication) return googleError('INVALID_ARGUMENT', 'Secret.replication must be specified.');
        const bad = invalidLabel(body.labels);
        if (bad) return googleError('INVALID_ARGUMENT', `Invalid ${bad}.`);
        const name = `${parent}/secrets/${id}`;
        if (secrets.has(name)) return googleError('ALREADY_EXISTS', `Secret [${name}] already exists.`);
        const secret: StoredSecret = {
          name,
          labels: body.labels ?? {},
          replication: body.replication,
          createTime: new Date().toISOString(),
          etag: `"${Date.now().toString(16)}"`,
          versions: [],
          policy: emptyPolicy(),
        };
        secrets.set(name, secret);
        return { status: 200, body: view(secret) };
      }
    }
    if ((m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/:]+):addVersion$/.exec(path)) && method === 'POST') {
      const secret = secrets.get(m[1]);
      if (!secret) return googleError('NOT_FOUND', `Secret [${m[1]}] not found or has no versions.`);
      const data = (request.body as { payload?: { data?: string } } | undefined)?.payload?.data;
      if (typeof data !== 'string') return googleError('INVALID_ARGUMENT', 'SecretPayload.data must be set.');
      secret.versions.push({ data, createTime: new Date().toISOString(), state: 'ENABLED' });
      const number = secret.versions.length;
      return {
        status: 200,
        body: { name: `${secret.name}/versions/${number}`, createTime: secret.versions[number - 1].createTime, state: 'ENABLED' },
      };
    }
    if ((m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/:]+)\/versions\/([^/:]+):access$/.exec(path)) && method === 'GET') {
      const secret = secrets.get(m[1]);
      const enabled = secret?.versions.map((v, i) => ({ ...v, number: i + 1 })).filter((v) => v.state === 'ENABLED') ?? [];
      const version = m[2] === 'latest' ? enabled.at(-1) : enabled.find((v) => String(v.number) === m![2]);
      if (!secret || !version) return googleError('NOT_FOUND', `Secret Version [${m[1]}/versions/${m[2]}] not found.`);
      return { status: 200, body: { name: `${secret.name}/versions/${version.number}`, payload: { data: version.data } } };
    }
    if ((m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/:]+)$/.exec(path))) {
      const secret = secrets.get(m[1]);
      if (!secret) return googleError('NOT_FOUND', `Secret [${m[1]}] not found.`);
      if (method === 'GET') return { status: 200, body: view(secret) };
      if (method === 'DELETE') {
        const etag = request.query.get('etag');
        if (etag && etag !== secret.etag) return googleError('ABORTED', `The etag provided (${etag}) does not match the current etag.`);
        secrets.delete(m[1]);
        return { status: 200, body: {} };
      }
    }
    return undefined;
  }

  /** True when the secret exists and has an enabled version (what a Cloud Run revision needs to start). */
  function hasEnabledVersion(secretName: string): boolean {
    return secrets.get(secretName)?.versions.some((v) => v.state === 'ENABLED') ?? false;
  }

  /** True when `member` holds an accessor role on the secret itself (secret-level policy; project level is not modelled). */
  function canAccess(member: string, secretName: string): boolean {
    return policyGrants(secrets.get(secretName)?.policy, member, ACCESSORS);
  }

  return { handle, hasEnabledVersion, canAccess, secrets };
}
