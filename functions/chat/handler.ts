/**
 * The chat function: `POST /api/chat` (SPEC §5). Authenticates, authorizes
 * (`chat.use`), rate limits per user and validates before anything streams
 * (those failures are SPEC §9 JSON errors); then streams the turn as SSE.
 */
import type { z } from 'zod';
import { createRollout, describeRollout } from '../../shared/releases/rollouts.ts';
import { createBackupsService } from '../../shared/tenants/backups.ts';
import { authorize } from '../../shared/auth/authorize.ts';
import { verifyBearer } from '../../shared/auth/principal.ts';
import { createActionExecutor } from '../../shared/chat/execute.ts';
import { openConversation } from '../../shared/chat/conversations.ts';
import { createChatModel, type ChatModel } from '../../shared/chat/model.ts';
import type { BillingPort, RateLimiter } from '../../shared/chat/ports.ts';
import { streamConfirmed, streamMessage, type SessionDeps } from '../../shared/chat/session.ts';
import type { Deps } from '../../shared/deps.ts';
import { validationFailed } from '../../shared/errors.ts';
import { createMatcher } from '../../shared/http/router.ts';
import { enforceRateLimit } from '../../shared/http/rate-limit.ts';
import { createStreamGate, openLimitedSse, type StreamGate } from '../../shared/http/stream-gate.ts';
import type { Context, Handler } from '../../shared/http/wrap.ts';
import type { Principal } from '../../shared/auth/principal.ts';
import { readTenantCosts } from '../../shared/billing/index.ts';
import { createTenantService } from '../../shared/tenants/service.ts';
import type { TenantService } from '../../shared/tenants/types.ts';
import { lazySchema } from '../../shared/zod-lib.ts';

export interface ChatHandlerOptions {
  /** Default: the tenants service layer, the same one the REST API uses. */
  tenants?: TenantService;
  /** Default: the stored daily costs (`tenants/{id}/costs`), as the billing API reads them. */
  billing?: BillingPort;
  /** Default: chosen from config (CHAT_MODEL). */
  model?: ChatModel;
  /** Default: CHAT_RATE_LIMIT_PER_MINUTE per user. */
  rateLimit?: RateLimiter;
  /** Default: STREAMS_PER_USER open replies per user on this instance. */
  streams?: StreamGate;
}

const MAX_MESSAGE = 4000;
/** The two request bodies, built on first use so that loading this module does not load zod. */
const bodies = lazySchema((z) => {
  const conversationId = z.string().trim().min(1).max(64);
  return {
    message: z
      .object({ message: z.string().trim().min(1, 'must not be empty').max(MAX_MESSAGE), conversationId: conversationId.optional() })
      .strict(),
    confirm: z.object({ confirm: z.string().trim().min(1).max(64), conversationId }).strict(),
  };
});
type Bodies = ReturnType<typeof bodies>;

function parseBody(body: Record<string, unknown>): z.output<Bodies['message']> | z.output<Bodies['confirm']> {
  const isConfirm = 'confirm' in body;
  const result = (isConfirm ? bodies().confirm : bodies().message).safeParse(body);
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.join('.') || '(body)';
    fields[key] ??= issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
  }
  const usage = isConfirm
    ? 'send {"confirm": "<id>", "conversationId": "<id>"}'
    : `send {"message": "<text, at most ${MAX_MESSAGE} characters>", "conversationId"?: "<id>"}`;
  throw validationFailed(
    `The request is not valid (${Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}); ${usage}.`,
    { fields },
  );
}

/** The stored daily costs; the caller's access to the tenant was checked by tenants.resolve before this runs. */
function storedCosts(deps: Deps): BillingPort {
  return {
    async totals(_p, tenantId, range) {
      const costs = await readTenantCosts(deps.db, tenantId, range, deps.config.billing.priceSheet.currency);
      return { tenantId, from: costs.from, to: costs.to, currency: costs.currency, total: costs.total, byService: costs.services };
    },
  };
}

/**
 * Builds the chat function from the platform's deps. By default it acts
 * through the same tenants service as the REST API, reads stored costs, and
 * picks its model from config; `options` replace each of those so tests can
 * use an in-memory service, a recorded model or a rate limit of their own.
 */
export function createChatHandler(deps: Deps, options: ChatHandlerOptions = {}): Handler {
  const tenants = options.tenants ?? createTenantService(deps);
  const billing = options.billing ?? storedCosts(deps);
  const match = createMatcher([{ method: 'POST' as const, path: '/api/chat' }]);
  const rateLimit: RateLimiter =
    options.rateLimit ??
    (async (p) => {
      await enforceRateLimit(deps.db, {
        key: `chat:${p.uid}`,
        limit: deps.config.chat.rateLimitPerMinute,
        windowMs: 60_000,
        now: deps.now(),
      });
    });
  let model: Promise<ChatModel> | undefined;
  const getModel = () => (model ??= options.model ? Promise.resolve(options.model) : createChatModel(deps.config));
  const streams = options.streams ?? createStreamGate(deps.config.streams);
  const rollouts = {
    describe: (p: Principal, body: Record<string, unknown>) => describeRollout(deps, p, body),
    start: async (p: Principal, body: Record<string, unknown>) => (await createRollout(deps, p, body)).rollout,
  };
  const backups = createBackupsService(deps);
  const executor = createActionExecutor({
    // Read on first use: building the handler loads no Firestore client (a cold start answers sooner).
    get db() {
      return deps.db;
    },
    tenants,
    rollouts,
    backups,
    billing,
    config: deps.config,
    log: deps.log,
    now: deps.now,
  });

  /** Everything a turn needs, checked before its stream opens: a bad body, a used confirmation or an outage is a plain JSON error. */
  async function prepareTurn(ctx: Context, principal: Principal) {
    const body = parseBody(await ctx.json());
    const conversation = await openConversation(deps.db, principal, body.conversationId, deps.now());
    // Claimed before the stream opens, so a used, expired or foreign confirmation is a plain 409/410/404.
    const confirmation = 'confirm' in body ? await executor.claim(principal, conversation.id, body.confirm) : undefined;
    const session: SessionDeps = {
      db: deps.db,
      tenants,
      executor,
      model: await getModel(),
      config: deps.config,
      log: ctx.log,
      now: deps.now,
      requestId: ctx.requestId,
    };
    return { body, conversation, confirmation, session };
  }

  return async (ctx) => {
    match(ctx.method, ctx.url.pathname);
    const principal = await verifyBearer(ctx.header('authorization'), deps.auth);
    authorize(principal, 'chat.use');
    await rateLimit(principal);
    // The slot is taken before a confirmation is claimed, so a caller over the cap keeps the confirmation for a retry.
    const release = streams.enter(principal.uid);
    const { body, conversation, confirmation, session } = await prepareTurn(ctx, principal).catch((err) => {
      release();
      throw err;
    });
    // At the deadline the reply stops streaming; the turn itself runs to its end and is stored in the conversation.
    const sse = openLimitedSse(ctx.res, release, deps.config.streams);
    try {
      if (confirmation) await streamConfirmed(sse, session, principal, conversation.id, confirmation);
      else if ('message' in body) await streamMessage(sse, session, principal, conversation.id, body.message);
    } finally {
      sse.close();
    }
  };
}
