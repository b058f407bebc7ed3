import { randomInt } from 'node:crypto';

/** A copy of `items` in random order (Fisher–Yates): workers that list the same things at once each take them in their own order. */
export function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
