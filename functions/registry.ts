import type { Deps } from '../shared/deps.ts';
import type { Handler } from '../shared/http/wrap.ts';
import { createActivateHandler } from './activate/handler.ts';
import { createApiHandler } from './api/handler.ts';
import { createBillingAggregateHandler } from './billing-aggregate/handler.ts';
import { createChatHandler } from './chat/handler.ts';
import { createMailHandler } from './mail/handler.ts';
import { createSignupHandler } from './signup/handler.ts';
import { createProvisionHandler } from './provision/handler.ts';

/** Every deployable function by name; the local gateway and the build read this list. */
export const functionHandlers: Record<string, (deps: Deps) => Handler> = {
  api: createApiHandler,
  signup: createSignupHandler,
  activate: createActivateHandler,
  mail: createMailHandler,
  provision: createProvisionHandler,
  'billing-aggregate': (deps) => createBillingAggregateHandler(deps),
  chat: (deps) => createChatHandler(deps),
};

/** The deployable functions' names. */
export const functionNames = Object.keys(functionHandlers);
