import type { Deps } from '../shared/deps.ts';
import type { Handler } from '../shared/http/wrap.ts';
import { createApiHandler } from './api/handler.ts';

/** Every deployable function by name; the local gateway and the build read this list. */
export const functionHandlers: Record<string, (deps: Deps) => Handler> = {
  api: createApiHandler,
};
