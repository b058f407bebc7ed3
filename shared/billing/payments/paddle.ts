/**
 * Paddle Billing: checkouts as automatically-collected transactions over the REST
 * API (`POST /transactions`, JSON `{items: [{price_id, quantity}], custom_data}`,
 * `Authorization: Bearer <API key>`, answer `{data: {id, checkout: {url}}}` where the
 * url is the account's default payment link with `?_ptxn=<id>`), and Paddle-signed
 * notifications (`{event_id, event_type, occurred_at, data}`). Paddle copies the
 * transaction's `custom_data` (uid, plan, name) onto the subscription it creates.
 */
import { AppError } from '../../errors.ts';
import { verifyPaddleSignature } from './signature.ts';
import type { CheckoutRequest, Fetch, PaymentProvider, WebhookAction, WebhookEvent } from './types.ts';
import { callProvider, notConfigured, parseEventJson, providerFailure, str } from './provider-util.ts';

export interface PaddleOptions {
  /** API key (PADDLE_API_KEY); only checkout needs it. */
  apiKey?: string;
  /** API base URL (PADDLE_API_BASE: production, sandbox, or the test fake). */
  apiBase: string;
  /** Notification destination secret (PADDLE_WEBHOOK_SECRET). */
  webhookSecret?: string;
  /** Allowed clock skew in seconds (PADDLE_TOLERANCE_SECONDS, default 5). */
  toleranceSeconds?: number;
  fetch?: Fetch;
}

const ACTIVE = new Set(['active', 'trialing']);
const LAPSED = new Set(['past_due', 'paused', 'canceled']);

/** Maps a Paddle event to what it means for the tenant. */
export function paddleAction(type: string, status: string): WebhookAction {
  switch (type) {
    case 'subscription.created':
    case 'subscription.activated':
    case 'subscription.resumed':
      return ACTIVE.has(status) ? 'activate' : 'ignore';
    case 'subscription.updated':
      return ACTIVE.has(status) ? 'activate' : LAPSED.has(status) ? 'suspend' : 'ignore';
    case 'subscription.paused':
    case 'subscription.past_due':
    case 'subscription.canceled':
      return 'suspend';
    default:
      return 'ignore';
  }
}

/**
 * Builds the Paddle payment provider from its settings (API base, key,
 * notification secret). Only checkout needs the API key, so webhooks still
 * verify on a deployment that has not set one; `fetch` is injectable for the
 * test fake.
 */
export function createPaddleProvider(options: PaddleOptions): PaymentProvider {
  const doFetch: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  return {
    name: 'paddle',
    async createCheckout(request: CheckoutRequest) {
      if (!options.apiKey) throw notConfigured('Paddle', 'Checkout with Paddle is not configured: set PADDLE_API_KEY.');
      const custom_data: Record<string, string> = { uid: request.uid, plan: request.plan };
      if (request.name) custom_data.name = request.name;
      const res = await callProvider('Paddle', doFetch, `${options.apiBase}/transactions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ price_id: request.priceId, quantity: 1 }], collection_mode: 'automatic', custom_data }),
      });
      const body = (await res.json().catch(() => ({}))) as {
        data?: { id?: string; checkout?: { url?: string | null } };
        error?: { detail?: string };
      };
      const url = body.data?.checkout?.url;
      if (!res.ok || !body.data?.id) throw providerFailure('Paddle', res.status, body.error?.detail);
      if (!url)
        throw notConfigured(
          'Paddle',
          'Paddle returned no checkout URL: set a default payment link in the Paddle dashboard (Checkout settings).',
        );
      return { id: body.data.id, url };
    },
    verify(raw, header, nowMs) {
      if (!options.webhookSecret) throw notConfigured('Paddle', 'Paddle webhooks are not configured: set PADDLE_WEBHOOK_SECRET.');
      verifyPaddleSignature(raw, header('paddle-signature'), [options.webhookSecret], nowMs, options.toleranceSeconds ?? 5);
    },
    parseEvent(raw): WebhookEvent {
      const event = parseEventJson('paddle', raw);
      const data = (event.data ?? {}) as Record<string, any>;
      const id = str(event.event_id);
      const type = str(event.event_type);
      if (!id || !type) throw new AppError('validation_failed', 'The Paddle event has no event_id or event_type.');
      const isSubscription = type.startsWith('subscription.');
      const status = str(data.status) ?? '';
      const custom = (data.custom_data ?? {}) as Record<string, unknown>;
      const occurred = Date.parse(str(event.occurred_at) ?? '');
      return {
        provider: 'paddle',
        eventId: id,
        type,
        objectId: str(data.id),
        occurredAt: Number.isNaN(occurred) ? 0 : occurred,
        action: isSubscription ? paddleAction(type, status) : 'ignore',
        subscription: isSubscription
          ? { status, uid: str(custom.uid), plan: str(custom.plan), name: str(custom.name), priceId: str(data.items?.[0]?.price?.id) }
          : undefined,
      };
    },
  };
}
