import test from 'ava';
import { AppError } from '../../shared/errors.ts';
import { parseSignupInput } from './input.ts';

const none = new URLSearchParams();

function fieldsOf(body: Record<string, unknown>, query = none): Record<string, string> {
  try {
    parseSignupInput(body, query);
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation_failed') return (err.details?.fields ?? {}) as Record<string, string>;
    throw err;
  }
  throw new Error('expected validation_failed');
}

// Accepted

test('a full signup is normalized: address trimmed and lowercased, empty optional text dropped', (t) => {
  t.deepEqual(parseSignupInput({ email: '  Ada@Example.COM ', name: ' Ada ', company: '  ', plan: 'pro-2', migration: 'full' }, none), {
    email: 'ada@example.com',
    name: 'Ada',
    company: undefined,
    plan: 'pro-2',
    migration: 'full',
  });
});

test('migration comes from the query when the body has none, and defaults to fresh', (t) => {
  t.is(parseSignupInput({ email: 'a@example.com' }, new URLSearchParams('migration=enhance')).migration, 'enhance');
  t.is(parseSignupInput({ email: 'a@example.com', migration: 'full' }, new URLSearchParams('migration=full')).migration, 'full');
  t.is(parseSignupInput({ email: 'a@example.com' }, none).migration, 'fresh');
});

// Refused, with one message per field

test('every wrong field is named at once', (t) => {
  const fields = fieldsOf({ email: 'nope', name: 7, plan: 'Not A Plan', migration: 'some', extra: true });
  t.deepEqual(Object.keys(fields).sort(), ['email', 'extra', 'migration', 'name', 'plan']);
  t.regex(fields.email, /address like/);
  t.regex(fields.migration, /fresh, enhance, full/);
  t.regex(fields.extra, /not a known field/);
});

test('a missing address, an over-long one and control characters are refused', (t) => {
  t.truthy(fieldsOf({}).email);
  t.truthy(fieldsOf({ email: `${'a'.repeat(243)}@example.com` }).email);
  t.truthy(fieldsOf({ email: 'a@example.com', company: 'ACME\nInc' }).company);
});

test('a query migration that is unknown, or disagrees with the body, is refused', (t) => {
  t.truthy(fieldsOf({ email: 'a@example.com' }, new URLSearchParams('migration=everything')).migration);
  t.regex(fieldsOf({ email: 'a@example.com', migration: 'fresh' }, new URLSearchParams('migration=full')).migration, /different values/);
});
