/**
 * Helpers for release tests: publishing an app archive as an admin, and
 * following a rollout's event stream until one of the awaited events.
 */
import type { RolloutEvent } from '../shared/releases/store.ts';
import type { TestStack } from './stack.ts';

/** Publishes an archive through `POST /api/v1/images`; answers its image name. */
export async function pushImage(stack: TestStack, token: string, archive: Buffer): Promise<string> {
  const res = await stack.fetch('/api/v1/images', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/gzip' },
    body: new Blob([new Uint8Array(archive)]),
  });
  if (res.status !== 201) throw new Error(`pushing an image answered ${res.status}: ${await res.text()}`);
  return (await res.json()).image;
}

/** Creates a release through the API; answers its body. */
export async function createRelease(stack: TestStack, token: string, name: string, image: string) {
  const res = await stack.fetch('/api/v1/releases', { method: 'POST', token, json: { name, image, notes: `release ${name}` } });
  if (res.status !== 201) throw new Error(`creating release ${name} answered ${res.status}: ${await res.text()}`);
  return (await res.json()).release;
}

/**
 * Reads the rollout's SSE stream (history, then live) on the api function's own
 * URL until an event of one of `types` arrives; answers every event seen.
 */
export async function waitForRolloutEvent(
  stack: TestStack,
  rolloutId: string,
  token: string,
  types: string[],
  timeoutMs = 120_000,
): Promise<RolloutEvent[]> {
  const seen: RolloutEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  let last = '';
  // The stream ends at its deadline; reopen with Last-Event-ID until the event comes or time is up.
  while (Date.now() < deadline) {
    const res = await fetch(`${stack.streamUrl}/api/v1/rollouts/${rolloutId}/events`, {
      headers: { Authorization: `Bearer ${token}`, ...(last ? { 'Last-Event-ID': last } : {}) },
      signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
    }).catch(() => undefined);
    if (!res?.ok || !res.body) throw new Error(`the rollout's events answered ${res?.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5))
            .join('\n');
          if (!data) continue;
          const event = JSON.parse(data) as RolloutEvent;
          seen.push(event);
          last = event.id;
          if (types.includes(event.type)) {
            await res.body.cancel().catch(() => undefined);
            return seen;
          }
        }
      }
    } catch (err) {
      if (Date.now() >= deadline) break;
      if ((err as Error).name !== 'AbortError' && (err as Error).name !== 'TimeoutError') throw err;
    }
  }
  // What is stored, beside what the stream delivered: tells a stalled stream from a stalled rollout.
  const stored = await fetch(`${stack.streamUrl}/api/v1/rollouts/${rolloutId}/events?follow=false`, {
    headers: { Authorization: `Bearer ${token}` },
  })
    .then((r) => r.text())
    .catch((err: Error) => err.message);
  const rollout = await stack
    .fetch(`/api/v1/rollouts/${rolloutId}`, { token })
    .then((r) => r.text())
    .catch((err: Error) => err.message);
  throw new Error(
    `rollout ${rolloutId}: none of ${types.join(', ')} within ${timeoutMs} ms; saw ${seen.map((e) => e.type).join(', ')}\nstored events: ${stored.slice(-4000)}\nrollout: ${rollout.slice(0, 3000)}`,
  );
}

/** A client calling environments continuously; see {@link callEvery}. */
export interface ContinuousClient {
  /** Every failed call: a status other than 2xx, or a connection error, with the URL. */
  readonly failures: string[];
  /** Calls answered with a 2xx. */
  readonly ok: number;
  /** Stops calling; resolves once every call in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Calls each of `urls` in a loop (one call at a time per URL, `pauseMs` apart;
 * fetch keeps its connections alive) until stopped, counting what failed.
 * Used by the tests and the rollout bench to show updates lose no request.
 */
export function callEvery(urls: string[], pauseMs = 50): ContinuousClient {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loops = urls.map(async (url) => {
    while (running) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 300) ok += 1;
        else failures.push(`${url}: ${res.status}`);
      } catch (error) {
        failures.push(`${url}: ${String((error as Error).cause ?? error)}`);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    failures,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
