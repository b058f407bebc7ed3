import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toAppError } from '../../errors.ts';
import { createPaddleProvider } from './paddle.ts';
import { createStripeProvider } from './stripe.ts';

const request = { plan: 'starter', priceId: 'price_starter', uid: 'u-1' };
const stripeAt = (apiBase: string, apiKey: string | undefined) =>
  createStripeProvider({ apiBase, apiKey, webhookSecrets: [], successUrl: 'http://x/ok', cancelUrl: 'http://x/no' });

/** A port that refuses connections: listened on, then closed. */
async function closedPort(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

test('a payment provider that cannot be reached answers 503 naming it, with Retry-After', async (t) => {
  const error = await t.throwsAsync(stripeAt(await closedPort(), 'sk_test').createCheckout(request));
  t.like(error, { name: 'DriverError', driver: 'Stripe', code: 'failed' });
  const answer = toAppError(error);
  t.is(answer.status, 503);
  t.like(answer.toBody().error, { code: 'unavailable', message: 'Stripe did not answer as expected; try again in a minute.' });
  t.is(answer.headers['Retry-After'], '30');
});

test('a payment provider that answers with an error is a 503 naming it; its detail goes to the log only', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'sk_test leaked? no: internal' } }));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const error = await t.throwsAsync(
      stripeAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'sk_test').createCheckout(request),
    );
    t.regex(error!.message, /HTTP 500: sk_test leaked\? no: internal/);
    const answer = toAppError(error);
    t.is(answer.status, 503);
    t.notRegex(JSON.stringify(answer.toBody()), /leaked|HTTP 500/);
  } finally {
    server.close();
  }
});

test('a provider the deployment has not configured is 503 naming it, never a 500 for a request anyone can send; the missing setting is only in the logged cause', async (t) => {
  for (const provider of [stripeAt('http://127.0.0.1:1', undefined), createPaddleProvider({ apiBase: 'http://127.0.0.1:1' })]) {
    const answer = toAppError(await t.throwsAsync(provider.createCheckout(request)));
    t.is(answer.status, 503);
    t.like(answer.toBody().error, { code: 'unavailable', details: { provider: provider.name === 'stripe' ? 'Stripe' : 'Paddle' } });
    t.notRegex(JSON.stringify(answer.toBody()), /_API_KEY/);
    t.like(answer.cause, { name: 'DriverError', code: 'not_configured' });
    t.regex((answer.cause as Error).message, /set (STRIPE|PADDLE)_API_KEY/);
  }
});
