import test from 'ava';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { checkPrerequisites, PrerequisiteError } from './emulators.ts';

const javaDir = dirname(execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim());

/**
 * A gcloud SDK folder with `bin/gcloud` linked from a PATH folder, like the Debian package lays out; its
 * `gcloud` prints `components` for any command. With `jar`, the Firestore emulator's jar is in place.
 */
function fakeSdk(t: { teardown(fn: () => void): void }, options: { jar: boolean; components: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tp-fake-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sdk/bin'), { recursive: true });
  mkdirSync(join(dir, 'path'));
  writeFileSync(join(dir, 'sdk/bin/gcloud'), `#!/bin/sh\necho ${options.components}\n`);
  chmodSync(join(dir, 'sdk/bin/gcloud'), 0o755);
  symlinkSync('../sdk/bin/gcloud', join(dir, 'path/gcloud'));
  if (options.jar) {
    mkdirSync(join(dir, 'sdk/platform/cloud-firestore-emulator'), { recursive: true });
    writeFileSync(join(dir, 'sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'), '');
  }
  return `${join(dir, 'path')}:${javaDir}`;
}

function checkWithPath(path: string): void {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    checkPrerequisites();
  } finally {
    process.env.PATH = saved;
  }
}

test.serial("the emulator's jar in the SDK of gcloud on PATH is enough, without asking gcloud", (t) => {
  // This gcloud lists no component: asking it would fail the check.
  t.notThrows(() => checkWithPath(fakeSdk(t, { jar: true, components: 'bq' })));
});

test.serial('without the jar there, gcloud is asked which components it has', (t) => {
  t.notThrows(() => checkWithPath(fakeSdk(t, { jar: false, components: 'cloud-firestore-emulator' })));
  const error = t.throws(() => checkWithPath(fakeSdk(t, { jar: false, components: 'bq' })), { instanceOf: PrerequisiteError });
  t.regex(error.message, /gcloud components install cloud-firestore-emulator/);
});

test.serial('no gcloud on PATH says how to install the SDK', (t) => {
  // A PATH with java alone (linked, since java's own folder may hold a gcloud too).
  const dir = mkdtempSync(join(tmpdir(), 'tp-no-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(javaDir, 'java'), join(dir, 'java'));
  const error = t.throws(() => checkWithPath(dir), { instanceOf: PrerequisiteError });
  t.regex(error.message, /The gcloud SDK is missing/);
});
