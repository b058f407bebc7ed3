/**
 * Backups in the chat (issue 21): listing and making one run at once; a
 * restore is destructive, so it is checked first (an unknown backup is refused
 * before anyone is asked) and then runs only through a confirmation bound to
 * that exact call, once. The backups service itself is the API's, tested in
 * test/tenant-backups.test.ts; here a port records what the chat asks of it.
 */
import test from 'ava';
import type { Principal } from '../shared/auth/principal.ts';
import { AppError } from '../shared/errors.ts';
import { createActionExecutor, type BackupsPort } from '../shared/chat/execute.ts';
import { createMemoryTenants } from '../testing/memory-tenants.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ tasks: false, resources: false });
});
test.after.always(async () => {
  await stack?.close();
});

const BACKUP = 'b20261130101500-ab12-live';

function fakeBackups() {
  const calls: Array<{ method: string; args: unknown[] }> = [];
  const port: BackupsPort = {
    async list(_p, id) {
      calls.push({ method: 'list', args: [id] });
      return [{ id: BACKUP, env: 'live', kind: 'nightly', status: 'done', createdAt: '2026-11-30T10:15:00.000Z', sizeBytes: 2048 }];
    },
    async create(_p, id, input) {
      calls.push({ method: 'create', args: [id, input] });
      return { tenant: {} as never, backups: [`b20261130120000-cd34-${(input.env as string) ?? 'live'}`] };
    },
    async restore(_p, id, backupId, input) {
      calls.push({ method: 'restore', args: [id, backupId, input] });
      // As the backups service: an unknown backup is 404; without confirm: true, a 400 naming the field.
      if (backupId !== BACKUP) throw new AppError('not_found', `Backup ${backupId} was not found.`);
      if (input.confirm !== true) throw new AppError('validation_failed', 'send {"confirm": true}', { field: 'confirm' });
      return { id, name: 'shop', state: 'ready', environments: ['live'], urls: {}, operation: 'restore' } as never;
    },
  };
  return { port, calls };
}

test('backups are listed and made at once; a restore asks first and runs once, bound to its backup', async (t) => {
  const tenants = createMemoryTenants({ registry: stack.config.registry });
  const backups = fakeBackups();
  const executor = createActionExecutor({
    db: stack.deps.db,
    tenants,
    backups: backups.port,
    billing: { totals: async () => ({}) as never },
    config: stack.config,
    log: stack.deps.log,
    now: () => new Date(),
  });
  const alice: Principal = { uid: 'chat-backups-alice', role: 'tenant' };
  const bob: Principal = { uid: 'chat-backups-bob', role: 'tenant' };
  const shop = await tenants.create(alice, { name: 'shop' });

  const listed = await executor.propose(alice, 'conv-b', 'LIST_BACKUPS', { site: 'shop' });
  t.is(listed.kind, 'result');
  t.regex(listed.summary, new RegExp(`${BACKUP} — live, nightly, done, 2048 bytes`));
  const made = await executor.propose(alice, 'conv-b', 'CREATE_BACKUP', { site: 'shop', env: 'live' });
  t.is(made.kind, 'result');
  t.deepEqual(backups.calls.at(-1), { method: 'create', args: [shop.id, { env: 'live' }] });

  // An unknown backup is refused before anyone is asked to confirm.
  const unknown = await executor.propose(alice, 'conv-b', 'RESTORE_BACKUP', { site: 'shop', backup: 'b20261130000000-ffff-live' });
  t.like(unknown, { kind: 'failed', error: { code: 'not_found' } });
  t.like(await executor.propose(bob, 'conv-b', 'RESTORE_BACKUP', { site: 'shop', backup: BACKUP }), { kind: 'refused', code: 'not_found' });

  const asked = await executor.propose(alice, 'conv-b', 'RESTORE_BACKUP', { site: 'shop', backup: BACKUP });
  if (asked.kind !== 'confirmation_required') return t.fail(`expected a confirmation, got ${asked.kind}: ${asked.summary}`);
  t.regex(
    asked.summary,
    new RegExp(`Restore live of shop \\(${shop.id}\\) from backup ${BACKUP} — every change since that backup is replaced`),
  );
  const restores = () => backups.calls.filter((c) => c.method === 'restore' && (c.args[2] as { confirm?: boolean }).confirm === true);
  t.is(restores().length, 0, 'nothing restored before confirming');
  await t.throwsAsync(executor.claim(bob, 'conv-b', asked.confirmation.id));
  const claimed = await executor.claim(alice, 'conv-b', asked.confirmation.id);
  const done = await executor.runConfirmed(alice, claimed);
  t.is(done.kind, 'result', done.summary);
  t.deepEqual(restores(), [{ method: 'restore', args: [shop.id, BACKUP, { env: undefined, confirm: true }] }]);
  await t.throwsAsync(executor.claim(alice, 'conv-b', asked.confirmation.id), undefined, 'a confirmation runs once');
  t.is(restores().length, 1);
});
