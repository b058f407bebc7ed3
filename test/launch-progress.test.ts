import test from 'ava';
import { progressOf } from '../web/src/lib/progress.ts';
import { dataMilestones } from '../web/src/lib/config.ts';
import type { TenantEvent } from '../web/src/lib/tenants.ts';

const at = '2026-11-30T10:00:00.000Z';
const ev = (type: string, env?: 'demo' | 'test' | 'live'): TenantEvent => ({ id: type + (env ?? ''), type, env, message: '', at });

test('database_ready and bucket_ready count as steps of each environment when the plan gives them', (t) => {
  const data = dataMilestones(
    { firebase: { apiKey: '', authDomain: '', projectId: '' }, tenantData: { default: { database: true, bucket: true } } },
    'free',
  );
  t.deepEqual(data, ['database_ready', 'bucket_ready']);
  const events = [ev('provisioning_started'), ev('secrets_stored'), ev('database_ready', 'live'), ev('bucket_ready', 'live')];
  // 3 tenant steps + 5 per environment: four of eight are done.
  t.is(progressOf(events, ['live'], data), 4 / 8);
  t.is(
    progressOf(
      [...events, ev('infrastructure_ready', 'live'), ev('deploy_started', 'live'), ev('environment_ready', 'live'), ev('tenant_ready')],
      ['live'],
      data,
    ),
    1,
  );
});

test('without data resources the bar counts as before, and a plan of its own overrides the default', (t) => {
  const config = {
    firebase: { apiKey: '', authDomain: '', projectId: '' },
    tenantData: { default: { database: false, bucket: false }, pro: { database: true, bucket: false } },
  };
  t.deepEqual(dataMilestones(config, 'free'), []);
  t.deepEqual(dataMilestones(config, 'pro'), ['database_ready']);
  t.deepEqual(dataMilestones({ firebase: config.firebase }, 'pro'), [], 'an older platform says nothing');
  t.is(
    progressOf([ev('provisioning_started'), ev('database_ready', 'live')], ['live'], []),
    1 / 6,
    'an event not counted does not move the bar',
  );
});
