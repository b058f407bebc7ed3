/**
 * How a user's project maps onto a runtime environment, in one place: the
 * driver reference (owner = the user, tenantId = the project id, env `api`)
 * and the Kubernetes resource names the SPEC records on every project, taken
 * from the Kubernetes driver's own naming so the two can never disagree.
 */
import { namespaceOf, workloadNameOf } from '../runtime/kubernetes/resources.ts';
import type { EnvironmentRef } from '../runtime/types.ts';

/** The environment name every project runs as (`proj-<projectId>-api` on Kubernetes). */
export const PROJECT_ENV = 'api';

/** Project ids: 3–30 lowercase letters, digits or dashes, starting with a letter, not ending with a dash. */
export const PROJECT_ID = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

/** The runtime driver's reference for a user's project. */
export function projectRef(uid: string, projectId: string): EnvironmentRef {
  return { ownerId: uid, tenantId: projectId, env: PROJECT_ENV };
}

/** The names the project's resources carry, as the Kubernetes driver creates them (whichever driver runs it). */
export interface ProjectResourceNames {
  /** `user-<uid>` (the uid made a DNS label). */
  namespace: string;
  /** `proj-<projectId>-api`. */
  deployment: string;
  /** The ClusterIP Service in front of the deployment; same name. */
  service: string;
  /** The Ingress routing `proj-<projectId>.user-<uid>.<base-domain>` to the service; same name. */
  ingress: string;
}

export function projectResourceNames(uid: string, projectId: string): ProjectResourceNames {
  const ref = projectRef(uid, projectId);
  const workload = workloadNameOf(ref);
  return { namespace: namespaceOf(ref), deployment: workload, service: workload, ingress: workload };
}
