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
  throw new Error(`rollout ${rolloutId}: none of ${types.join(', ')} within ${timeoutMs} ms; saw ${seen.map((e) => e.type).join(', ')}`);
}
