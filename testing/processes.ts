import { readdirSync, readFileSync } from 'node:fs';

/** Live workload processes of a tenant, read from /proc (what really runs, not what a driver believes). */
export function tenantProcesses(tenantId: string): Array<{ pid: number; env: string }> {
  const found: Array<{ pid: number; env: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(`TENANT_ID=${tenantId}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie is already gone
      found.push({ pid: Number(entry), env: environ.find((v) => v.startsWith('ENV_NAME='))?.slice(9) ?? '' });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
