/**
 * Packages loaded on first use rather than at module load, so a cold function
 * instance answers requests that never need them (a health check, a 404, a
 * CORS preflight) without paying for them: `@google-cloud/firestore` (gRPC and
 * protobufs, the heaviest), `tar` and `zod` (through shared/zod-lib.ts). The load is synchronous (`require`), so
 * callers stay synchronous; types come from `import type`, which loads nothing.
 * Write the package name as a literal in `lazyRequire('<name>')`:
 * scripts/build.ts finds it there to list the bundle's dependency.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
