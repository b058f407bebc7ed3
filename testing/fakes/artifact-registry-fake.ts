/**
 * Artifact Registry v1, served by the Google Cloud fake (cloud-run-fake.ts).
 * Follows gcloud SDK generated_clients/apis/artifactregistry/v1/artifactregistry_v1_messages.py
 * and https://cloud.google.com/artifact-registry/docs/reference/rest:
 * - repositories create `POST /v1/projects/{p}/locations/{l}/repositories?repositoryId=`
 *   with a Repository `{format: 'DOCKER', …}` → google.longrunning.Operation (done
 *   at once here), get and delete (also an Operation), 409 ALREADY_EXISTS;
 * - `GET …/repositories/{r}:getIamPolicy`, `POST …:setIamPolicy {policy}`;
 * - `GET …/repositories/{r}/packages/{pkg}/tags/{tag}` → Tag `{name, version}` where
 *   version is `…/packages/{pkg}/versions/sha256:…`, tags list, and dockerImages
 *   list → `{dockerImages: [{name, uri, tags, imageSizeBytes, uploadTime, mediaType}]}`.
 * Pushes are not an API call here: `push(token, image)` stands in for `docker push`
 * with that token as the `oauth2accesstoken` password, and succeeds only when the
 * token's identity holds writer (or admin) on the repository.
 */
import { createHash } from 'node:crypto';
import { clone, emptyPolicy, googleError, policyGrants, setPolicy, type Callers, type FakePolicy } from './google-rest.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';

interface StoredRepository {
  name: string;
  format: string;
  description?: string;
  labels?: Record<string, string>;
  createTime: string;
  updateTime: string;
  policy: FakePolicy;
  /** package → tag → digest, and the digests with their push time. */
  tags: Map<string, Map<string, string>>;
  versions: Map<string, { pkg: string; digest: string; uploadTime: string }>;
}

const WRITERS = ['roles/artifactregistry.writer', 'roles/artifactregistry.repoAdmin', 'roles/artifactregistry.admin'];
const READERS = [...WRITERS, 'roles/artifactregistry.reader'];

export class PushRefused extends Error {}

/**
 * Builds the fake Artifact Registry's repositories and its request handler.
 * `callers` says who each request comes from, so IAM policies on a repository
 * decide pushes and reads as the real service would.
 */
export function createArtifactRegistryState(callers: Callers) {
  const repositories = new Map<string, StoredRepository>();
  const view = (r: StoredRepository) => ({
    name: r.name,
    format: r.format,
    description: r.description,
    labels: r.labels,
    createTime: r.createTime,
    updateTime: r.updateTime,
    mode: 'STANDARD_REPOSITORY',
  });
  const operation = (parent: string, response: unknown) => ({
    name: `${parent}/operations/${crypto.randomUUID()}`,
    done: true,
    response: { '@type': 'type.googleapis.com/google.devtools.artifactregistry.v1.Repository', ...(response as object) },
  });
  const denied = (permission: string, name: string) =>
    googleError('PERMISSION_DENIED', `Permission '${permission}' denied on resource '${name}' (or it may not exist).`);

  function handle(request: RecordedRequest): FakeResponse | undefined {
    const { method, path } = request;
    const caller = callers.memberOf(request);
    let m: RegExpExecArray | null;
    if ((m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/repositories$/.exec(path)) && method === 'POST') {
      if (!callers.isPlatform(caller)) return denied('artifactregistry.repositories.create', m[1]);
      const id = request.query.get('repositoryId') ?? '';
      if (!/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(id)) return googleError('INVALID_ARGUMENT', `Invalid repository id "${id}".`);
      const body = (request.body ?? {}) as { format?: string; description?: string; labels?: Record<string, string> };
      if (body.format !== 'DOCKER')
        return googleError('INVALID_ARGUMENT', 'Repository format must be specified (this fake serves DOCKER).');
      const name = `${m[1]}/repositories/${id}`;
      if (repositories.has(name)) return googleError('ALREADY_EXISTS', `the repository already exists`);
      const now = new Date().toISOString();
      const repository: StoredRepository = {
        name,
        format: 'DOCKER',
        description: body.description,
        labels: body.labels,
        createTime: now,
        updateTime: now,
        policy: emptyPolicy(),
        tags: new Map(),
        versions: new Map(),
      };
      repositories.set(name, repository);
      return { status: 200, body: operation(m[1], view(repository)) };
    }
    if ((m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/:]+)(:getIamPolicy|:setIamPolicy)?$/.exec(path))) {
      const repository = repositories.get(m[1]);
      if (!callers.isPlatform(caller))
        return denied(`artifactregistry.repositories.${m[2] ? m[2].slice(1) : method === 'DELETE' ? 'delete' : 'get'}`, m[1]);
      if (!repository) return googleError('NOT_FOUND', `Requested entity was not found.`);
      if (m[2] === ':getIamPolicy' && method === 'GET') return { status: 200, body: clone(repository.policy) };
      if (m[2] === ':setIamPolicy' && method === 'POST') {
        const { policy, error } = setPolicy(repository.policy, request.body);
        if (error) return error;
        repository.policy = policy!;
        return { status: 200, body: clone(policy) };
      }
      if (!m[2] && method === 'GET') return { status: 200, body: view(repository) };
      if (!m[2] && method === 'DELETE') {
        repositories.delete(m[1]);
        return {
          status: 200,
          body: { ...operation(m[1].split('/repositories/')[0], {}), response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } },
        };
      }
    }
    // Reads of images: the caller needs reader on the repository (the platform's own identity included).
    if (
      (m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/:]+)\/(dockerImages|packages\/(.+)\/tags(?:\/([^/]+))?)$/.exec(
        path,
      )) &&
      method === 'GET'
    ) {
      const repository = repositories.get(m[1]);
      if (!caller || !repository || !policyGrants(repository.policy, caller, READERS))
        return denied('artifactregistry.repositories.downloadArtifacts', m[1]);
      if (m[2] === 'dockerImages') {
        const [, , project, , location, , repo] = m[1].split('/');
        const dockerImages = [...repository.versions.values()].map((v) => ({
          name: `${m![1]}/dockerImages/${encodeURIComponent(v.pkg)}@${v.digest}`,
          uri: `${location}-docker.pkg.dev/${project}/${repo}/${v.pkg}@${v.digest}`,
          tags: [...(repository.tags.get(v.pkg) ?? new Map()).entries()].filter(([, d]) => d === v.digest).map(([t]) => t),
          imageSizeBytes: '1024',
          uploadTime: v.uploadTime,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        }));
        return { status: 200, body: dockerImages.length ? { dockerImages } : {} };
      }
      const [pkg, tag] = [m[3], m[4]];
      const tagView = (t: string, digest: string) => ({
        name: `${m![1]}/packages/${encodeURIComponent(pkg)}/tags/${t}`,
        version: `${m![1]}/packages/${encodeURIComponent(pkg)}/versions/${digest}`,
      });
      const tags = repository.tags.get(pkg);
      if (tag === undefined) return { status: 200, body: tags?.size ? { tags: [...tags.entries()].map(([t, d]) => tagView(t, d)) } : {} };
      const digest = tags?.get(tag);
      if (!digest) return googleError('NOT_FOUND', `Requested entity was not found.`);
      return { status: 200, body: tagView(tag, digest) };
    }
    return undefined;
  }

  /** Splits `<location>-docker.pkg.dev/<project>/<repo>/<pkg>[:tag|@digest]`. */
  function locate(image: string) {
    const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([^/]+)\/([^/]+)\/([^:@]+)(?::([^@]+))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(image);
    if (!m) return undefined;
    return { name: `projects/${m[2]}/locations/${m[1]}/repositories/${m[3]}`, pkg: m[4], tag: m[5], digest: m[6] };
  }

  /** `docker push` with `token` as password: stores the image under its tag and returns its digest, or throws PushRefused. */
  function push(token: string, image: string, content = `${image}@${Date.now()}-${Math.random()}`): string {
    const where = locate(image);
    if (!where?.tag) throw new PushRefused(`not an Artifact Registry image with a tag: ${image}`);
    const member = callers.memberOfToken(token);
    if (!member) throw new PushRefused('unauthorized: authentication failed');
    const repository = repositories.get(where.name);
    if (!repository || !policyGrants(repository.policy, member, WRITERS)) {
      throw new PushRefused(
        `denied: Permission "artifactregistry.repositories.uploadArtifacts" denied on resource "${where.name}" (or it may not exist)`,
      );
    }
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    repository.versions.set(`${where.pkg}@${digest}`, { pkg: where.pkg, digest, uploadTime: new Date().toISOString() });
    if (!repository.tags.has(where.pkg)) repository.tags.set(where.pkg, new Map());
    repository.tags.get(where.pkg)!.set(where.tag, digest);
    return digest;
  }

  /** Whether Cloud Run could pull the image: an image of a repository this fake holds must exist by digest or tag; others are not this fake's business. */
  function canPull(image: string): boolean {
    const where = locate(image);
    if (!where) return true;
    const repository = repositories.get(where.name);
    if (!repository) return true;
    if (where.digest) return repository.versions.has(`${where.pkg}@${where.digest}`);
    return Boolean(where.tag && repository.tags.get(where.pkg)?.has(where.tag));
  }

  return { handle, push, canPull, repositories };
}
