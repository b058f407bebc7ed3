/**
 * Short-lived access tokens for a service account through the IAM Credentials
 * API (`IAMCredentialsClient.generateAccessToken`,
 * https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken).
 * The caller needs `roles/iam.serviceAccountTokenCreator` on that account; the
 * answer is `{accessToken, expireTime}`.
 */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface TokenMinter {
  mint(email: string, lifetimeSeconds: number): Promise<{ token: string; expiresAt: string }>;
  close(): Promise<void>;
}

/** A minter whose client is loaded on first use; `clientOptions` as for every `@google-cloud/*` client. */
export function createTokenMinter(clientOptions: Record<string, unknown> = {}): TokenMinter {
  let client: Promise<any> | undefined;
  return {
    async mint(email, lifetimeSeconds) {
      client ??= import('@google-cloud/iam-credentials').then(
        (mod: any) => new (mod.IAMCredentialsClient ?? mod.default.IAMCredentialsClient)(clientOptions),
      );
      const [answer] = await (await client).generateAccessToken({
        name: `projects/-/serviceAccounts/${email}`,
        scope: [CLOUD_PLATFORM_SCOPE],
        lifetime: { seconds: lifetimeSeconds },
      });
      const seconds = Number(answer.expireTime?.seconds ?? 0);
      return { token: answer.accessToken, expiresAt: new Date(seconds * 1000).toISOString() };
    },
    async close() {
      const pending = client;
      client = undefined;
      if (pending) await (await pending).close();
    },
  };
}
