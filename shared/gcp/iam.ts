/**
 * IAM admin API v1 for tenant service accounts
 * (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts):
 * create `POST v1/projects/{p}/serviceAccounts {accountId, serviceAccount}`,
 * get/delete `v1/projects/{p}/serviceAccounts/{email}`, and the account's own
 * policy through `POST …:getIamPolicy` / `POST …:setIamPolicy {policy}`.
 */
import { addGrants, type Grant, type Policy } from './policy.ts';
import { isStatus, type GoogleRest } from './rest.ts';

const accountPath = (projectId: string, email: string) => `v1/projects/${projectId}/serviceAccounts/${email}`;

/** Looks the account up and creates it when missing; a concurrent creator (409 ALREADY_EXISTS) is fine. Returns its email. */
export async function ensureServiceAccount(rest: GoogleRest, projectId: string, accountId: string, displayName: string): Promise<string> {
  const email = `${accountId}@${projectId}.iam.gserviceaccount.com`;
  try {
    await rest.call('iam', 'GET', accountPath(projectId, email));
    return email;
  } catch (error) {
    if (!isStatus(error, 'NOT_FOUND')) throw error;
  }
  try {
    await rest.call('iam', 'POST', `v1/projects/${projectId}/serviceAccounts`, {
      accountId,
      serviceAccount: { displayName, description: 'tenantplane tenant identity' },
    });
  } catch (error) {
    if (!isStatus(error, 'ALREADY_EXISTS')) throw error;
  }
  return email;
}

/** Deletes the account; an account already gone is fine. */
export async function deleteServiceAccount(rest: GoogleRest, projectId: string, email: string): Promise<void> {
  try {
    await rest.call('iam', 'DELETE', accountPath(projectId, email));
  } catch (error) {
    if (!isStatus(error, 'NOT_FOUND')) throw error;
  }
}

/** Grants roles on the service account itself (not the project), e.g. token creation to the platform's identity. */
export async function grantOnServiceAccount(rest: GoogleRest, projectId: string, email: string, grants: Grant[]): Promise<boolean> {
  const path = accountPath(projectId, email);
  return addGrants(
    () => rest.call<Policy>('iam', 'POST', `${path}:getIamPolicy`, {}),
    (policy) => rest.call('iam', 'POST', `${path}:setIamPolicy`, { policy }),
    grants,
  );
}
