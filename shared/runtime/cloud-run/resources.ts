/**
 * Names, labels and Secret Manager handling for the Cloud Run driver. Kept apart
 * from the driver so the rules (Cloud Run service ids, label syntax, secret ids)
 * can be read and tested on their own.
 */
import { createHash } from 'node:crypto';
import { addGrants, serviceAccountMember, type Policy } from '../../gcp/policy.ts';
import type { EnvironmentRef, EnvironmentSpec, EnvironmentStatus } from '../types.ts';

/** The Secret Manager client methods the driver uses (REST or gRPC transport alike). */
export interface SecretManagerLike {
  getSecret(request: { name: string }): Promise<unknown>;
  createSecret(request: { parent: string; secretId: string; secret: object }): Promise<unknown>;
  addSecretVersion(request: { parent: string; payload: { data: Buffer } }): Promise<[{ name?: string | null }, ...unknown[]]>;
  accessSecretVersion(request: {
    name: string;
  }): Promise<[{ name?: string | null; payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
  deleteSecret(request: { name: string }): Promise<unknown>;
  listSecrets(request: { parent: string; filter: string }, options?: object): Promise<[{ name?: string | null }[], ...unknown[]]>;
  getIamPolicy(request: { resource: string }): Promise<[Policy, ...unknown[]]>;
  setIamPolicy(request: { resource: string; policy: Policy }): Promise<unknown>;
}

/** gRPC status codes the driver reacts to. */
export const GrpcCode = { NOT_FOUND: 5, ALREADY_EXISTS: 6, ABORTED: 10 } as const;
const codeByStatus: Record<string, number> = { NOT_FOUND: 5, ALREADY_EXISTS: 6, ABORTED: 10 };
const codeByHttp: Record<number, number> = { 404: 5, 409: 6 };

/**
 * The gRPC code of a Google client error, whatever the transport: gRPC errors
 * carry it as `code`; in REST mode the auth client's fetch rejects with an HTTP
 * error (`code` 404/409) whose body holds the documented `{error: {status}}`.
 */
export function grpcCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code } = error as { code?: unknown };
  if (typeof code === 'number' && code < 100) return code;
  for (const text of [
    (error as { cause?: { message?: unknown } }).cause?.message,
    (error as { response?: { data?: unknown } }).response?.data,
  ]) {
    try {
      const body = typeof text === 'string' ? JSON.parse(text) : text;
      const status = (body as { error?: { status?: string } } | undefined)?.error?.status;
      if (status && status in codeByStatus) return codeByStatus[status];
    } catch {
      // not JSON: fall back to the HTTP status below
    }
  }
  return typeof code === 'number' ? codeByHttp[code] : undefined;
}

/** True when a Google client error (or the error it wraps) carries the given gRPC code. */
export function hasCode(error: unknown, code: number): boolean {
  return grpcCodeOf(error) === code || (error instanceof Error && error.cause !== undefined && grpcCodeOf(error.cause) === code);
}

/** Shortens `base` to `max` characters, keeping it unique with a hash suffix when it had to be cut. */
export function fitName(base: string, max: number): string {
  if (base.length <= max) return base;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 6);
  return `${base.slice(0, max - 7).replace(/-+$/, '')}-${hash}`;
}

/**
 * Cloud Run service id: `tp-<tenantId>-<env>`. Service ids are at most 49
 * characters of lowercase letters, digits and hyphens, start with a letter and
 * do not end with a hyphen; the `tp-` prefix guarantees the letter.
 */
export function serviceIdOf(ref: EnvironmentRef): string {
  const raw = `tp-${ref.tenantId}-${ref.env}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return fitName(raw, 49).replace(/-+$/, '');
}

/** Secret id for one key: `tp-tenant-<tenantId>-<env>-<key lowercased>` (ids allow letters, digits, `_`, `-`, ≤ 255). */
export function secretIdOf(ref: EnvironmentRef, key: string): string {
  return fitName(`tp-tenant-${ref.tenantId}-${ref.env}-${key.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`, 255);
}

/** Makes a Google label value: lowercase letters, digits, `_`, `-`, at most 63 characters. */
function labelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);
}

/**
 * Labels for every resource of the environment: the spec's labels (made valid
 * for Google label syntax) plus the two identifying ones, which always win.
 */
export function labelsOf(ref: EnvironmentRef, extra: Record<string, string> = {}): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(extra)) {
    const k = key
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '_')
      .slice(0, 63);
    if (/^[a-z]/.test(k)) labels[k] = labelValue(value);
  }
  labels['tenantplane-tenant-id'] = labelValue(ref.tenantId);
  labels['tenantplane-env'] = labelValue(ref.env);
  return labels;
}

/**
 * Stores each secret of the spec in Secret Manager (created when missing, a new
 * version only when the value differs from the latest one) and returns the
 * container env entries referencing them at version `latest`, plus a summary of
 * the version numbers: putting it in the revision template makes a changed
 * value roll out as a new revision, without the value itself leaving Secret Manager.
 * `accessor`, the tenant's service account, gets `roles/secretmanager.secretAccessor`
 * on each of these secrets alone (secret-level policy), so it reads its own
 * tenant's secrets and nothing else.
 */
export async function syncSecrets(client: SecretManagerLike, projectId: string, spec: EnvironmentSpec, accessor?: string) {
  const env: { name: string; valueSource: { secretKeyRef: { secret: string; version: string } } }[] = [];
  const versions: string[] = [];
  for (const key of Object.keys(spec.secrets).sort()) {
    const id = secretIdOf(spec, key);
    const name = `projects/${projectId}/secrets/${id}`;
    try {
      await client.createSecret({
        parent: `projects/${projectId}`,
        secretId: id,
        secret: { replication: { automatic: {} }, labels: labelsOf(spec, spec.labels) },
      });
    } catch (error) {
      if (!hasCode(error, GrpcCode.ALREADY_EXISTS)) throw error;
    }
    if (accessor) {
      await addGrants(
        async () => (await client.getIamPolicy({ resource: name }))[0] ?? {},
        (policy) => client.setIamPolicy({ resource: name, policy }),
        [{ role: 'roles/secretmanager.secretAccessor', member: serviceAccountMember(accessor) }],
      );
    }
    let latest: { name?: string | null; payload?: { data?: Uint8Array | string | null } | null } | undefined;
    try {
      [latest] = await client.accessSecretVersion({ name: `${name}/versions/latest` });
    } catch (error) {
      if (!hasCode(error, GrpcCode.NOT_FOUND)) throw error;
    }
    const value = spec.secrets[key];
    const current = latest?.payload?.data;
    const same = current !== undefined && current !== null && Buffer.from(current as Uint8Array).toString('utf8') === value;
    let versionName = latest?.name ?? '';
    if (!same)
      [{ name: versionName = '' }] = (await client.addSecretVersion({ parent: name, payload: { data: Buffer.from(value, 'utf8') } })) as [
        { name: string },
      ];
    env.push({ name: key, valueSource: { secretKeyRef: { secret: id, version: 'latest' } } });
    versions.push(`${key}=${versionName.split('/').pop()}`);
  }
  return { env, versionSummary: versions.join(',') };
}

/** Deletes every secret labelled for the environment; already-gone secrets are fine. */
export async function deleteSecrets(client: SecretManagerLike, projectId: string, ref: EnvironmentRef): Promise<void> {
  const labels = labelsOf(ref);
  const filter = `labels.tenantplane-tenant-id=${labels['tenantplane-tenant-id']} AND labels.tenantplane-env=${labels['tenantplane-env']}`;
  const [secrets] = await client.listSecrets({ parent: `projects/${projectId}`, filter }, { autoPaginate: true });
  for (const secret of secrets) {
    if (!secret.name) continue;
    try {
      await client.deleteSecret({ name: secret.name });
    } catch (error) {
      if (!hasCode(error, GrpcCode.NOT_FOUND)) throw error;
    }
  }
}

/**
 * A Google client error as one readable line. In REST mode the message is the
 * raw `{"error": {code, message, status}}` body; this returns `STATUS: message` instead.
 */
export function describeGoogleError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  try {
    const body = JSON.parse(text) as { error?: { message?: string; status?: string } };
    if (body.error?.message) return body.error.status ? `${body.error.status}: ${body.error.message}` : body.error.message;
  } catch {
    // not a JSON body: the message is already readable
  }
  return text;
}

/** The driver's status of a Cloud Run service: a placeholder image means no deploy yet, manual scaling to 0 means suspended. */
export function describeService(service: Record<string, any> | undefined, placeholder: string): EnvironmentStatus {
  if (!service) return { state: 'absent', ready: false };
  const url: string | undefined = service.uri || undefined;
  const image: string | undefined = service.template?.containers?.[0]?.image || undefined;
  const terminal = service.terminalCondition ?? {};
  if (service.deleteTime) return { state: 'stopped', ready: false, url, image, message: 'deletion in progress' };
  if (terminal.state === 'CONDITION_FAILED')
    return { state: 'failed', ready: false, url, image, message: terminal.message || 'the latest revision failed' };
  if (image === placeholder) return { state: 'provisioning', ready: false, url, message: 'service shell ready; no image deployed yet' };
  if (service.scaling?.scalingMode === 'MANUAL' && !service.scaling.manualInstanceCount)
    return { state: 'stopped', ready: false, url, image };
  if (service.reconciling || terminal.state !== 'CONDITION_SUCCEEDED')
    return { state: 'provisioning', ready: false, url, image, message: terminal.message || undefined };
  const ready = Boolean(service.latestReadyRevision) && service.latestReadyRevision === service.latestCreatedRevision;
  return { state: 'running', ready, url, image };
}
