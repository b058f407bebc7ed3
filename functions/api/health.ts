import type { Deps } from '../../shared/deps.ts';

export type DependencyStatus = { status: 'up' | 'down'; latencyMs: number; error?: string };

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (err as Error).message.split('\n')[0] };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks each dependency in parallel: store (a read), queue (the provision queue), auth (a user lookup), mail (provider handshake). */
export async function checkHealth(deps: Deps, timeoutMs = 10_000) {
  const [store, queue, auth, mail] = await Promise.all([
    probe(() => deps.db.doc('health/ping').get(), timeoutMs),
    probe(async () => (await deps.queue.client()).getQueue({ name: deps.queue.queuePath('provision') }), timeoutMs),
    probe(async () => (await deps.auth()).listUsers(1), timeoutMs),
    probe(() => deps.mailer.verify(), timeoutMs),
  ]);
  const dependencies = { store, queue, auth, mail };
  const ok = Object.values(dependencies).every((d) => d.status === 'up');
  return { status: ok ? ('ok' as const) : ('degraded' as const), mode: deps.config.mode, dependencies };
}
