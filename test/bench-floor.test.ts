import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import test from 'ava';
import { spawnSampleTenant } from '../bench/lib/floor.ts';
import { freePort } from '../scripts/dev/processes.ts';

test("the floor's workload starts with a workload's environment, not the bench's", async (t) => {
  if (!existsSync('/proc/self/environ')) return void t.pass('no /proc here: nothing to read the environment from');
  // What a bench process may carry and no environment gets: a CA bundle read at every start, and anything else.
  process.env.NODE_EXTRA_CA_CERTS ??= '/etc/ssl/certs/ca-certificates.crt';
  process.env.TP_BENCH_ONLY = 'the bench';
  const port = await freePort();
  const child = spawnSampleTenant(port, `/tmp/tp-bench-floor-test-${port}`);
  try {
    const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = environ.map((line) => line.slice(0, line.indexOf('=')));
    t.false(names.includes('NODE_EXTRA_CA_CERTS'), 'no CA bundle for node to read at its start');
    t.false(names.includes('TP_BENCH_ONLY'), "none of the bench's own variables");
    t.true(environ.includes(`PORT=${port}`));
  } finally {
    delete process.env.TP_BENCH_ONLY;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});
