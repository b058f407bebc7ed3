/**
 * The runtime's word on environments that should be running: every minute
 * (with the operation sweep, `POST /tasks/provision-sweep`) each environment
 * recorded `ready` of a `ready` tenant with no operation running is asked for
 * its status; one the driver reports `failed` (its process exited, its service
 * failed) is recorded failed, with an `environment_failed` event, and its
 * owner gets one mail (shared/tenants/failure-mail.ts). The failure is named by
 * the environment record's last update, so a check that runs twice, or on two
 * instances at once, mails once; the environment mails again only after it was
 * ready again (a resume, deploy or restart rewrites the record) and failed again.
 */
import type { Deps } from '../deps.ts';
import { appendEvent, envPath, getTenantDoc, tenantPath, type TenantDoc } from '../store/tenants.ts';
import { addFailureMail, enqueueFailureMail, failureMailQueued, ownerAddress } from './failure-mail.ts';
import type { EnvironmentRecord } from './types.ts';

export interface HealthCheckResult {
  checked: number;
  failed: string[];
}

export async function checkEnvironmentHealth(deps: Deps): Promise<HealthCheckResult> {
  const { db } = deps;
  const result: HealthCheckResult = { checked: 0, failed: [] };
  const tenants = await db.collection('tenants').where('state', '==', 'ready').get();
  for (const doc of tenants.docs) {
    const tenant = doc.data() as TenantDoc;
    if (tenant.operation) continue; // an operation owns the environments while it runs
    const envs = await db
      .collection(`${tenantPath(tenant.id)}/environments`)
      .where('status', '==', 'ready')
      .get();
    for (const envDoc of envs.docs) {
      const record = envDoc.data() as EnvironmentRecord & { updatedAt?: string };
      result.checked++;
      const status = await deps
        .runtime(tenant.driver)
        .status({ ownerId: tenant.ownerId, tenantId: tenant.id, env: record.env })
        .catch(() => undefined); // an unreachable runtime API is not the environment failing
      if (status?.state !== 'failed') continue;
      if (await recordRuntimeFailure(deps, tenant, record, status.message ?? 'the runtime reports it failed')) {
        result.failed.push(`${tenant.id}/${record.env}`);
      }
    }
  }
  return result;
}

async function recordRuntimeFailure(
  deps: Deps,
  tenant: TenantDoc,
  record: EnvironmentRecord & { updatedAt?: string },
  message: string,
): Promise<boolean> {
  const { db, now } = deps;
  const failure = {
    env: record.env,
    what: 'the runtime reported it failed',
    reason: message.slice(0, 500),
    key: `runtime-${record.updatedAt ?? ''}`,
  };
  const to = await ownerAddress(deps, tenant);
  const outcome = await db.runTransaction(async (tx) => {
    const t = await getTenantDoc(db, tenant.id, tx);
    const current = (await tx.get(db.doc(envPath(tenant.id, record.env)))).data() as
      | (EnvironmentRecord & { updatedAt?: string })
      | undefined;
    // Only if nothing changed since the check read it: an operation that started meanwhile owns it now.
    if (t?.state !== 'ready' || t.operation || current?.status !== 'ready' || current.updatedAt !== record.updatedAt) return undefined;
    const mailed = to ? await failureMailQueued(db, tx, t.id, failure) : true;
    const at = now().toISOString();
    const eventSeq = appendEvent(
      db,
      tx,
      t,
      { type: 'environment_failed', message: `${record.env} failed: ${failure.reason}`, env: record.env, data: { code: 'runtime_failed' } },
      now(),
    );
    tx.update(db.doc(envPath(t.id, record.env)), {
      status: 'failed',
      error: { code: 'runtime_failed', message: failure.reason },
      updatedAt: at,
    });
    tx.update(db.doc(tenantPath(t.id)), { eventSeq, updatedAt: at });
    return { mailId: mailed ? undefined : addFailureMail(deps, tx, t, to, failure, now()) };
  });
  if (!outcome) return false;
  await enqueueFailureMail(deps, outcome.mailId);
  return true;
}
