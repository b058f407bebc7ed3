/**
 * The runtime state file as one process keeps it between reads (state.ts):
 * what it read or wrote last is served again only while the file is that
 * version; a write by another process, or by hand, is read anew.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readState, statePath, updateRecord, type EnvRecord } from './state.ts';

const record = (tenantId: string, port: number): EnvRecord => ({
  ref: { ownerId: 'u-1', tenantId, env: 'live' },
  port,
  desired: 'none',
  runningSeconds: 0,
  requests: 0,
  createdAt: '2026-12-03T00:00:00.000Z',
});

function folder(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tp-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('what this process wrote is read back; changing the copy read changes nothing kept', async (t) => {
  const dir = folder(t);
  await updateRecord(dir, 'a-live', () => record('a', 40001));
  const first = await readState(dir);
  t.deepEqual(Object.keys(first.environments), ['a-live']);
  delete first.environments['a-live'];
  t.deepEqual(Object.keys((await readState(dir)).environments), ['a-live'], 'a reader’s changes stay its own');
  await updateRecord(dir, 'b-live', () => record('b', 40002));
  t.deepEqual(Object.keys((await readState(dir)).environments).sort(), ['a-live', 'b-live']);
  t.deepEqual(Object.keys(JSON.parse(readFileSync(statePath(dir), 'utf8')).environments).sort(), ['a-live', 'b-live']);
});

test('a write by another process (a file renamed over it) is read anew, and kept by the next change', async (t) => {
  const dir = folder(t);
  await updateRecord(dir, 'a-live', () => record('a', 40001));
  await readState(dir);
  // Another process writes as the driver does: a new file renamed into place.
  const other = { version: 1, environments: { 'a-live': record('a', 40001), 'c-live': record('c', 40003) } };
  writeFileSync(`${statePath(dir)}.other.tmp`, JSON.stringify(other));
  renameSync(`${statePath(dir)}.other.tmp`, statePath(dir));
  t.deepEqual(Object.keys((await readState(dir)).environments).sort(), ['a-live', 'c-live']);
  await updateRecord(dir, 'd-live', () => record('d', 40004));
  t.deepEqual(Object.keys((await readState(dir)).environments).sort(), ['a-live', 'c-live', 'd-live'], 'the other process’s record kept');
});

test('a file edited in place, or removed, is seen', async (t) => {
  const dir = folder(t);
  await updateRecord(dir, 'a-live', () => record('a', 40001));
  await readState(dir);
  const edited = JSON.parse(readFileSync(statePath(dir), 'utf8'));
  edited.environments['a-live'].port = 40999;
  writeFileSync(statePath(dir), JSON.stringify(edited));
  t.is((await readState(dir)).environments['a-live'].port, 40999);
  rmSync(statePath(dir));
  t.deepEqual(await readState(dir), { version: 1, environments: {} });
});
