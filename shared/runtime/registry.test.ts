import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDriver, DRIVER_NAMES } from './index.ts';
import { DriverError } from './types.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Driver folders: one per driver, whose index.ts exports `createXDriver`. */
function listDriverFolders(): string[] {
  return readdirSync(HERE, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(HERE, entry.name, 'index.ts')))
    .map((entry) => entry.name)
    .filter((name) => /export \{[^}]*\bcreate\w+Driver\b/.test(readFileSync(join(HERE, name, 'index.ts'), 'utf8')));
}

let dataDir = '';
test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'runtime-registry-'));
});
test.after.always(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Reaching a driver means createDriver gets past the switch: it returns one, or the driver itself names a missing option. */
function isReachable(name: string): { reachable: boolean; why?: string } {
  try {
    const driver = createDriver({ driver: name, local: { dataDir } });
    return { reachable: driver.name === name, why: `createDriver returned driver ${JSON.stringify(driver.name)}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const blocked = /unknown runtime driver/.test(message);
    return { reachable: !blocked, why: message };
  }
}

// Registration

test('every driver folder in shared/runtime is reachable through createDriver', (t) => {
  const folders = listDriverFolders();
  t.true(folders.includes('local'), `driver folders found: ${folders.join(', ')}`);
  for (const name of folders) {
    t.true((DRIVER_NAMES as readonly string[]).includes(name), `${name}/ is a driver folder but "${name}" is not in DRIVER_NAMES`);
    const { reachable, why } = isReachable(name);
    t.true(reachable, `${name}/ exists but createDriver({ driver: "${name}" }) does not reach it: ${why}`);
  }
});

test('every documented driver name has its driver folder', (t) => {
  const folders = listDriverFolders();
  for (const name of DRIVER_NAMES)
    t.true(folders.includes(name), `DRIVER_NAMES lists "${name}" but shared/runtime/${name}/index.ts exports no create…Driver`);
});

// Configuration errors

test('an unknown driver name is rejected naming the bad value and the valid ones', (t) => {
  const error = t.throws(() => createDriver({ driver: 'docker' }), { instanceOf: DriverError });
  t.is(error?.code, 'not_configured');
  t.regex(error!.message, /"docker"/);
  for (const name of DRIVER_NAMES) t.true(error!.message.includes(`"${name}"`), `message should list "${name}"`);
});

test('the local driver without its options names the missing dataDir', (t) => {
  const error = t.throws(() => createDriver({ driver: 'local' }), { instanceOf: DriverError });
  t.regex(error!.message, /dataDir/);
});
