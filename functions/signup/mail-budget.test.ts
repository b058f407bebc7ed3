import test from 'ava';
import { decideMail } from './mail-budget.ts';

const budget = { perMinute: 1, perDay: 5 };
const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000);

test('the first mail goes, and is recorded', (t) => {
  const decision = decideMail([], at(0), budget);
  t.true(decision.send);
  t.deepEqual(decision.mailTimes, [at(0)]);
});

test('a second mail within 60 s is held back; after 60 s it goes', (t) => {
  t.like(decideMail([at(0)], at(59), budget), { send: false, reason: 'per_minute' });
  t.like(decideMail([at(0)], at(61), budget), { send: true });
});

test('the sixth mail in 24 h is held back; times older than a day are forgotten', (t) => {
  const five = [0, 100, 200, 300, 400].map(at);
  t.like(decideMail(five, at(500), budget), { send: false, reason: 'per_day' });
  const decision = decideMail(five, at(86_400 + 50), budget);
  t.true(decision.send);
  t.is(decision.mailTimes.length, 5, 'the oldest dropped, the new one added');
});
