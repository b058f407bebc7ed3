import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import test from 'ava';
import { startCpuMeter } from '../bench/lib/cpu.ts';
import { SAMPLE_TENANT_SERVER } from '../shared/runtime/local/options.ts';

/** Spins until this process has used `ms` more of CPU time (not wall time, so a busy machine only makes it slower). */
const BUSY = (ms: number) => `const s=process.cpuUsage();while((process.cpuUsage(s).user+process.cpuUsage(s).system)/1000<${ms});`;

test('the CPU meter counts this process as the stack and a tenant workload it started as the tenants', async (t) => {
  if (!existsSync('/proc/self/stat')) return void t.pass('no /proc here: the meter reports nothing');
  const meter = startCpuMeter(50);
  new Function(BUSY(300))();
  // A child whose command line names the sample tenant counts as a tenant; its time is counted after it exits.
  const child = spawn(process.execPath, ['-e', BUSY(300), SAMPLE_TENANT_SERVER], { stdio: 'ignore' });
  await once(child, 'exit');
  const account = meter.stop();
  t.truthy(account);
  t.true(account!.parts.stack >= 0.25, `stack ${account!.parts.stack} s`);
  t.true(account!.parts.tenants >= 0.25, `tenants ${account!.parts.tenants} s`);
  t.is(account!.parts.firestore, 0);
  t.true(account!.seconds > 0);
});
