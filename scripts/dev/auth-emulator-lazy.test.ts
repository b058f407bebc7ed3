import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const preload = join(import.meta.dirname, 'auth-emulator-lazy.cjs');

/** What exegesis, loaded as firebase-tools loads it, makes of an Auth emulator's options, with or without the preload. */
function lazyFlag(withPreload: boolean): unknown {
  const script = [
    "const { createRequire } = require('node:module');",
    "const fromTools = createRequire(require.resolve('firebase-tools/package.json'));",
    "process.stdout.write(JSON.stringify(fromTools('exegesis/lib/options').compileOptions({ controllers: {} }).lazyCompileValidationSchemas));",
  ].join('');
  const args = [...(withPreload ? ['--require', preload] : []), '-e', script];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
}

test('the Auth emulator preload makes exegesis compile validators on first use, which firebase-tools leaves off', (t) => {
  // If firebase-tools stops loading exegesis this way, the preload does nothing and this says so.
  t.false(lazyFlag(false));
  t.true(lazyFlag(true));
});
