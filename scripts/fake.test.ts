import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { allocatePort } from '../testing/ports.ts';
import { parseFakeArgs } from './fake.ts';

// Arguments

test('a fake is named, with an optional port in either spelling', (t) => {
  t.deepEqual(parseFakeArgs(['kubernetes']), { name: 'kubernetes', port: undefined });
  t.deepEqual(parseFakeArgs(['bigquery', '--port', '9050']), { name: 'bigquery', port: 9050 });
  t.deepEqual(parseFakeArgs(['--port=9051', 'cloud-run']), { name: 'cloud-run', port: 9051 });
});

test('a missing or unknown name, a bad port or a stray flag is refused with the usage', (t) => {
  t.throws(() => parseFakeArgs([]), { message: /usage: npm run fake -- <kubernetes\|bigquery\|cloud-run\|fly\|gemini> \[--port N\]/ });
  t.throws(() => parseFakeArgs(['kube']), { message: /no fake named "kube"; choose one of kubernetes, bigquery, cloud-run, fly, gemini/ });
  t.throws(() => parseFakeArgs(['fly', '--port', 'x']), { message: /--port must be a port number, got "x"/ });
  t.throws(() => parseFakeArgs(['fly', '--verbose']), { message: /unexpected argument "--verbose"/ });
});

// Running alone

test('the launcher starts a fake on the chosen port, prints its URL, and stops on SIGTERM', async (t) => {
  const port = await allocatePort();
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'scripts/fake.ts', 'kubernetes', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let stdout = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the launcher exited with ${code} before printing its URL`)));
    });
    t.is(stdout.trim(), `http://127.0.0.1:${port}`);
    const discovery = await fetch(`${stdout.trim()}/api`);
    t.is((await discovery.json()).kind, 'APIVersions');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    t.is(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
