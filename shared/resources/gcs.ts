/**
 * Buckets through the Cloud Storage JSON API v1, shared by the local driver
 * (against the storage emulator) and the GCS driver: a bucket with uniform
 * bucket-level access and public access prevention, the environment's
 * identity as its object admin, a lifecycle Delete rule when the blueprint
 * asks for one, and deletion of every object before the bucket.
 * Shapes: https://cloud.google.com/storage/docs/json_api/v1/buckets/insert,
 * …/buckets/setIamPolicy, …/objects/list, …/objects/delete.
 */
import type { GoogleRest } from '../gcp/rest.ts';

const enc = encodeURIComponent;

export interface BucketSpec {
  project: string;
  name: string;
  location?: string;
  labels: Record<string, string>;
  deleteAfterDays: number;
  /** The IAM member that gets roles/storage.objectAdmin, e.g. `serviceAccount:tp-t-abc@p.iam.gserviceaccount.com`. */
  member?: string;
}

/** Creates the bucket if missing, then makes its policy and lifecycle what the spec says. */
export async function ensureBucket(rest: GoogleRest, spec: BucketSpec): Promise<void> {
  const lifecycle = { rule: spec.deleteAfterDays > 0 ? [{ action: { type: 'Delete' }, condition: { age: spec.deleteAfterDays } }] : [] };
  try {
    await rest.call('storage', 'POST', `storage/v1/b?project=${enc(spec.project)}`, {
      name: spec.name,
      location: spec.location,
      labels: spec.labels,
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
      lifecycle,
    });
  } catch (error) {
    // Made by an earlier attempt: bring its settings to the spec (a name someone else owns answers 403 here, and fails).
    if (!isConflict(error)) throw error;
    await rest.call('storage', 'PATCH', `storage/v1/b/${enc(spec.name)}`, {
      labels: spec.labels,
      lifecycle,
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
    });
  }
  if (!spec.member) return;
  const policy = await rest.call<{ bindings?: Array<{ role: string; members: string[] }>; etag?: string }>(
    'storage',
    'GET',
    `storage/v1/b/${enc(spec.name)}/iam`,
  );
  const bindings = policy.bindings ?? [];
  const admin = bindings.find((b) => b.role === 'roles/storage.objectAdmin');
  if (admin?.members.includes(spec.member)) return;
  if (admin) admin.members.push(spec.member);
  else bindings.push({ role: 'roles/storage.objectAdmin', members: [spec.member] });
  await rest.call('storage', 'PUT', `storage/v1/b/${enc(spec.name)}/iam`, { bindings, etag: policy.etag });
}

const isConflict = (error: unknown) => (error as { httpStatus?: number }).httpStatus === 409;

/** Deletes every object, then the bucket; a bucket that is already gone is fine. */
export async function deleteBucket(rest: GoogleRest, name: string): Promise<void> {
  try {
    for (;;) {
      const page = await rest.call<{ items?: Array<{ name: string }> }>('storage', 'GET', `storage/v1/b/${enc(name)}/o?maxResults=1000`);
      if (!page.items?.length) break;
      for (const item of page.items) {
        await rest.call('storage', 'DELETE', `storage/v1/b/${enc(name)}/o/${enc(item.name)}`).catch((error) => {
          if ((error as { httpStatus?: number }).httpStatus !== 404) throw error;
        });
      }
    }
    await rest.call('storage', 'DELETE', `storage/v1/b/${enc(name)}`);
  } catch (error) {
    if ((error as { httpStatus?: number }).httpStatus !== 404) throw error;
  }
}
