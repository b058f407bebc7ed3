import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Principal } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { createStreamGate } from '../../../shared/http/stream-gate.ts';
import type { Context } from '../../../shared/http/wrap.ts';
import { streamSequencedEvents } from './events.ts';

interface Ev {
  id: string;
  type: string;
}
const ev = (n: number): Ev => ({ id: String(n).padStart(8, '0'), type: `e${n}` });
const streams = { url: 'http://x/{name}', heartbeatMs: 10_000, deadlineMs: 2_000, perUser: 5 };
const deps = { config: { streams } } as unknown as Deps;
const quiet = { warn() {}, info() {}, error() {}, debug() {}, child: () => quiet } as unknown as Context['log'];

/**
 * A log whose listener loses what `lose` names, as the Firestore emulator's
 * listener lost events committed while it was being set up; `stored` is what
 * a read of the log returns.
 */
async function serve(stored: Ev[], live: (push: (e: Ev) => void, ready: () => void) => void): Promise<{ server: Server; url: string }> {
  const gate = createStreamGate(streams);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const ctx = { req, res, url, log: quiet, header: (n: string) => req.headers[n] as string | undefined } as unknown as Context;
    void streamSequencedEvents<Ev>(deps, gate, ctx, { uid: 'u1' } as Principal, {
      history: async (afterId) => stored.filter((e) => !afterId || e.id > afterId),
      watch: (_after, onEvent, _onError, onReady) => {
        live(onEvent, onReady);
        return () => {};
      },
      logFields: {},
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** The event ids of the stream until `count` arrived (or the deadline closed it). */
async function ids(url: string, count: number): Promise<string[]> {
  const res = await fetch(url);
  const reader = res.body!.getReader();
  let text = '';
  const seen = () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
  while (seen().length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  await reader.cancel();
  return seen();
}

test('events committed while the listener was set up, which its first snapshot lacks, are read once it is ready', async (t) => {
  const stored = [ev(1), ev(2)];
  const { server, url } = await serve(stored, (_push, ready) => {
    // Committed after the history read; the listener never delivers them.
    stored.push(ev(3), ev(4));
    setTimeout(ready, 20);
  });
  t.teardown(() => server.close());
  t.deepEqual(await ids(url, 4), ['00000001', '00000002', '00000003', '00000004']);
});

test('a live event that skips a number is sent after the ones it skipped, each once and in order', async (t) => {
  const stored = [ev(1)];
  const { server, url } = await serve(stored, (push, ready) => {
    ready();
    setTimeout(() => {
      stored.push(ev(2), ev(3), ev(4));
      push(ev(3)); // 2 was lost by the listener
      push(ev(4));
      push(ev(2)); // and arrives late
    }, 50);
  });
  t.teardown(() => server.close());
  t.deepEqual(await ids(url, 4), ['00000001', '00000002', '00000003', '00000004']);
});
