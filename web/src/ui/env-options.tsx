import { ENV_LABELS, type Tenant } from '../lib/tenants.ts';

/** A tenant's environments as the `<option>`s of an environment picker. */
export function EnvOptions({ tenant }: { tenant: Tenant }) {
  return (
    <>
      {tenant.environments.map((e) => (
        <option key={e} value={e}>
          {ENV_LABELS[e]}
        </option>
      ))}
    </>
  );
}
