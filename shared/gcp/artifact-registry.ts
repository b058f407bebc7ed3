/**
 * Artifact Registry API v1 for tenant repositories and tag resolution
 * (https://cloud.google.com/artifact-registry/docs/reference/rest):
 * `POST v1/{parent}/repositories?repositoryId=` with a Repository
 * `{format: 'DOCKER'}` (a long-running Operation), get/delete
 * `v1/{name}`, `GET …:getIamPolicy` / `POST …:setIamPolicy {policy}`, and
 * `GET v1/{repo}/packages/{package}/tags/{tag}` whose Tag `version` names the
 * digest (`…/versions/sha256:…`; slashes in package ids are sent as `%2F`).
 */
import { addGrants, type Grant, type Policy } from './policy.ts';
import { isStatus, type GoogleRest } from './rest.ts';

const AR = 'artifactregistry';

export const repositoryName = (projectId: string, location: string, repositoryId: string) =>
  `projects/${projectId}/locations/${location}/repositories/${repositoryId}`;

/** Looks the repository up and creates it when missing (409 ALREADY_EXISTS is fine); waits until it can be read. */
export async function ensureRepository(rest: GoogleRest, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await rest.call(AR, 'GET', `v1/${name}`);
    return;
  } catch (error) {
    if (!isStatus(error, 'NOT_FOUND')) throw error;
  }
  const [parent, id] = [name.slice(0, name.lastIndexOf('/repositories/')), name.split('/').pop()!];
  try {
    let operation = await rest.call(AR, 'POST', `v1/${parent}/repositories?repositoryId=${encodeURIComponent(id)}`, {
      format: 'DOCKER',
      description: 'tenantplane: images of one tenant',
      labels,
    });
    for (let i = 0; !operation.done && i < 30; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      operation = await rest.call(AR, 'GET', `v1/${operation.name}`);
    }
    if (operation.error) throw new Error(`creating repository ${name} failed: ${operation.error.message}`);
  } catch (error) {
    if (!isStatus(error, 'ALREADY_EXISTS')) throw error;
  }
}

/** Deletes the repository with its images; one already gone is fine. */
export async function deleteRepository(rest: GoogleRest, name: string): Promise<void> {
  try {
    await rest.call(AR, 'DELETE', `v1/${name}`);
  } catch (error) {
    if (!isStatus(error, 'NOT_FOUND')) throw error;
  }
}

/** Grants roles on this repository alone. */
export async function grantOnRepository(rest: GoogleRest, name: string, grants: Grant[]): Promise<boolean> {
  return addGrants(
    () => rest.call<Policy>(AR, 'GET', `v1/${name}:getIamPolicy`),
    (policy) => rest.call(AR, 'POST', `v1/${name}:setIamPolicy`, { policy }),
    grants,
  );
}

/** The digest (`sha256:…`) a tag points to, or undefined when the image or tag does not exist. */
export async function resolveTag(rest: GoogleRest, repository: string, image: string, tag: string): Promise<string | undefined> {
  try {
    const found = await rest.call<{ version?: string }>(
      AR,
      'GET',
      `v1/${repository}/packages/${encodeURIComponent(image)}/tags/${encodeURIComponent(tag)}`,
    );
    const version = decodeURIComponent(found.version?.split('/versions/').pop() ?? '');
    return /^sha256:[a-f0-9]{64}$/.test(version) ? version : undefined;
  } catch (error) {
    if (isStatus(error, 'NOT_FOUND')) return undefined;
    throw error;
  }
}
