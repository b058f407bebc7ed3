/**
 * The recorder's model of the APIs the operator scripts use, one generic
 * resource store plus what each API adds to it. Shapes follow the v1/v2
 * discovery documents (the SDK's generated `_messages.py` hold the same):
 * create answers the resource, or a done Operation for the APIs whose create is
 * long-running (Firestore, Cloud Functions, Artifact Registry, Service Usage);
 * list answers `{<collection>: [...]}` (`accounts` for service accounts,
 * `items` for Cloud Run's Knative surface); IAM policies carry an etag and
 * refuse a stale one.
 */
import { randomUUID } from 'node:crypto';
import { apiError, doneOperation, type Answer, type RecordedCall } from './recorder.ts';

type Json = Record<string, any>;

export interface Cloud {
  /** Resources by name (`projects/p/locations/r/queues/provision`). */
  resources: Map<string, Json>;
  /** IAM policies by resource name (`projects/p` for the project). */
  policies: Map<string, Json>;
  /** Secret versions by secret name: the payload (base64 `data`, `dataCrc32c`) of each version. */
  versions: Map<string, { data: string; dataCrc32c?: string }[]>;
  /** Enabled service names (`run.googleapis.com`). */
  enabled: Set<string>;
}

// Long-running creates and deletes answer an Operation on these API hosts.
const LRO_API = /^(firestore|cloudfunctions|artifactregistry|serviceusage)\./;
const LIST_KEY: Record<string, string> = { serviceAccounts: 'accounts' };

/** The API's short name from a host: `europe-west1-run.tp.test` → `run`. */
const apiOf = (host: string) => host.split('.')[0].replace(/^[a-z]+-[a-z]+\d+-/, '');

export function gcloudApiRoutes(project: { projectId: string; projectNumber: string; hostingHealth: number }) {
  const cloud: Cloud = { resources: new Map(), policies: new Map(), versions: new Map(), enabled: new Set() };
  const { projectId, projectNumber } = project;
  const now = () => new Date().toISOString();
  const ok = (body: unknown): Answer => ({ status: 200, body });
  const notFound = (name: string) => apiError('NOT_FOUND', `Resource '${name}' was not found`);
  // `projects/-/…` (service accounts by email) means the project the resource is in: this one.
  const stripVersion = (path: string) =>
    path
      .replace(/^\/v\d+\w*\//, '')
      .replace(/^\//, '')
      .replace(/^projects\/-\//, `projects/${projectId}/`);

  function children(collection: string): Json[] {
    const prefix = `${collection}/`;
    return [...cloud.resources.entries()]
      .filter(([name]) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
      .map(([, r]) => r);
  }

  function policyOf(resource: string): Json {
    let policy = cloud.policies.get(resource);
    if (!policy) cloud.policies.set(resource, (policy = { version: 1, etag: Buffer.from(randomUUID()).toString('base64'), bindings: [] }));
    return policy;
  }

  function iam(call: RecordedCall, resource: string, verb: string): Answer {
    if (resource !== `projects/${projectId}` && !cloud.resources.has(resource)) return notFound(resource);
    const policy = policyOf(resource);
    if (verb === 'getIamPolicy') return ok(policy);
    const next = call.body?.policy ?? {};
    if (next.etag && next.etag !== policy.etag)
      return apiError(
        'ABORTED',
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
    const stored = { version: next.version ?? 1, etag: Buffer.from(randomUUID()).toString('base64'), bindings: next.bindings ?? [] };
    cloud.policies.set(resource, stored);
    return ok(stored);
  }

  /** The id a create names: `?<x>Id=`, the body's name, or a service account's accountId. */
  function idOf(call: RecordedCall): string | undefined {
    for (const [key, value] of call.query) if (/Id$/.test(key) && key !== 'requestId' && value) return value;
    if (call.body?.accountId) return `${call.body.accountId}@${projectId}.iam.gserviceaccount.com`;
    if (typeof call.body?.name === 'string' && call.body.name) return call.body.name.split('/').pop();
    return undefined;
  }

  /** Where an operation on `name` lives, and the metadata its API documents for it. */
  function operation(call: RecordedCall, name: string, response: unknown): Answer {
    const database = /^projects\/[^/]+\/databases\/[^/]+/.exec(name)?.[0];
    const parent = database ?? name.split('/').slice(0, 4).join('/');
    let metadata: Record<string, unknown> = {
      '@type': 'type.googleapis.com/google.longrunning.OperationMetadata',
      target: name,
      createTime: now(),
      endTime: now(),
    };
    if (name.includes('/indexes/'))
      metadata = {
        '@type': 'type.googleapis.com/google.firestore.admin.v1.IndexOperationMetadata',
        index: name,
        state: 'SUCCESSFUL',
        startTime: now(),
        endTime: now(),
      };
    if (name.includes('/fields/'))
      metadata = {
        '@type': 'type.googleapis.com/google.firestore.admin.v1.FieldOperationMetadata',
        field: name,
        state: 'SUCCESSFUL',
        startTime: now(),
        endTime: now(),
      };
    if (apiOf(call.host) === 'cloudfunctions') {
      metadata = {
        '@type': 'type.googleapis.com/google.cloud.functions.v2.OperationMetadata',
        target: name,
        verb: call.method === 'DELETE' ? 'delete' : 'create',
        createTime: now(),
        endTime: now(),
        stages: ['BUILD', 'SERVICE'].map((stage) => ({ name: stage, state: 'COMPLETE', message: '' })),
      };
    }
    const answer = doneOperation(parent, response, metadata);
    // gcloud polls an operation even when it came back done.
    cloud.resources.set((answer.body as Json).name, answer.body as Json);
    return answer;
  }

  function create(call: RecordedCall, collection: string): Answer {
    // Firestore ids indexes itself and refuses a second index of the same definition.
    if (collection.endsWith('/indexes')) {
      const same = (index: Json) =>
        index.queryScope === call.body?.queryScope && JSON.stringify(index.fields) === JSON.stringify(call.body?.fields);
      if (children(collection).some(same)) return apiError('ALREADY_EXISTS', 'index already exists');
    }
    const id = idOf(call) ?? `C${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const name = `${collection}/${id}`;
    if (cloud.resources.has(name)) return apiError('ALREADY_EXISTS', `Resource '${name}' already exists`);
    const body = typeof call.body === 'object' && call.body ? call.body : {};
    const resource: Json = { ...(body.serviceAccount ?? body), name, createTime: now(), updateTime: now() };
    if (collection.endsWith('/serviceAccounts')) Object.assign(resource, { email: id, projectId, uniqueId: String(Date.now()) });
    if (collection.endsWith('/queues')) resource.state = 'RUNNING';
    if (collection.endsWith('/jobs')) resource.state = 'ENABLED';
    if (collection.endsWith('/functions')) {
      const [, , , region, , fn] = name.split('/');
      Object.assign(resource, { state: 'ACTIVE', environment: 'GEN_2', url: `https://${region}-${projectId}.cloudfunctions.net/${fn}` });
      const service = `projects/${projectId}/locations/${region}/services/${fn}`;
      resource.serviceConfig = { ...resource.serviceConfig, uri: `https://${fn}-${projectNumber}.${region}.run.app`, service };
      // A gen2 function runs as a Cloud Run service of the same name; its invokers are that service's IAM policy.
      cloud.resources.set(service, { name: service, uri: resource.serviceConfig.uri, labels: { 'goog-managed-by': 'cloudfunctions' } });
    }
    cloud.resources.set(name, resource);
    return LRO_API.test(call.host) ? operation(call, name, resource) : ok(resource);
  }

  function update(call: RecordedCall, name: string): Answer {
    const existing = cloud.resources.get(name);
    // Firestore fields exist implicitly (a TTL update patches one never written).
    if (!existing && !name.includes('/fields/')) return notFound(name);
    // A patch names what it changes; output-only fields inside (a function's serviceConfig.uri) stay.
    const next: Json = { ...existing };
    for (const [key, value] of Object.entries(typeof call.body === 'object' && call.body ? call.body : {})) {
      const old = next[key];
      next[key] =
        value && old && typeof value === 'object' && typeof old === 'object' && !Array.isArray(value) ? { ...old, ...value } : value;
    }
    Object.assign(next, { name, updateTime: now() });
    cloud.resources.set(name, next);
    return LRO_API.test(call.host) ? operation(call, name, next) : ok(next);
  }

  function remove(call: RecordedCall, name: string): Answer {
    if (!cloud.resources.delete(name)) return notFound(name);
    cloud.policies.delete(name);
    return LRO_API.test(call.host) ? operation(call, name, {}) : ok({});
  }

  /** Cloud Run's Knative surface (`gcloud run services list|delete` on the regional host). */
  function knative(call: RecordedCall): Answer | undefined {
    const m = /^\/apis\/serving\.knative\.dev\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/.exec(call.path);
    if (!m) return undefined;
    const region = call.host.split('-run.')[0];
    const key = (id: string) => `knative/${region}/${id}`;
    if (!m[2] && call.method === 'GET') {
      return ok({
        apiVersion: 'serving.knative.dev/v1',
        kind: 'ServiceList',
        items: [...cloud.resources.entries()].filter(([k]) => k.startsWith(`knative/${region}/`)).map(([, s]) => s),
      });
    }
    if (m[2] && call.method === 'DELETE') {
      if (!cloud.resources.delete(key(m[2]))) return notFound(`namespaces/${m[1]}/services/${m[2]}`);
      return ok({ status: 'Success', details: { name: m[2], kind: 'services' } });
    }
    if (m[2] && call.method === 'GET') return cloud.resources.get(key(m[2])) ? ok(cloud.resources.get(key(m[2]))) : notFound(m[2]);
    return undefined;
  }

  /**
   * Cloud SQL Admin v1beta4 (gcloud sql): an instance the operator made, seeded
   * by the test as `projects/<p>/instances/<i>` (DatabaseInstance shape:
   * https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1beta4/instances#DatabaseInstance).
   */
  function sqlAdmin(call: RecordedCall): Answer | undefined {
    const m = /^\/sql\/v1beta4\/(projects\/[^/]+\/instances\/[^/?]+)$/.exec(call.path);
    if (!m || call.method !== 'GET') return undefined;
    const instance = cloud.resources.get(m[1]);
    return instance ? ok(instance) : apiError('NOT_FOUND', `The Cloud SQL instance does not exist.`);
  }

  /**
   * Cloud Storage JSON API v1 buckets (gcloud storage buckets): insert
   * (`POST /storage/v1/b?project=`), get, and the bucket IAM policy at
   * `/storage/v1/b/<name>/iam` (GET, PUT), stored as `b/<name>`
   * (https://cloud.google.com/storage/docs/json_api/v1/buckets).
   */
  function storageBuckets(call: RecordedCall): Answer | undefined {
    const m = /^\/storage\/v1\/b(?:\/([^/]+)(\/iam)?)?$/.exec(call.path);
    if (!m) return undefined;
    const [, name, iamPath] = m;
    if (!name && call.method === 'POST') {
      const id = call.body?.name as string;
      if (cloud.resources.has(`b/${id}`))
        return apiError('ALREADY_EXISTS', 'Your previous request to create the named bucket succeeded and you already own it.');
      const bucket = { kind: 'storage#bucket', id, name: id, projectNumber, timeCreated: now(), metageneration: '1', ...call.body };
      cloud.resources.set(`b/${id}`, bucket);
      return ok(bucket);
    }
    const bucket = name && cloud.resources.get(`b/${decodeURIComponent(name)}`);
    if (!bucket) return apiError('NOT_FOUND', 'The specified bucket does not exist.');
    if (!iamPath) return call.method === 'GET' ? ok(bucket) : undefined;
    const policy = policyOf(`b/${bucket.name}`);
    if (call.method === 'GET') return ok({ kind: 'storage#policy', resourceId: `projects/_/buckets/${bucket.name}`, ...policy });
    if (call.method !== 'PUT') return undefined;
    if (call.body?.etag && call.body.etag !== policy.etag) return apiError('ABORTED', 'Precondition failed: the policy changed.');
    const stored = {
      version: call.body?.version ?? 1,
      etag: Buffer.from(randomUUID()).toString('base64'),
      bindings: call.body?.bindings ?? [],
    };
    cloud.policies.set(`b/${bucket.name}`, stored);
    return ok({ kind: 'storage#policy', resourceId: `projects/_/buckets/${bucket.name}`, ...stored });
  }

  function special(call: RecordedCall, raw: Buffer): Answer | undefined {
    const api = apiOf(call.host);
    const path = stripVersion(call.path);
    if (api === 'hosting')
      return call.path.endsWith('/api/health') ? { status: project.hostingHealth, body: { status: 'ok' } } : notFound(call.path);
    if (api === 'upload') return call.method === 'PUT' ? { status: 200, body: '' } : undefined;
    if (api === 'run' && call.path.startsWith('/apis/')) return knative(call);
    if (api === 'serviceusage') {
      if (call.method === 'GET' && /^projects\/[^/]+\/services$/.test(path)) {
        const services = [...cloud.enabled].sort().map((s) => ({
          name: `projects/${projectNumber}/services/${s}`,
          config: { name: s, title: s },
          state: 'ENABLED',
          parent: `projects/${projectNumber}`,
        }));
        return ok(services.length ? { services } : {});
      }
      const one = /^projects\/[^/]+\/services\/([^/:]+)$/.exec(path);
      if (one && call.method === 'GET') {
        return ok({
          name: `projects/${projectNumber}/services/${one[1]}`,
          config: { name: one[1] },
          state: cloud.enabled.has(one[1]) ? 'ENABLED' : 'DISABLED',
          parent: `projects/${projectNumber}`,
        });
      }
      if (call.method === 'POST' && path.endsWith('/services:batchEnable')) {
        for (const s of call.body?.serviceIds ?? []) cloud.enabled.add(s);
        return doneOperation(`projects/${projectNumber}`, {
          services: (call.body?.serviceIds ?? []).map((s: string) => ({
            name: `projects/${projectNumber}/services/${s}`,
            state: 'ENABLED',
          })),
        });
      }
    }
    if (api === 'sql') return sqlAdmin(call);
    if (api === 'storage' && call.path.startsWith('/storage/v1/b')) return storageBuckets(call);
    if (api === 'cloudresourcemanager' && call.method === 'GET' && path === `projects/${projectId}`) {
      return ok({ projectId, projectNumber, name: projectId, lifecycleState: 'ACTIVE', createTime: '2024-01-01T00:00:00Z' });
    }
    if (api === 'firestore' && call.method === 'GET') {
      // collectionGroups/- lists across every collection group.
      const m = /^(projects\/[^/]+\/databases\/[^/]+)\/collectionGroups\/-\/(indexes|fields)$/.exec(path);
      if (m) {
        const items = [...cloud.resources.entries()]
          .filter(([k]) => k.startsWith(`${m[1]}/collectionGroups/`) && k.split('/')[6] === m[2])
          .map(([, r]) => r);
        return ok(items.length ? { [m[2]]: items } : {});
      }
    }
    if (api === 'secretmanager') {
      const m = /^(projects\/[^/]+\/secrets\/[^/]+)(?::addVersion|\/versions\/(latest|\d+):access)$/.exec(path);
      if (m) {
        if (!cloud.resources.has(m[1])) return notFound(m[1]);
        const versions = cloud.versions.get(m[1]) ?? [];
        if (call.path.endsWith(':addVersion')) {
          const payload = { data: call.body?.payload?.data ?? '', dataCrc32c: call.body?.payload?.dataCrc32c };
          versions.push(payload);
          cloud.versions.set(m[1], versions);
          // gcloud checks that the API saw the checksum it sent.
          return ok({
            name: `${m[1]}/versions/${versions.length}`,
            state: 'ENABLED',
            createTime: now(),
            clientSpecifiedPayloadChecksum: Boolean(payload.dataCrc32c),
          });
        }
        const index = m[2] === 'latest' ? versions.length : Number(m[2]);
        if (!versions[index - 1]) return notFound(`${m[1]}/versions/${m[2]}`);
        return ok({ name: `${m[1]}/versions/${index}`, payload: versions[index - 1] });
      }
    }
    if (api === 'cloudbuild' && call.method === 'GET' && path.endsWith('/defaultServiceAccount')) {
      return ok({
        name: path,
        serviceAccountEmail: `projects/${projectId}/serviceAccounts/${projectNumber}-compute@developer.gserviceaccount.com`,
      });
    }
    if (api === 'cloudfunctions' && call.method === 'GET' && /^projects\/[^/]+\/locations\/[^/]+\/runtimes$/.test(path)) {
      return ok({
        runtimes: ['nodejs20', 'nodejs22'].map((name) => ({
          name,
          displayName: `Node.js ${name.slice(6)}`,
          stage: 'GA',
          environment: 'GEN_2',
        })),
      });
    }
    if (api === 'cloudfunctions' && call.method === 'POST' && path.endsWith('/functions:generateUploadUrl')) {
      const object = `function-source-${randomUUID().slice(0, 8)}.zip`;
      return ok({
        uploadUrl: `http://upload.tp.test/${object}?signed=1`,
        storageSource: { bucket: `gcf-v2-uploads-${projectNumber}`, object },
      });
    }
    if (api === 'logging' && call.method === 'POST' && path === 'entries:list') {
      return ok({
        entries: [
          {
            logName: `projects/${projectId}/logs/run.googleapis.com%2Fstdout`,
            timestamp: now(),
            severity: 'INFO',
            textPayload: 'recorded log line',
            resource: { type: 'cloud_run_revision', labels: {} },
          },
        ],
      });
    }
    void raw;
    return undefined;
  }

  function handle(call: RecordedCall, raw: Buffer): Answer | undefined {
    const answered = special(call, raw);
    if (answered) return answered;
    const path = stripVersion(call.path);
    const verb = /:(\w+)$/.exec(path);
    if (verb && (verb[1] === 'getIamPolicy' || verb[1] === 'setIamPolicy')) return iam(call, path.slice(0, -verb[0].length), verb[1]);
    if (verb) return undefined;
    const resource = cloud.resources.get(path);
    switch (call.method) {
      case 'GET': {
        if (resource) return ok(resource);
        const last = path.split('/').pop()!;
        const parts = path.split('/').length;
        // Collections sit at even depths: projects/p/<coll>, projects/p/locations/l/<coll>, …/<id>/<coll>.
        if (parts % 2 === 1) {
          const items = children(path);
          return ok(items.length ? { [LIST_KEY[last] ?? last]: items } : {});
        }
        return notFound(path);
      }
      case 'POST':
        return path.split('/').length % 2 === 1 ? create(call, path) : undefined;
      case 'PATCH':
        return update(call, path);
      case 'DELETE':
        return remove(call, path);
      default:
        return undefined;
    }
  }

  return { cloud, handle };
}
