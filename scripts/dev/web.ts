import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** Builds the web front end (web/src → web/public/assets) when the project has one; throws with its output on failure. */
export async function buildWeb(): Promise<void> {
  const script = join(root, 'scripts/build-web.ts');
  if (!existsSync(script) || !existsSync(join(root, 'web/src'))) return;
  const result = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`Building the web pages failed:\n${result.stdout}${result.stderr}`);
}
