import test from 'ava';
import { actionSchemas } from './actions.ts';
import { parseCommand } from './offline.ts';

const now = new Date('2026-11-20T10:00:00Z');
const action = (text: string) => parseCommand(text, now);

// Every action from a plain command

const cases: [string, string, Record<string, unknown>][] = [
  ['create a site called shop', 'CREATE_SITE', { name: 'shop' }],
  [
    'Please make me a new site named blog-2 with test and live on the starter plan',
    'CREATE_SITE',
    { name: 'blog-2', environments: ['test', 'live'], plan: 'starter' },
  ],
  ['list my sites', 'LIST_SITES', {}],
  ['what sites do I have?', 'LIST_SITES', {}],
  ['status of shop', 'GET_STATUS', { site: 'shop' }],
  ['how is shop doing?', 'GET_STATUS', { site: 'shop' }],
  ['show the logs of shop', 'GET_LOGS', { site: 'shop' }],
  ['last 20 log lines of shop test', 'GET_LOGS', { site: 'shop', env: 'test', limit: 20 }],
  ['metrics for shop', 'GET_METRICS', { site: 'shop' }],
  ['how much cpu is shop using', 'GET_METRICS', { site: 'shop' }],
  ['what did shop cost this month', 'GET_BILLING', { site: 'shop' }],
  ['billing for shop from 2026-11-01 to 2026-11-20', 'GET_BILLING', { site: 'shop', from: '2026-11-01', to: '2026-11-20' }],
  ['what did shop cost last month', 'GET_BILLING', { site: 'shop', from: '2026-10-01', to: '2026-10-31' }],
  ['suspend shop', 'SUSPEND_SITE', { site: 'shop' }],
  ['pause the site shop', 'SUSPEND_SITE', { site: 'shop' }],
  ['resume shop', 'RESUME_SITE', { site: 'shop' }],
  [
    'deploy europe-docker.pkg.dev/p/tenants:tenant-t-abc to shop',
    'DEPLOY',
    { site: 'shop', image: 'europe-docker.pkg.dev/p/tenants:tenant-t-abc' },
  ],
  ['delete shop', 'DELETE_SITE', { site: 'shop' }],
  ['please remove the site called t-abcdefghij', 'DELETE_SITE', { site: 't-abcdefghij' }],
  ['backups of shop', 'LIST_BACKUPS', { site: 'shop' }],
  ['list the backups of shop', 'LIST_BACKUPS', { site: 'shop' }],
  ['back up shop', 'CREATE_BACKUP', { site: 'shop' }],
  ['make a backup of shop live', 'CREATE_BACKUP', { site: 'shop', env: 'live' }],
  ['restore shop from backup b20261130101500-ab12-live', 'RESTORE_BACKUP', { site: 'shop', backup: 'b20261130101500-ab12-live' }],
  [
    'restore backup b20261130101500-ab12-live of shop into test',
    'RESTORE_BACKUP',
    { site: 'shop', backup: 'b20261130101500-ab12-live', env: 'test' },
  ],
];

for (const [text, name, args] of cases) {
  test(`"${text}" becomes ${name} with arguments its schema accepts`, (t) => {
    const parsed = action(text);
    t.deepEqual(parsed, { kind: 'action', action: name, args });
    if (parsed.kind === 'action') t.true(actionSchemas()[parsed.action].safeParse(parsed.args).success);
  });
}

// What it does not understand

test('help is recognised', (t) => {
  t.deepEqual(action('help'), { kind: 'help' });
  t.deepEqual(action('What can you do?'), { kind: 'help' });
});

test('an unrelated sentence is not understood, and an action without a site asks which site', (t) => {
  t.deepEqual(action('tell me a joke'), { kind: 'unknown' });
  const missing = action('delete');
  t.is(missing.kind, 'unknown');
  t.regex((missing as { hint: string }).hint, /Which tenant\?/);
  t.regex((action('deploy to shop') as { hint: string }).hint, /Which image\?/);
});

test('"roll out release v2 to all tenants" is the admin rollout action, not a deploy', (t) => {
  t.deepEqual(parseCommand('roll out release v2 to all tenants'), { kind: 'action', action: 'ROLLOUT_RELEASE', args: { release: 'v2' } });
  t.deepEqual(parseCommand('rollout release v2.1 to the pro plan'), {
    kind: 'action',
    action: 'ROLLOUT_RELEASE',
    args: { release: 'v2.1', plan: 'pro' },
  });
  t.false(actionSchemas().ROLLOUT_RELEASE.safeParse({ release: 'v2; drop' }).success);
});
