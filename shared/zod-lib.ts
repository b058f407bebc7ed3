/**
 * zod, loaded on first validation rather than at module load (issue 19:
 * importing it took a cold start about 90 ms, while a request that validates
 * nothing — a health check, a 404, a CORS preflight — never needs it).
 * Schemas are built once, on first use:
 * `const schema = lazySchema((z) => z.object({…}))`, then `schema().safeParse(input)`.
 * Types come from `import type { z } from 'zod'`, which loads nothing.
 */
import type { z as Z } from 'zod';
import { lazyRequire } from './lazy-require.ts';

/** The zod package itself, loaded on first call (for what is not a schema, like `toJSONSchema`). */
export const zod = lazyRequire<typeof import('zod')>('zod');

export function lazySchema<T>(build: (z: typeof Z) => T): () => T {
  let built: T | undefined;
  return () => (built ??= build(zod().z));
}
