import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { wrap } from './wrap.ts';

// The client address behind Firebase Hosting: its CDN appends the address the
// visitor connected from, then the Google front end appends the CDN's, so the
// visitor is the second entry from the right (TRUSTED_PROXY_HOPS=2 in production).

const production = {
  TP_ENV: 'production',
  GCP_PROJECT_ID: 'p',
  GCP_REGION: 'europe-west1',
  TASKS_SECRET: 's',
  SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
  BILLING_SOURCE: 'metered',
};

test('production trusts the two hops Hosting and the Google front end append; local stacks trust the one gateway hop', (t) => {
  t.is(parseConfig(production).http.trustedProxyHops, 2);
  t.is(parseConfig({}).http.trustedProxyHops, 1);
  t.is(parseConfig({ TP_ENV: 'test' }).http.trustedProxyHops, 1);
  t.is(parseConfig({ ...production, TRUSTED_PROXY_HOPS: '3' }).http.trustedProxyHops, 3);
  t.throws(() => parseConfig({ TRUSTED_PROXY_HOPS: 'many' }), { message: /TRUSTED_PROXY_HOPS/ });
});

test('behind Hosting, the address limits count is the visitor, whatever the visitor wrote into X-Forwarded-For', async (t) => {
  const hops = parseConfig(production).http.trustedProxyHops;
  const seen: string[] = [];
  const handler = wrap(
    async (ctx) => {
      seen.push(ctx.ip);
      return { status: 204 };
    },
    { log: createLogger({ level: 'error' }), corsOrigins: [], allowLocalhost: false, bodyLimitBytes: 1024, trustedProxyHops: hops },
  );
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/signup`;
  const send = (xff: string) =>
    fetch(url, { method: 'POST', headers: { 'X-Forwarded-For': xff, 'Fastly-Client-IP': '203.0.113.99' } }).then((r) => r.arrayBuffer());
  try {
    // What the function receives: [client-written entries,] visitor (appended by Hosting's CDN), CDN node (appended by the front end).
    await send('203.0.113.99, 151.101.1.195');
    await send('10.0.0.1, 198.18.0.9, 203.0.113.99, 151.101.65.195');
    await send('2001:db8::42, 151.101.129.195');
  } finally {
    server.close();
  }
  t.deepEqual(seen, ['203.0.113.99', '203.0.113.99', '2001:db8::42']);
});
