import test from 'ava';
import { createHmac } from 'node:crypto';
import { AppError } from '../shared/errors.ts';
import { verifyPaddleSignature, verifyStripeSignature } from '../shared/billing/payments/signature.ts';

// Expected digests are computed here with node:crypto directly, not with the code under test.
const hmac = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');
const body = Buffer.from('{"id":"evt_1","type":"customer.subscription.created","data":{"object":{"id":"sub_1"}}}');
const now = 1_717_000_000_000;
const t = String(now / 1000);

function rejects(fn: () => void, message: RegExp) {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof AppError) || error.status !== 401 || !message.test(error.message)) throw error;
    return true;
  }
  return false;
}

// Stripe: t=…,v1=…, HMAC-SHA256 of t + "." + raw body, 300 s tolerance

test('stripe: a valid signature over the raw body passes', (tt) => {
  const header = `t=${t},v1=${hmac('whsec_a', `${t}.${body.toString()}`)}`;
  tt.notThrows(() => verifyStripeSignature(body, header, ['whsec_a'], now));
});

test('stripe: a tampered body, a wrong secret, or re-serialized JSON fails', (tt) => {
  const header = `t=${t},v1=${hmac('whsec_a', `${t}.${body.toString()}`)}`;
  tt.true(
    rejects(
      () => verifyStripeSignature(Buffer.from(body.toString().replace('sub_1', 'sub_2')), header, ['whsec_a'], now),
      /no signature matches/,
    ),
  );
  tt.true(rejects(() => verifyStripeSignature(body, header, ['whsec_b'], now), /no signature matches/));
  const reserialized = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
  tt.true(rejects(() => verifyStripeSignature(reserialized, header, ['whsec_a'], now), /no signature matches/));
});

test('stripe: a timestamp older or newer than 300 s fails even with a correct digest', (tt) => {
  for (const skew of [301, -301]) {
    const ts = String(now / 1000 - skew);
    const header = `t=${ts},v1=${hmac('whsec_a', `${ts}.${body.toString()}`)}`;
    tt.true(
      rejects(() => verifyStripeSignature(body, header, ['whsec_a'], now), skew > 0 ? /old/ : /in the future/),
      String(skew),
    );
  }
  const edge = String(now / 1000 - 299);
  tt.notThrows(() => verifyStripeSignature(body, `t=${edge},v1=${hmac('whsec_a', `${edge}.${body.toString()}`)}`, ['whsec_a'], now));
});

test('stripe: during rotation any of several v1 signatures, and any configured secret, may match', (tt) => {
  const header = `t=${t},v1=${hmac('whsec_old', `${t}.${body.toString()}`)},v1=${hmac('whsec_new', `${t}.${body.toString()}`)},v0=deadbeef`;
  tt.notThrows(() => verifyStripeSignature(body, header, ['whsec_new'], now));
  tt.notThrows(() => verifyStripeSignature(body, header, ['whsec_old'], now));
  tt.notThrows(() =>
    verifyStripeSignature(body, `t=${t},v1=${hmac('whsec_old', `${t}.${body.toString()}`)}`, ['whsec_new', 'whsec_old'], now),
  );
});

test('stripe: malformed or missing headers fail with a 401', (tt) => {
  const good = hmac('whsec_a', `${t}.${body.toString()}`);
  for (const header of [
    undefined,
    '',
    'garbage',
    `v1=${good}`,
    `t=${t}`,
    `t=abc,v1=${good}`,
    `t=${t},v1=zz${good.slice(2)}`,
    `t=${t},v1=${good.slice(0, 40)}`,
  ]) {
    tt.true(
      rejects(() => verifyStripeSignature(body, header, ['whsec_a'], now), /signature is not valid/),
      String(header),
    );
  }
});

// Paddle: ts=…;h1=…, HMAC-SHA256 of ts + ":" + raw body, 5 s tolerance by default

test('paddle: a valid signature over the raw body passes', (tt) => {
  tt.notThrows(() => verifyPaddleSignature(body, `ts=${t};h1=${hmac('pdl_ntfset_a', `${t}:${body.toString()}`)}`, ['pdl_ntfset_a'], now));
});

test('paddle: the Stripe scheme (a dot instead of a colon) does not pass for Paddle', (tt) => {
  tt.true(
    rejects(
      () => verifyPaddleSignature(body, `ts=${t};h1=${hmac('pdl_ntfset_a', `${t}.${body.toString()}`)}`, ['pdl_ntfset_a'], now),
      /no signature matches/,
    ),
  );
});

test('paddle: a tampered body or a wrong secret fails', (tt) => {
  const header = `ts=${t};h1=${hmac('pdl_ntfset_a', `${t}:${body.toString()}`)}`;
  tt.true(
    rejects(() => verifyPaddleSignature(Buffer.concat([body, Buffer.from(' ')]), header, ['pdl_ntfset_a'], now), /no signature matches/),
  );
  tt.true(rejects(() => verifyPaddleSignature(body, header, ['pdl_ntfset_b'], now), /no signature matches/));
});

test('paddle: the default tolerance is 5 s either way, and it is configurable', (tt) => {
  const at = (skew: number) => {
    const ts = String(now / 1000 - skew);
    return `ts=${ts};h1=${hmac('pdl_ntfset_a', `${ts}:${body.toString()}`)}`;
  };
  tt.notThrows(() => verifyPaddleSignature(body, at(5), ['pdl_ntfset_a'], now));
  tt.true(rejects(() => verifyPaddleSignature(body, at(6), ['pdl_ntfset_a'], now), /6 s old/));
  tt.true(rejects(() => verifyPaddleSignature(body, at(-6), ['pdl_ntfset_a'], now), /in the future/));
  tt.notThrows(() => verifyPaddleSignature(body, at(60), ['pdl_ntfset_a'], now, 120));
});

test('paddle: several h1 values (rotation) may be present; one match is enough', (tt) => {
  const header = `ts=${t};h1=${hmac('pdl_old', `${t}:${body.toString()}`)};h1=${hmac('pdl_ntfset_a', `${t}:${body.toString()}`)}`;
  tt.notThrows(() => verifyPaddleSignature(body, header, ['pdl_ntfset_a'], now));
});

test('paddle: malformed or missing headers fail with a 401', (tt) => {
  const good = hmac('pdl_ntfset_a', `${t}:${body.toString()}`);
  for (const header of [undefined, 'ts=;h1=', `h1=${good}`, `ts=${t}`, `ts=${t},h1=${good}`, `ts=1e9;h1=${good}`]) {
    tt.true(
      rejects(() => verifyPaddleSignature(body, header, ['pdl_ntfset_a'], now), /signature is not valid/),
      String(header),
    );
  }
});
