import test from 'ava';
import { AppError } from '../errors.ts';
import { createStreamGate } from './stream-gate.ts';

test('a user gets as many slots as allowed; the next is 429 with Retry-After until the oldest stream reaches its deadline', (t) => {
  let now = 1_000_000;
  const gate = createStreamGate({ perUser: 2, deadlineMs: 60_000 }, () => now);
  const first = gate.enter('u1');
  now += 20_000;
  gate.enter('u1');
  now += 5_000;
  const error = t.throws(() => gate.enter('u1'), { instanceOf: AppError });
  t.is(error?.status, 429);
  t.is(error?.code, 'rate_limited');
  t.is(error?.headers['Retry-After'], '35');
  t.deepEqual(error?.toBody().error.details, { limit: 2, open: 2 });
  t.notThrows(() => gate.enter('u2'), 'another user has slots of their own');
  first();
  first(); // giving a slot back twice frees one slot only
  t.is(gate.count('u1'), 1);
  t.notThrows(() => gate.enter('u1'));
  t.throws(() => gate.enter('u1'), { instanceOf: AppError });
});
