import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from './data-dir.ts';
import { writeRunRecord } from './leftovers.ts';

const dirs: string[] = [];
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A data folder as a run before this rule left it: everything readable by everyone. */
function oldDataDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'tp-data-dir-'));
  dirs.push(parent);
  chmodSync(parent, 0o711);
  const dir = join(parent, '.data');
  mkdirSync(join(dir, 'mail'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'firestore/firestore_export_1/all_namespaces'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'runtime/envs/t-x-live/data'), { recursive: true });
  for (const d of [dir, join(dir, 'mail'), join(dir, 'firestore')]) chmodSync(d, 0o755);
  chmodSync(join(dir, 'runtime'), 0o711);
  chmodSync(join(dir, 'runtime/envs'), 0o711);
  chmodSync(join(dir, 'runtime/envs/t-x-live'), 0o711);
  writeFileSync(join(dir, 'mail/a.eml'), 'activate: /activate.html?token=secret', { mode: 0o644 });
  writeFileSync(join(dir, 'firestore/firestore_export_1/all_namespaces/output-0'), 'every document', { mode: 0o644 });
  writeFileSync(join(dir, 'cloud-tasks.json'), '{"tasks":[]}', { mode: 0o644 });
  return dir;
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('the data folder can be passed through but not listed; what the platform keeps in it is its owner’s alone', (t) => {
  const dir = oldDataDir();
  lockDataDir(dir);
  t.is(mode(dir), 0o711);
  for (const name of ['mail', 'firestore', 'logs', 'auth']) t.is(mode(join(dir, name)), 0o700, name);
  t.is(mode(join(dir, 'cloud-tasks.json')), 0o600);
  t.is(mode(join(dir, 'runtime')), 0o711, 'the local driver’s folder keeps its own modes');
  writeRunRecord(dir, { pid: 1, cmdline: 'x', projectId: 'p', processes: [] });
  t.is(mode(join(dir, 'run.json')), 0o600, 'the run record is written for the owner only');
  lockDataDir(dir);
  t.is(mode(dir), 0o711, 'a second start changes nothing');
});

// As root, the same as a tenant workload would try it: another OS user.
const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('another OS user reaches its own folder through the data folder, and reads nothing else there', (t) => {
  const dir = oldDataDir();
  const workload = { uid: 200_999, gid: 200_999 };
  const own = join(dir, 'runtime/envs/t-x-live/data');
  const try_ = (code: string) => spawnSync(process.execPath, ['-e', code], { ...workload, encoding: 'utf8' }).stdout.trim() || 'no answer';
  const read = (path: string) =>
    try_(`try { require('node:fs').readFileSync(${JSON.stringify(path)}); console.log('read') } catch (e) { console.log(e.code) }`);
  const list = (path: string) =>
    try_(`try { require('node:fs').readdirSync(${JSON.stringify(path)}); console.log('listed') } catch (e) { console.log(e.code) }`);
  // Before: an activation link and every Firestore document are one read away.
  t.is(read(join(dir, 'mail/a.eml')), 'read');
  lockDataDir(dir);
  chmodSync(own, 0o700);
  spawnSync('chown', [`${workload.uid}:${workload.gid}`, own]);
  t.is(read(join(dir, 'mail/a.eml')), 'EACCES');
  t.is(read(join(dir, 'firestore/firestore_export_1/all_namespaces/output-0')), 'EACCES');
  t.is(read(join(dir, 'cloud-tasks.json')), 'EACCES');
  t.is(list(dir), 'EACCES');
  t.is(list(own), 'listed', 'its own folder, through the data folder');
});
