/**
 * Where an environment's folders lie under the dataDir. Kept apart so the
 * records (which create the folders) and the lifecycle (which starts the
 * process in them) both name them without importing each other.
 */
import { join } from 'node:path';
import type { ResolvedLocalOptions } from './options.ts';

export function envDir(opts: ResolvedLocalOptions, key: string): string {
  return join(opts.dataDir, 'envs', key);
}

export function logDirOf(opts: ResolvedLocalOptions, key: string): string {
  return join(envDir(opts, key), 'logs');
}
