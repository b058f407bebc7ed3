/** The launch page's progress: how much of one provisioning run its events show done. */
import type { EnvName, TenantEvent } from './tenants.ts';

/**
 * Milestones of one provisioning run: three for the tenant, and per
 * environment its data (`dataEvents`: `database_ready`, `bucket_ready` as the
 * plan's blueprint gives them) then three more. Returns 0 to 1.
 */
export function progressOf(events: TenantEvent[], envs: EnvName[], dataEvents: string[] = []): number {
  const perEnv = [...dataEvents, 'infrastructure_ready', 'deploy_started', 'environment_ready'];
  const whole = ['provisioning_started', 'secrets_stored', 'tenant_ready'];
  const done = new Set(
    events.filter((e) => whole.includes(e.type) || (e.env && perEnv.includes(e.type))).map((e) => `${e.type}:${e.env ?? ''}`),
  );
  return Math.min(1, done.size / (whole.length + perEnv.length * envs.length));
}
