/**
 * `npm start`'s part in keeping local tenants off the platform's ports: the
 * firewall tool is installed when it can be (root, apt-get), and the banner
 * says whether tenant processes are kept from this machine's own addresses
 * (shared/runtime/local/network.ts), and if not, why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LocalDriver } from '../../shared/runtime/index.ts';

const root = resolve(import.meta.dirname, '../..');

/** As root, installs iptables through scripts/ensure-tools.sh when it is missing; otherwise does nothing (the banner says the isolation is off). */
export function ensureFirewallTool(): void {
  if (process.getuid?.() !== 0) return;
  if (['/usr/sbin/iptables', '/sbin/iptables'].some((p) => existsSync(p))) return;
  spawnSync('bash', [resolve(root, 'scripts/ensure-tools.sh'), 'iptables'], { stdio: 'inherit' });
}

/** The banner's words for the local driver's network isolation. */
export function describeTenantNetwork(driver: LocalDriver): string {
  const { isolated, chain, reason } = driver.network;
  return isolated ? `isolated from local ports (firewall chain ${chain})` : `NOT isolated: ${reason}`;
}
