import test from 'ava';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSse } from './sse.ts';

// Seen in a full test run: a browser left while the events route read the history; the stream then
// waited for a 'close' that had already happened, and its Firestore listener kept the process alive.
test('a stream opened after the client has gone counts as closed at once', async (t) => {
  let closedInTime: boolean | undefined;
  const handled = new Promise<void>((resolve) => {
    const server = createServer(async (req, res) => {
      await new Promise((r) => req.socket.once('close', r)); // the client goes while the handler still works
      const sse = openSse(res);
      closedInTime = await Promise.race([sse.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
      server.close();
      resolve();
    });
    server.listen(0, '127.0.0.1', () => {
      const client = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/' });
      client.on('error', () => undefined);
      client.end();
      setTimeout(() => client.destroy(), 100);
    });
  });
  await handled;
  t.true(closedInTime);
});
