/**
 * Who may do what in the storage emulator, from the bucket's IAM policy as
 * Cloud Storage evaluates it with uniform bucket-level access: the predefined
 * roles' permissions (https://cloud.google.com/storage/docs/access-control/iam-roles),
 * granted to the members of the bucket's bindings. The platform's own token
 * acts as the project owner.
 */
import type { Binding } from './store.ts';

export type Permission =
  | 'storage.buckets.get'
  | 'storage.buckets.delete'
  | 'storage.buckets.getIamPolicy'
  | 'storage.buckets.setIamPolicy'
  | 'storage.buckets.update'
  | 'storage.objects.create'
  | 'storage.objects.delete'
  | 'storage.objects.get'
  | 'storage.objects.list';

const OBJECTS_ALL: Permission[] = ['storage.objects.create', 'storage.objects.delete', 'storage.objects.get', 'storage.objects.list'];

const ROLES: Record<string, Permission[]> = {
  'roles/storage.admin': [
    ...OBJECTS_ALL,
    'storage.buckets.get',
    'storage.buckets.delete',
    'storage.buckets.getIamPolicy',
    'storage.buckets.setIamPolicy',
    'storage.buckets.update',
  ],
  'roles/storage.objectAdmin': OBJECTS_ALL,
  'roles/storage.objectUser': OBJECTS_ALL,
  'roles/storage.objectViewer': ['storage.objects.get', 'storage.objects.list'],
  'roles/storage.objectCreator': ['storage.objects.create'],
  'roles/storage.legacyBucketReader': ['storage.buckets.get', 'storage.objects.list'],
  'roles/storage.legacyBucketWriter': ['storage.buckets.get', 'storage.objects.list', 'storage.objects.create', 'storage.objects.delete'],
  'roles/storage.legacyBucketOwner': [
    'storage.buckets.get',
    'storage.buckets.update',
    'storage.buckets.getIamPolicy',
    'storage.buckets.setIamPolicy',
    'storage.objects.list',
    'storage.objects.create',
    'storage.objects.delete',
  ],
};

export const PROJECT_OWNER = 'projectOwner';

export const isKnownRole = (role: string) => Object.hasOwn(ROLES, role);

/** True when `member` holds `permission` on a bucket with these bindings; the project owner (the platform) holds all. */
export function allowed(member: string, bindings: Binding[], permission: Permission): boolean {
  if (member.startsWith(`${PROJECT_OWNER}:`)) return true;
  return bindings.some((b) => b.members.includes(member) && (ROLES[b.role] ?? []).includes(permission));
}
