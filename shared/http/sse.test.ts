import test from 'ava';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSse } from './sse.ts';

/** Serves one handler on a free loopback port. */
async function serve(handler: (res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => handler(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

test('a stream opened after its caller left is closed at once, so nothing waits for it forever', async (t) => {
  let closedAtOnce!: (value: boolean) => void;
  const result = new Promise<boolean>((resolve) => (closedAtOnce = resolve));
  const server = await serve((res) => {
    // As when the caller leaves during the history read: the stream opens on a response already closed.
    res.on('close', () => {
      const sse = openSse(res);
      void Promise.race([sse.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]).then(closedAtOnce);
    });
  });
  t.teardown(server.close);
  const controller = new AbortController();
  const request = fetch(server.url, { signal: controller.signal }).catch(() => undefined);
  setTimeout(() => controller.abort(), 100);
  await request;
  t.true(await result);
});

test('at its deadline a stream says so in a comment and ends', async (t) => {
  const server = await serve((res) => {
    const sse = openSse(res, { deadlineMs: 300, heartbeatMs: 60_000 });
    sse.send({ id: '1', event: 'step', data: { n: 1 } });
  });
  t.teardown(server.close);
  const text = await (await fetch(server.url)).text();
  t.is(text, 'retry: 2000\n\nid: 1\nevent: step\ndata: {"n":1}\n\n: deadline reached; reconnect (with Last-Event-ID) to continue\n\n');
});
