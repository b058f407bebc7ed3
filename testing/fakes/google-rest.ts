/**
 * Shapes shared by the Google REST fakes (Cloud Run Admin v2, Secret Manager v1):
 * the error envelope of https://cloud.google.com/apis/design/errors, the
 * bearer-token check, and proto3 JSON enum encoding. The Node clients in REST
 * mode send `$alt=json;enum-encoding=int` and expect enums as numbers back.
 */
import type { FakeResponse, RecordedRequest } from './http-server.ts';

const httpStatusOf: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  INTERNAL: 500,
};

/** The documented error body: `{error: {code, message, status}}`. */
export function googleError(status: keyof typeof httpStatusOf, message: string): FakeResponse {
  const code = httpStatusOf[status] ?? 500;
  return { status: code, body: { error: { code, message, status } } };
}

/** Google APIs refuse calls without credentials; so does the fake. */
export function checkBearer(request: RecordedRequest): FakeResponse | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^Bearer \S+/.test(header)) return undefined;
  return googleError('UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token.');
}

/** True when the caller asked for numeric enums (`$alt=json;enum-encoding=int`). */
export function wantsNumericEnums(request: RecordedRequest): boolean {
  return (request.query.get('$alt') ?? '').includes('enum-encoding=int');
}

/** An enum's names in declaration order; the index is the wire number. */
export type EnumTable = readonly string[];

/** Accepts an enum as a name or a number (both are valid proto3 JSON) and returns the name. */
export function enumName(table: EnumTable, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return table[value] ?? String(value);
  return String(value);
}

/** Encodes a stored enum name for the response in the encoding the caller asked for. */
export function enumOut(table: EnumTable, name: string | undefined, numeric: boolean): string | number | undefined {
  if (name === undefined) return undefined;
  if (!numeric) return name;
  const index = table.indexOf(name);
  return index >= 0 ? index : name;
}

/** Deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Labels must be lowercase keys/values of letters, digits, `_` and `-`, keys starting with a letter, ≤ 63 chars. */
export function invalidLabel(labels: Record<string, string> | undefined): string | undefined {
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(key)) return `label key "${key}"`;
    if (!/^[a-z0-9_-]{0,63}$/.test(value)) return `label value "${value}" of "${key}"`;
  }
  return undefined;
}

/**
 * Who is calling, by bearer token: the fakes hold a map from access tokens to
 * IAM members (`serviceAccount:EMAIL`). The platform's token is registered when
 * a fake starts; tokens minted by the IAM Credentials fake are added as they
 * are issued, with their expiry.
 */
export function createCallers(platform: Record<string, string>) {
  const tokens = new Map<string, { member: string; expiresAt?: number }>(
    Object.entries(platform).map(([token, member]) => [token, { member }]),
  );
  return {
    /** The member behind the request's bearer token, or undefined for an unknown or expired token. */
    memberOf(request: RecordedRequest): string | undefined {
      return this.memberOfToken(/^Bearer (\S+)/.exec(String(request.headers.authorization ?? ''))?.[1]);
    },
    memberOfToken(token: string | undefined): string | undefined {
      const entry = token ? tokens.get(token) : undefined;
      if (!entry || (entry.expiresAt !== undefined && entry.expiresAt <= Date.now())) return undefined;
      return entry.member;
    },
    isPlatform(member: string | undefined): boolean {
      return member !== undefined && Object.values(platform).includes(member);
    },
    issue(token: string, member: string, expiresAt: number) {
      tokens.set(token, { member, expiresAt });
    },
  };
}
export type Callers = ReturnType<typeof createCallers>;

/** An IAM policy as stored by a fake, with the documented etag read-modify-write check. */
export interface FakePolicy {
  version?: number;
  etag: string;
  bindings: { role: string; members: string[]; condition?: unknown }[];
}

export const emptyPolicy = (): FakePolicy => ({ version: 1, etag: Buffer.from(randomEtag()).toString('base64'), bindings: [] });
const randomEtag = () => `${Date.now()}-${Math.random()}`;

/** True when the policy binds `member` to one of `roles` (unconditionally). */
export function policyGrants(policy: FakePolicy | undefined, member: string, roles: string[]): boolean {
  return Boolean(policy?.bindings.some((b) => roles.includes(b.role) && !b.condition && b.members.includes(member)));
}

/** `setIamPolicy {policy}`: refuses a stale etag (ABORTED, as Google does) and stores the new policy with a new etag. */
export function setPolicy(current: FakePolicy, body: unknown): { policy?: FakePolicy; error?: FakeResponse } {
  const next = (body as { policy?: Partial<FakePolicy> } | undefined)?.policy;
  if (!next || typeof next !== 'object') return { error: googleError('INVALID_ARGUMENT', 'SetIamPolicyRequest.policy is required.') };
  if (next.etag && next.etag !== current.etag)
    return {
      error: googleError(
        'ABORTED',
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      ),
    };
  for (const b of next.bindings ?? []) {
    if (!/^roles\/[A-Za-z0-9_.]+$/.test(String(b.role)))
      return { error: googleError('INVALID_ARGUMENT', `Role ${b.role} is not a valid role.`) };
    for (const m of b.members ?? [])
      if (!/^(serviceAccount|user|group|domain|principal):\S+$|^allUsers$|^allAuthenticatedUsers$/.test(m))
        return { error: googleError('INVALID_ARGUMENT', `Invalid member ${m}.`) };
  }
  return {
    policy: {
      version: next.version ?? 1,
      etag: Buffer.from(randomEtag()).toString('base64'),
      bindings: clone(next.bindings ?? []).filter((b) => b.members?.length),
    },
  };
}
