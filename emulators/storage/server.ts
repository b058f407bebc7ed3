/**
 * A local Cloud Storage server speaking the JSON API v1
 * (https://cloud.google.com/storage/docs/json_api/v1), so `@google-cloud/storage`
 * and the platform's REST calls work against it unchanged: buckets (insert,
 * get, list, delete — refused while objects remain), bucket IAM policies
 * (getIamPolicy/setIamPolicy), objects (upload by media, multipart and
 * resumable; get, `alt=media` download, list with prefix and paging, delete),
 * lifecycle Delete rules with an `age` condition (and matchesPrefix/matchesSuffix), and the documented error
 * body `{error: {code, message, errors: [{reason, message}]}}`.
 *
 * Callers are told apart by their bearer token: the platform's (`adminToken`)
 * is the project owner; tokens registered through `POST /_emulator/v1/principals`
 * (owner only) act as that IAM member and may do only what the bucket's
 * policy grants it. No token is 401, as with Cloud Storage.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowed, isKnownRole, PROJECT_OWNER, type Permission } from './iam.ts';
import { createStore, type StoredBucket } from './store.ts';
import { applyChunk, createSessions, parseMultipart } from './uploads.ts';

export interface StorageEmulatorOptions {
  port?: number;
  host?: string;
  /** The platform's bearer token (project owner); default `owner`. */
  adminToken?: string;
  /** Project the owner token belongs to; default `demo-tenantplane`. */
  projectId?: string;
  dataFile?: string;
  now?: () => Date;
}

export interface StorageEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

export async function startStorageEmulator(options: StorageEmulatorOptions = {}): Promise<StorageEmulator> {
  const adminToken = options.adminToken ?? 'owner';
  const projectId = options.projectId ?? 'demo-tenantplane';
  const store = createStore({ dataFile: options.dataFile, now: options.now ?? (() => new Date()) });
  const sessions = createSessions();

  function caller(req: IncomingMessage): string {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new HttpError(401, 'required', 'Anonymous caller does not have access; send Authorization: Bearer <token>.');
    if (token === adminToken) return `${PROJECT_OWNER}:${projectId}`;
    const member = store.memberOf(token);
    if (!member) throw new HttpError(401, 'authError', 'Invalid Credentials');
    return member;
  }
  function bucketFor(name: string, member: string, permission: Permission): StoredBucket {
    const bucket = store.bucket(name);
    // A caller without rights learns nothing about whether the bucket exists.
    if (!bucket || !allowed(member, bucket.policy.bindings, permission)) {
      if (!bucket && (member.startsWith(PROJECT_OWNER) || permission.startsWith('storage.buckets')))
        throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
      if (!bucket)
        throw new HttpError(403, 'forbidden', `${member} does not have ${permission} access to the Google Cloud Storage bucket.`);
      throw new HttpError(
        403,
        'forbidden',
        `${member} does not have ${permission} access to the Google Cloud Storage ${permission.includes('objects') ? 'object' : 'bucket'}.`,
      );
    }
    return bucket;
  }

  type Answer = { status: number; json?: unknown; raw?: Buffer; headers?: Record<string, string> };

  async function handle(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    // With STORAGE_EMULATOR_HOST set, @google-cloud/storage takes that host as its JSON API base, without /storage/v1.
    const path = /^\/b(\/|$)/.test(url.pathname) ? `/storage/v1${url.pathname}` : url.pathname;
    const q = url.searchParams;
    const asJson = () => (body.length ? JSON.parse(body.toString('utf8')) : {});
    const member = caller(req);

    if (path === '/_emulator/v1/principals' && method === 'POST') {
      if (!member.startsWith(PROJECT_OWNER)) throw new HttpError(403, 'forbidden', 'Only the project owner registers principals.');
      const { member: who, token, remove } = asJson();
      if (typeof who !== 'string' || !/^(serviceAccount|user):\S+$/.test(who))
        throw new HttpError(400, 'invalid', 'member must be serviceAccount:EMAIL or user:EMAIL');
      if (remove) store.removeTokens(who);
      else if (typeof token === 'string' && token.length >= 16) store.addToken(token, who);
      else throw new HttpError(400, 'invalid', 'token must be a string of at least 16 characters');
      return { status: 200, json: { member: who } };
    }

    let m = /^\/storage\/v1\/b\/?$/.exec(path);
    if (m && method === 'POST') {
      if (!member.startsWith(PROJECT_OWNER))
        throw new HttpError(403, 'forbidden', `${member} does not have storage.buckets.create access to the Google Cloud project.`);
      const input = asJson();
      if (typeof input.name !== 'string' || !BUCKET_NAME.test(input.name) || input.name.includes('..'))
        throw new HttpError(400, 'invalid', `Invalid bucket name: '${input.name}'`);
      if (store.bucket(input.name))
        throw new HttpError(409, 'conflict', 'Your previous request to create the named bucket succeeded and you already own it.');
      return { status: 200, json: store.createBucket(q.get('project') ?? projectId, input).resource };
    }
    if (m && method === 'GET') {
      if (!member.startsWith(PROJECT_OWNER))
        throw new HttpError(403, 'forbidden', `${member} does not have storage.buckets.list access to the Google Cloud project.`);
      return { status: 200, json: { kind: 'storage#buckets', items: store.buckets(q.get('project') ?? undefined).map((b) => b.resource) } };
    }
    m = /^\/storage\/v1\/b\/([^/]+)\/iam$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1]);
      if (method === 'GET')
        return {
          status: 200,
          json: {
            kind: 'storage#policy',
            resourceId: `projects/_/buckets/${name}`,
            ...bucketFor(name, member, 'storage.buckets.getIamPolicy').policy,
          },
        };
      if (method === 'PUT') {
        const bucket = bucketFor(name, member, 'storage.buckets.setIamPolicy');
        const { bindings } = asJson();
        if (!Array.isArray(bindings) || bindings.some((b) => typeof b?.role !== 'string' || !Array.isArray(b.members)))
          throw new HttpError(400, 'invalid', 'bindings must be a list of {role, members}');
        const unknown = bindings.find((b: { role: string }) => !isKnownRole(b.role));
        if (unknown) throw new HttpError(400, 'invalid', `Role ${unknown.role} is not supported for this resource.`);
        return {
          status: 200,
          json: { kind: 'storage#policy', resourceId: `projects/_/buckets/${name}`, ...store.setPolicy(bucket, bindings) },
        };
      }
    }
    m = /^\/storage\/v1\/b\/([^/]+)$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1]);
      if (method === 'GET') return { status: 200, json: bucketFor(name, member, 'storage.buckets.get').resource };
      if (method === 'PATCH') {
        const bucket = bucketFor(name, member, 'storage.buckets.update');
        const patch = asJson();
        for (const key of ['labels', 'lifecycle', 'iamConfiguration']) if (patch[key] !== undefined) bucket.resource[key] = patch[key];
        bucket.resource.metageneration = String(Number(bucket.resource.metageneration) + 1);
        store.setPolicy(bucket, bucket.policy.bindings);
        return { status: 200, json: bucket.resource };
      }
      if (method === 'DELETE') {
        const bucket = bucketFor(name, member, 'storage.buckets.delete');
        if (Object.keys(bucket.objects).length > 0) throw new HttpError(409, 'conflict', 'The bucket you tried to delete is not empty.');
        store.deleteBucket(name);
        return { status: 204 };
      }
    }
    m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m && method === 'GET') {
      const bucket = bucketFor(decodeURIComponent(m[1]), member, 'storage.objects.list');
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(Number(q.get('maxResults')) || 1000, 1000);
      const names = Object.keys(bucket.objects)
        .filter((n) => n.startsWith(prefix))
        .sort();
      const after = q.get('pageToken') ? Buffer.from(q.get('pageToken')!, 'base64url').toString('utf8') : '';
      const page = names.filter((n) => n > after).slice(0, max);
      const more = names.filter((n) => n > after).length > page.length;
      return {
        status: 200,
        json: {
          kind: 'storage#objects',
          items: page.map((n) => bucket.objects[n].resource),
          nextPageToken: more ? Buffer.from(page.at(-1)!).toString('base64url') : undefined,
        },
      };
    }
    m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (m) {
      const bucketName = decodeURIComponent(m[1]);
      const objectName = decodeURIComponent(m[2]);
      if (method === 'GET') {
        const bucket = bucketFor(bucketName, member, 'storage.objects.get');
        const object = Object.hasOwn(bucket.objects, objectName) ? bucket.objects[objectName] : undefined;
        if (!object) throw new HttpError(404, 'notFound', `No such object: ${bucketName}/${objectName}`);
        if (q.get('alt') !== 'media') return { status: 200, json: object.resource };
        return {
          status: 200,
          raw: Buffer.from(object.data, 'base64'),
          headers: {
            'content-type': object.resource.contentType,
            'x-goog-hash': `crc32c=${object.resource.crc32c},md5=${object.resource.md5Hash}`,
            'x-goog-generation': object.resource.generation,
            'x-goog-stored-content-length': object.resource.size,
          },
        };
      }
      if (method === 'DELETE') {
        const bucket = bucketFor(bucketName, member, 'storage.objects.delete');
        if (!Object.hasOwn(bucket.objects, objectName)) throw new HttpError(404, 'notFound', `No such object: ${bucketName}/${objectName}`);
        store.deleteObject(bucket, objectName);
        return { status: 204 };
      }
    }
    m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m) return upload(req, decodeURIComponent(m[1]), member, q, body);
    throw new HttpError(404, 'notFound', `Not Found: ${method} ${path}`);
  }

  function save(bucketName: string, member: string, name: unknown, data: Buffer, metadata: Record<string, any>): Answer {
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 1024)
      throw new HttpError(400, 'invalid', 'Object name must be 1-1024 bytes.');
    const bucket = bucketFor(bucketName, member, 'storage.objects.create');
    // Replacing an object also needs the right to delete it.
    if (Object.hasOwn(bucket.objects, name)) bucketFor(bucketName, member, 'storage.objects.delete');
    return { status: 200, json: store.putObject(bucket, name, data, metadata).resource };
  }

  function upload(req: IncomingMessage, bucketName: string, member: string, q: URLSearchParams, body: Buffer): Answer {
    const type = q.get('uploadType');
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    if (type === 'media' && req.method === 'POST') return save(bucketName, member, q.get('name'), body, { contentType });
    if (type === 'multipart' && req.method === 'POST') {
      const { metadata, data, mediaType } = parseMultipart(body, contentType);
      return save(bucketName, member, metadata.name ?? q.get('name'), data, {
        ...metadata,
        contentType: metadata.contentType ?? mediaType,
      });
    }
    if (type === 'resumable' && req.method === 'POST') {
      bucketFor(bucketName, member, 'storage.objects.create');
      const metadata = body.length ? JSON.parse(body.toString('utf8')) : {};
      if (!metadata.name) metadata.name = q.get('name');
      metadata.contentType ??= req.headers['x-upload-content-type'];
      const id = sessions.open({ bucket: bucketName, member, metadata });
      const location = `http://${req.headers.host}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable&upload_id=${id}`;
      return { status: 200, headers: { location }, json: {} };
    }
    if (type === 'resumable' && req.method === 'PUT') {
      const id = q.get('upload_id') ?? '';
      const session = sessions.get(id);
      if (!session || session.member !== member) throw new HttpError(404, 'notFound', 'No such upload session.');
      const { complete, error } = applyChunk(session, req.headers['content-range'], body);
      if (error) throw new HttpError(400, 'invalid', error);
      if (!complete) return { status: 308, headers: session.size > 0 ? { range: `bytes=0-${session.size - 1}` } : undefined };
      sessions.close(id);
      return save(bucketName, member, session.metadata.name, Buffer.concat(session.received), session.metadata);
    }
    throw new HttpError(400, 'invalid', `uploadType must be media, multipart or resumable, got "${type}"`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks))
        .then((out) => {
          const headers: Record<string, string> = { ...out.headers };
          if (out.json !== undefined) headers['content-type'] = 'application/json; charset=UTF-8';
          res.writeHead(out.status, headers);
          res.end(out.raw ?? (out.json !== undefined ? JSON.stringify(out.json) : undefined));
        })
        .catch((err: unknown) => {
          const status = err instanceof HttpError ? err.status : err instanceof SyntaxError ? 400 : 500;
          const reason = err instanceof HttpError ? err.reason : status === 400 ? 'parseError' : 'backendError';
          const message = (err as Error).message;
          res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }));
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
