/**
 * IAM policy bindings, added by read-modify-write with the policy's etag
 * (https://cloud.google.com/iam/docs/reference/rest/v1/Policy). The same rule
 * serves service accounts, repositories and secrets.
 */

export interface Binding {
  role: string;
  members: string[];
  condition?: unknown;
}
export interface Policy {
  version?: number;
  etag?: string;
  bindings?: Binding[];
}
/** One wanted grant: `member` is `serviceAccount:EMAIL`, `user:…` and so on. */
export interface Grant {
  role: string;
  member: string;
}

/** The policy with the grants added, or undefined when it already holds them all (so nothing is written). */
export function withGrants(policy: Policy, grants: Grant[]): Policy | undefined {
  const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] }));
  let changed = false;
  for (const { role, member } of grants) {
    let binding = bindings.find((b) => b.role === role && !b.condition);
    if (!binding) bindings.push((binding = { role, members: [] }));
    if (!binding.members.includes(member)) {
      binding.members.push(member);
      changed = true;
    }
  }
  return changed ? { ...policy, bindings } : undefined;
}

/** Adds the grants; a concurrent writer (etag conflict) gets one retry on a fresh read. */
export async function addGrants(
  read: () => Promise<Policy>,
  write: (policy: Policy) => Promise<unknown>,
  grants: Grant[],
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const next = withGrants((await read()) ?? {}, grants);
    if (!next) return false;
    try {
      await write(next);
      return true;
    } catch (error) {
      const status = (error as { status?: unknown; code?: unknown }).status ?? (error as { code?: unknown }).code;
      if (attempt === 0 && (status === 'ABORTED' || status === 10 || status === 409)) continue;
      throw error;
    }
  }
}

/** `serviceAccount:EMAIL`, the member form of a service account. */
export const serviceAccountMember = (email: string) => `serviceAccount:${email}`;
