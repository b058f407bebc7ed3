/**
 * The three PATCH bodies the Kubernetes API accepts as JSON, per
 * https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/ and
 * https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md:
 * - `application/merge-patch+json`: RFC 7386.
 * - `application/strategic-merge-patch+json` (what `kubectl apply` and `kubectl patch` send):
 *   lists with a patch merge key (containers and volumes by `name`, container ports by
 *   `containerPort`, service ports by `port`, volumeMounts by `mountPath`, …) are merged item
 *   by item; the directives `$patch: replace|delete`, `$setElementOrder/<list>`,
 *   `$retainKeys` and `$deleteFromPrimitiveList/<list>` are honoured; other lists are replaced.
 * - `application/json-patch+json`: RFC 6902 (add, remove, replace, move, copy, test).
 */
import { parse as parseYaml } from 'yaml';
import type { FakeResponse, RecordedRequest } from './http-server.ts';
import { status } from './kubernetes-validation.ts';

type Json = Record<string, any>;
type Read = { body: Json } | { error: FakeResponse };

const PATCH_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json'];
const mediaType = (request: RecordedRequest) =>
  String(request.headers['content-type'] ?? 'application/json')
    .split(';')[0]
    .trim();

/**
 * A write's body in the media types the fake reads: JSON (also when no Content-Type is sent) and
 * YAML for POST/PUT, the three JSON patch types for PATCH. Anything else, protobuf included, is
 * 415 UnsupportedMediaType naming the accepted types, as the API server answers.
 */
export function readBody(request: RecordedRequest): Read {
  const type = mediaType(request);
  const accepted = request.method === 'PATCH' ? PATCH_TYPES : ['application/json', 'application/yaml'];
  if (!accepted.includes(type))
    return {
      error: status(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
      ),
    };
  if (type === 'application/yaml') {
    try {
      return { body: (parseYaml(String(request.body ?? '')) ?? {}) as Json };
    } catch (error) {
      return { error: status(400, 'BadRequest', `error decoding YAML: ${(error as Error).message}`) };
    }
  }
  if (typeof request.body === 'string') return { error: status(400, 'BadRequest', 'the body of the request could not be decoded as JSON') };
  return { body: (request.body ?? {}) as Json };
}

/** Applies a PATCH body of the request's patch type to `existing`; a patch that cannot apply is 422. */
export function patchObject(request: RecordedRequest, existing: Json, patch: Json): Read {
  const type = mediaType(request);
  try {
    if (type === 'application/json-patch+json') return { body: jsonPatch(existing, patch) };
    return { body: type === 'application/strategic-merge-patch+json' ? strategicMergePatch(existing, patch) : mergePatch(existing, patch) };
  } catch (error) {
    return { error: status(422, 'Invalid', `the server rejected our request due to an error in our request: ${(error as Error).message}`) };
  }
}

/** patchMergeKey of the list fields the fake's kinds have (from the API's Go types). */
const MERGE_KEYS: Record<string, string | ((items: Json[]) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
  ports: (items) => (items.some((i) => i && typeof i === 'object' && 'containerPort' in i) ? 'containerPort' : 'port'),
};
/** Primitive lists whose patch strategy is merge (union), not replace. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = isMap(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Strategic merge patch of a map. */
export function strategicMergePatch(target: any, patch: any): any {
  if (!isMap(patch)) return patch;
  if (patch.$patch === 'replace') return withoutDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const out: Json = isMap(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete out[key];
    else if (Array.isArray(value)) out[key] = mergeList(key, out[key], value);
    else if (isMap(value)) {
      const merged = strategicMergePatch(out[key], value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else out[key] = value;
  }
  for (const [key, value] of Object.entries(patch)) {
    const field = key.split('/')[1];
    if (key.startsWith('$deleteFromPrimitiveList/') && Array.isArray(out[field]))
      out[field] = out[field].filter((v: unknown) => !(value as unknown[]).includes(v));
    if (key.startsWith('$setElementOrder/') && Array.isArray(out[field])) out[field] = reorder(field, out[field], value as unknown[]);
  }
  if (Array.isArray(patch.$retainKeys)) for (const key of Object.keys(out)) if (!patch.$retainKeys.includes(key)) delete out[key];
  return out;
}

function mergeList(field: string, current: unknown, patch: unknown[]): unknown[] {
  const existing = Array.isArray(current) ? current : [];
  if (MERGED_PRIMITIVE_LISTS.has(field)) return [...new Set([...existing, ...patch])];
  const rule = MERGE_KEYS[field];
  if (!rule || !patch.every(isMap)) return patch.map((p) => (isMap(p) ? withoutDirectives(p) : p));
  if (patch.some((p) => (p as Json).$patch === 'replace'))
    return patch.filter((p) => (p as Json).$patch !== 'replace').map((p) => withoutDirectives(p as Json));
  const key = typeof rule === 'string' ? rule : rule([...existing, ...patch] as Json[]);
  const out = [...existing] as Json[];
  for (const item of patch as Json[]) {
    const index = out.findIndex((o) => isMap(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) out[index] = strategicMergePatch(out[index], item);
    else out.push(strategicMergePatch({}, item));
  }
  return out;
}

function reorder(field: string, items: unknown[], order: unknown[]): unknown[] {
  const rule = MERGE_KEYS[field];
  const keyOf = (v: unknown) => (isMap(v) && rule ? v[typeof rule === 'string' ? rule : rule(items as Json[])] : v);
  const position = (v: unknown) => {
    const i = order.findIndex((o) => JSON.stringify(keyOf(o)) === JSON.stringify(keyOf(v)));
    return i < 0 ? order.length : i;
  };
  return [...items].sort((a, b) => position(a) - position(b));
}

function withoutDirectives(map: Json): Json {
  return Object.fromEntries(Object.entries(map).filter(([k]) => !k.startsWith('$')));
}

function isMap(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** RFC 6902 JSON patch; throws with the failing operation. */
export function jsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw new Error('a JSON patch must be an array of operations');
  let doc: any = structuredClone(target);
  const parse = (pointer: string) =>
    pointer === ''
      ? []
      : pointer
          .slice(1)
          .split('/')
          .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (path: string[]) => {
    let node = doc;
    for (const part of path.slice(0, -1)) {
      node = node?.[part];
      if (node === undefined || node === null) throw new Error(`doc is missing path: "/${path.join('/')}"`);
    }
    return node;
  };
  const get = (path: string[]) => path.reduce((node, part) => (node === undefined ? undefined : node[part]), doc);
  const remove = (path: string[]) => {
    const parent = parentOf(path);
    const last = path.at(-1)!;
    if (!(last in Object(parent))) throw new Error(`unable to remove nonexistent key: ${last}`);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  };
  const add = (path: string[], value: unknown) => {
    if (path.length === 0) return void (doc = value);
    const parent = parentOf(path);
    const last = path.at(-1)!;
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else parent[last] = value;
  };
  for (const op of operations as Json[]) {
    const path = parse(String(op.path ?? ''));
    switch (op.op) {
      case 'add':
        add(path, op.value);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        remove(path);
        add(path, op.value);
        break;
      case 'move': {
        const from = parse(op.from);
        const value = get(from);
        remove(from);
        add(path, value);
        break;
      }
      case 'copy':
        add(path, structuredClone(get(parse(op.from))));
        break;
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw new Error(`testing value /${path.join('/')} failed`);
        break;
      default:
        throw new Error(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}
