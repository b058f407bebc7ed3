/**
 * The storage emulator's state: buckets with their IAM policy and lifecycle,
 * objects with their bytes, and the access tokens of the principals it knows.
 * Resources have the documented shapes of the Cloud Storage JSON API v1
 * (https://cloud.google.com/storage/docs/json_api/v1/buckets#resource,
 * …/objects#resource, …/buckets/getIamPolicy). Kept in memory, and in one
 * JSON file when `dataFile` is given, so `npm start` keeps objects across runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32c } from './crc32c.ts';

export interface Binding {
  role: string;
  members: string[];
}

export interface StoredBucket {
  resource: Record<string, any>;
  policy: { version: number; etag: string; bindings: Binding[] };
  objects: Record<string, StoredObject>;
}

export interface StoredObject {
  resource: Record<string, any>;
  /** base64 of the bytes. */
  data: string;
}

interface State {
  buckets: Record<string, StoredBucket>;
  /** access token → IAM member (`serviceAccount:…`). */
  tokens: Record<string, string>;
  generation: number;
}

export function createStore(options: { dataFile?: string; now: () => Date }) {
  const { dataFile, now } = options;
  const state: State =
    dataFile && existsSync(dataFile) ? JSON.parse(readFileSync(dataFile, 'utf8')) : { buckets: {}, tokens: {}, generation: 0 };
  const save = () => {
    if (!dataFile) return;
    mkdirSync(dirname(dataFile), { recursive: true });
    writeFileSync(`${dataFile}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${dataFile}.tmp`, dataFile);
  };
  const etag = (value: unknown) => createHash('md5').update(JSON.stringify(value)).digest('base64').slice(0, 12);

  /**
   * Deletes objects that a lifecycle Delete rule with an `age` condition has expired (age in days since
   * creation), narrowed by its `matchesPrefix` / `matchesSuffix` lists when given (any entry matches;
   * https://cloud.google.com/storage/docs/lifecycle#matchesprefix-suffix).
   */
  function applyLifecycle(bucket: StoredBucket): void {
    const rules: Array<{
      action?: { type?: string };
      condition?: { age?: number; matchesPrefix?: string[]; matchesSuffix?: string[] };
    }> = bucket.resource.lifecycle?.rule ?? [];
    let changed = false;
    for (const rule of rules) {
      if (rule.action?.type !== 'Delete' || typeof rule.condition?.age !== 'number') continue;
      const { matchesPrefix, matchesSuffix } = rule.condition;
      const matches = (name: string) =>
        (!matchesPrefix || matchesPrefix.some((p) => name.startsWith(p))) &&
        (!matchesSuffix || matchesSuffix.some((x) => name.endsWith(x)));
      const cutoff = now().getTime() - rule.condition.age * 86_400_000;
      for (const [name, object] of Object.entries(bucket.objects)) {
        if (matches(name) && Date.parse(object.resource.timeCreated) <= cutoff) {
          delete bucket.objects[name];
          changed = true;
        }
      }
    }
    if (changed) save();
  }

  return {
    bucket(name: string): StoredBucket | undefined {
      const bucket = Object.hasOwn(state.buckets, name) ? state.buckets[name] : undefined;
      if (bucket) applyLifecycle(bucket);
      return bucket;
    },
    buckets(project?: string): StoredBucket[] {
      return Object.values(state.buckets).filter((b) => !project || b.resource.projectId === project);
    },
    createBucket(project: string, input: Record<string, any>): StoredBucket {
      const at = now().toISOString();
      const resource: Record<string, any> = {
        ...input,
        kind: 'storage#bucket',
        id: input.name,
        name: input.name,
        projectId: project,
        projectNumber: '0',
        metageneration: '1',
        location: String(input.location ?? 'US').toUpperCase(),
        storageClass: input.storageClass ?? 'STANDARD',
        locationType: 'multi-region',
        timeCreated: at,
        updated: at,
        iamConfiguration: {
          uniformBucketLevelAccess: { enabled: input.iamConfiguration?.uniformBucketLevelAccess?.enabled ?? false },
          publicAccessPrevention: input.iamConfiguration?.publicAccessPrevention ?? 'inherited',
        },
      };
      resource.etag = etag(resource);
      const bucket: StoredBucket = {
        resource,
        // A new bucket's policy: the project's owners and editors (the platform) are admins.
        policy: { version: 1, etag: 'CAE=', bindings: [{ role: 'roles/storage.legacyBucketOwner', members: [`projectOwner:${project}`] }] },
        objects: {},
      };
      state.buckets[input.name] = bucket;
      save();
      return bucket;
    },
    deleteBucket(name: string): void {
      delete state.buckets[name];
      save();
    },
    setPolicy(bucket: StoredBucket, bindings: Binding[]): StoredBucket['policy'] {
      bucket.policy = { version: 1, bindings, etag: etag(bindings) };
      save();
      return bucket.policy;
    },
    putObject(bucket: StoredBucket, name: string, data: Buffer, metadata: Record<string, any>): StoredObject {
      state.generation += 1;
      const at = now().toISOString();
      const generation = String(Date.now() * 1000 + (state.generation % 1000));
      const bucketName = bucket.resource.name;
      const encoded = encodeURIComponent(name);
      const resource = {
        ...Object.fromEntries(
          Object.entries(metadata).filter(([k]) =>
            ['contentType', 'metadata', 'cacheControl', 'contentEncoding', 'contentDisposition'].includes(k),
          ),
        ),
        kind: 'storage#object',
        id: `${bucketName}/${name}/${generation}`,
        name,
        bucket: bucketName,
        generation,
        metageneration: '1',
        contentType: metadata.contentType ?? 'application/octet-stream',
        storageClass: 'STANDARD',
        size: String(data.length),
        md5Hash: createHash('md5').update(data).digest('base64'),
        crc32c: crc32c(data),
        etag: createHash('md5').update(`${generation}`).digest('base64').slice(0, 12),
        timeCreated: at,
        updated: at,
        timeStorageClassUpdated: at,
        selfLink: `/storage/v1/b/${bucketName}/o/${encoded}`,
        mediaLink: `/download/storage/v1/b/${bucketName}/o/${encoded}?generation=${generation}&alt=media`,
      };
      const object = { resource, data: data.toString('base64') };
      bucket.objects[name] = object;
      save();
      return object;
    },
    deleteObject(bucket: StoredBucket, name: string): void {
      delete bucket.objects[name];
      save();
    },
    memberOf(token: string): string | undefined {
      return Object.hasOwn(state.tokens, token) ? state.tokens[token] : undefined;
    },
    addToken(token: string, member: string): void {
      state.tokens[token] = member;
      save();
    },
    removeTokens(member: string): void {
      for (const [token, who] of Object.entries(state.tokens)) if (who === member) delete state.tokens[token];
      save();
    },
  };
}

export type StorageStore = ReturnType<typeof createStore>;
