/**
 * A rollout to 100 environments (issue 20) on the local runtime, through the
 * whole platform (API, Cloud Tasks driving the steps, the local driver
 * updating each environment beside its old version), while a client calls
 * every environment the whole time:
 * - `rolloutHundredSeconds`: `POST /api/v1/rollouts` until `rollout_succeeded`,
 *   default waves (canary 1 → 10 % → 50 % → rest), `maxParallel` 10, soak 2 s.
 *   Baseline: 100 single deploys one after another (100 × `deploySingleMs`).
 * - `rolloutWave<N>Seconds`: each wave, `wave_started` → `wave_done` (its
 *   updates and its soak), from the events' own timestamps; `rolloutWaveSeconds`
 *   is their mean.
 * - `rolloutFailedRequests`: calls of the client that failed (a status other
 *   than 2xx, or a connection error) during the rollout; the aim is 0.
 *   `rolloutClientRequests` says how many it made.
 * - `deploySingleMs`: in the same run, one environment moved to the release by
 *   a rollout of one of them to another release (one wave, no soak), until its
 *   `rollout_succeeded`: the cost of one deploy through the same machinery.
 *
 * Run directly: `npx tsx bench/rollout.ts [environments]`.
 */
import { createRelease, callEvery, pushImage, waitForRolloutEvent } from '../testing/rollouts.ts';
import { makeNodeApp } from '../testing/tar.ts';
import { createTestUser } from '../testing/users.ts';
import type { RolloutEvent } from '../shared/releases/store.ts';
import { ensureEmulators, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { mapLimit } from './lib/stats.ts';

export async function benchRollout(opts: { environments?: number; maxParallel?: number; soakSeconds?: number } = {}): Promise<BenchReport> {
  const count = opts.environments ?? 100;
  const maxParallel = opts.maxParallel ?? 10;
  const soakSeconds = opts.soakSeconds ?? 2;
  const stopEmulators = await ensureEmulators();
  // A deploy's health wait as in production; leases long enough for 10 environments updating side by side on a slow machine.
  const platform = await startBenchPlatform({ env: { PROVISION_READY_TIMEOUT_MS: '60000' } });
  const { stack } = platform;
  const admin = await createTestUser(stack.deps, { role: 'admin' });
  try {
    await createRelease(
      stack,
      admin.token,
      'bench-v1',
      await pushImage(stack, admin.token, makeNodeApp({ name: 'bench-app', version: '1.0.0' })),
    );
    await createRelease(
      stack,
      admin.token,
      'bench-v2',
      await pushImage(stack, admin.token, makeNodeApp({ name: 'bench-app', version: '2.0.0' })),
    );
    const fleet = await mapLimit([...Array(count).keys()], 6, async (i) => {
      const tenant = await platform.createTenant(`rollout-${i}`);
      const events = await platform.waitReady(tenant.id, 300_000);
      return { id: tenant.id, url: events.find((e) => e.type === 'environment_ready')?.data?.url as string };
    });
    const single = fleet[0];

    const start = async (body: unknown) => {
      const res = await stack.fetch('/api/v1/rollouts', { method: 'POST', token: admin.token, json: body });
      if (res.status !== 202) throw new Error(`benchRollout: starting a rollout answered ${res.status}: ${await res.text()}`);
      return (await res.json()).rollout as { id: string };
    };
    const finish = async (id: string, timeoutMs: number, accept = ['rollout_succeeded']) => {
      const events = await waitForRolloutEvent(
        stack,
        id,
        admin.token,
        ['rollout_succeeded', 'rollout_paused', 'rollout_failed'],
        timeoutMs,
      );
      const last = events.at(-1)!;
      if (!accept.includes(last.type)) throw new Error(`benchRollout: rollout ${id} ended ${last.type}: ${last.message}`);
      return events;
    };

    // The baseline: one environment, one deploy (to v1; the fleet's rollout then takes it to v2 like the others).
    const singleStarted = performance.now();
    const one = await start({ release: 'bench-v1', target: { ids: [single.id] }, strategy: { waves: ['100%'], soakSeconds: 0 } });
    await finish(one.id, 120_000);
    const deploySingleMs = performance.now() - singleStarted;

    const client = callEvery(
      fleet.map((t) => t.url),
      200,
    );
    let events: RolloutEvent[];
    const started = performance.now();
    try {
      const rollout = await start({
        release: 'bench-v2',
        target: { ids: fleet.map((t) => t.id) },
        strategy: { maxParallel, soakSeconds, errorBudget: 5 },
      });
      // A few environments failing on an overloaded machine are reported, not fatal (error budget 5 per wave).
      events = await finish(rollout.id, 30 * 60_000, ['rollout_succeeded', 'rollout_paused']);
    } finally {
      await client.stop();
    }
    const seconds = (performance.now() - started) / 1000;

    const waves = new Map<number, { from?: number; to?: number }>();
    for (const e of events) {
      if (e.wave === undefined || e.wave === null) continue;
      const w = waves.get(e.wave) ?? {};
      if (e.type === 'wave_started') w.from = Date.parse(e.at);
      if (e.type === 'wave_done') w.to = Date.parse(e.at);
      waves.set(e.wave, w);
    }
    const waveSeconds = [...waves.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, w]) => (w.from !== undefined && w.to !== undefined ? (w.to - w.from) / 1000 : Number.NaN));
    const figures: BenchReport['figures'] = {
      rolloutHundredSeconds: {
        value: seconds,
        unit: 's',
        baseline: (count * deploySingleMs) / 1000,
        baselineLabel: `${count} single deploys one after another`,
      },
      rolloutWaveSeconds: { value: waveSeconds.reduce((a, b) => a + b, 0) / waveSeconds.length, unit: 's' },
      ...Object.fromEntries(waveSeconds.map((s, i) => [`rolloutWave${i}Seconds`, { value: s, unit: 's' }])),
      rolloutFailedRequests: { value: client.failures.length, unit: 'requests' },
      rolloutFailedEnvironments: { value: events.filter((e) => e.type === 'environment_failed').length, unit: 'environments' },
      rolloutClientRequests: { value: client.ok + client.failures.length, unit: 'requests' },
      deploySingleMs: { value: deploySingleMs, unit: 'ms' },
    };
    return {
      name: `rollout (${count} environments, maxParallel ${maxParallel}, soak ${soakSeconds} s)`,
      figures,
      notes: [
        ...events.filter((e) => e.type === 'wave_started').map((e) => e.message),
        `ended ${events.at(-1)!.type}`,
        ...events.filter((e) => e.type === 'environment_failed' || e.type === 'environment_unhealthy').map((e) => e.message),
        ...client.failures.slice(0, 5).map((f) => `failed call: ${f}`),
      ],
    };
  } finally {
    await platform.close();
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchRollout({ environments: process.argv[2] ? Number(process.argv[2]) : undefined });
  console.log(formatTable([report]));
  for (const note of report.notes ?? []) console.log(`  · ${note}`);
  process.exit(0);
}
