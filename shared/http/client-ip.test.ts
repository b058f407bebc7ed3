import test from 'ava';
import type { IncomingRequest } from './body.ts';
import { clientIp } from './wrap.ts';

// Which address the per-IP limits count: the one the nearest trusted proxy saw.

const request = (forwarded: string | undefined, peer = '10.9.9.9') =>
  ({
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    socket: { remoteAddress: peer },
  }) as unknown as IncomingRequest;

test('with one trusted hop, entries a client wrote to the left of the proxy-appended address are ignored', (t) => {
  t.is(clientIp(request('203.0.113.5'), 1), '203.0.113.5');
  t.is(clientIp(request('1.1.1.1, 2.2.2.2, 203.0.113.5'), 1), '203.0.113.5');
  t.is(clientIp(request('1.1.1.1,203.0.113.5'), 1), '203.0.113.5');
});

test('with two trusted hops, the address the outer proxy saw counts, not what the client wrote', (t) => {
  // client-written, then the client as the outer proxy saw it, then the outer proxy as the inner one saw it
  t.is(clientIp(request('6.6.6.6, 203.0.113.5, 35.191.0.1'), 2), '203.0.113.5');
  t.is(clientIp(request('203.0.113.5, 35.191.0.1'), 2), '203.0.113.5');
});

test('without trusted hops, or without the header, the socket peer counts', (t) => {
  t.is(clientIp(request('6.6.6.6'), 0), '10.9.9.9');
  t.is(clientIp(request(undefined), 1), '10.9.9.9');
});
