/**
 * A value as Firestore should store it: a plain JSON copy, so `undefined`
 * fields are left out (the client refuses them) and dates become ISO strings.
 */
export function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
