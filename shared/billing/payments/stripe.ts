/**
 * Stripe: Checkout Sessions over the REST API (`POST /v1/checkout/sessions`,
 * form-encoded, `Authorization: Bearer <secret key>`, answer `{id, url, …}`) and
 * Stripe-signed webhook events (`{id, type, created, data: {object}}`). The buyer's
 * uid and plan travel in `client_reference_id`, `metadata` and
 * `subscription_data[metadata]`, so every later subscription event carries them.
 */
import { AppError } from '../../errors.ts';
import { verifyStripeSignature } from './signature.ts';
import type { CheckoutRequest, Fetch, PaymentProvider, WebhookAction, WebhookEvent } from './types.ts';
import { callProvider, notConfigured, parseEventJson, providerFailure, str } from './provider-util.ts';

export interface StripeOptions {
  /** Secret API key `sk_…` (STRIPE_API_KEY); only checkout needs it. */
  apiKey?: string;
  /** API base URL (STRIPE_API_BASE; tests: the fake). */
  apiBase: string;
  /** Webhook endpoint secrets `whsec_…`, several during rotation (STRIPE_WEBHOOK_SECRETS). */
  webhookSecrets: string[];
  toleranceSeconds?: number;
  successUrl: string;
  cancelUrl: string;
  fetch?: Fetch;
}

/** Subscription statuses that mean "paid up" (docs: Subscription object, `status`). */
const ACTIVE = new Set(['active', 'trialing']);
const LAPSED = new Set(['past_due', 'unpaid', 'paused', 'canceled', 'incomplete_expired']);

/** Maps a Stripe event to what it means for the tenant. */
export function stripeAction(type: string, status: string): WebhookAction {
  switch (type) {
    case 'customer.subscription.created':
    case 'customer.subscription.resumed':
      return ACTIVE.has(status) ? 'activate' : 'ignore';
    case 'customer.subscription.updated':
      return ACTIVE.has(status) ? 'activate' : LAPSED.has(status) ? 'suspend' : 'ignore';
    case 'customer.subscription.paused':
    case 'customer.subscription.deleted':
      return 'suspend';
    default:
      return 'ignore';
  }
}

/**
 * Builds the Stripe payment provider from its settings (API base, secret key,
 * webhook secrets, return URLs). Only checkout needs the key, so webhooks
 * still verify without it; several webhook secrets are accepted so one can be
 * rotated without dropping events; `fetch` is injectable for the test fake.
 */
export function createStripeProvider(options: StripeOptions): PaymentProvider {
  const doFetch: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  return {
    name: 'stripe',
    async createCheckout(request: CheckoutRequest) {
      if (!options.apiKey) throw notConfigured('Stripe', 'Checkout with Stripe is not configured: set STRIPE_API_KEY.');
      const form = new URLSearchParams({
        mode: 'subscription',
        'line_items[0][price]': request.priceId,
        'line_items[0][quantity]': '1',
        success_url: options.successUrl,
        cancel_url: options.cancelUrl,
        client_reference_id: request.uid,
        'metadata[uid]': request.uid,
        'metadata[plan]': request.plan,
        'subscription_data[metadata][uid]': request.uid,
        'subscription_data[metadata][plan]': request.plan,
      });
      if (request.name) {
        form.set('metadata[name]', request.name);
        form.set('subscription_data[metadata][name]', request.name);
      }
      if (request.email) form.set('customer_email', request.email);
      const res = await callProvider('Stripe', doFetch, `${options.apiBase}/v1/checkout/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      const body = (await res.json().catch(() => ({}))) as { id?: string; url?: string; error?: { message?: string } };
      if (!res.ok || !body.url || !body.id) throw providerFailure('Stripe', res.status, body.error?.message);
      return { id: body.id, url: body.url };
    },
    verify(raw, header, nowMs) {
      if (options.webhookSecrets.length === 0)
        throw notConfigured('Stripe', 'Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRETS.');
      verifyStripeSignature(raw, header('stripe-signature'), options.webhookSecrets, nowMs, options.toleranceSeconds ?? 300);
    },
    parseEvent(raw): WebhookEvent {
      const event = parseEventJson('stripe', raw);
      const object = (event.data as { object?: Record<string, any> } | undefined)?.object ?? {};
      const id = str(event.id);
      const type = str(event.type);
      if (!id || !type) throw new AppError('validation_failed', 'The Stripe event has no id or type.');
      const isSubscription = object.object === 'subscription';
      const status = str(object.status) ?? '';
      const metadata = (object.metadata ?? {}) as Record<string, unknown>;
      return {
        provider: 'stripe',
        eventId: id,
        type,
        objectId: str(object.id),
        occurredAt: Number(event.created ?? 0) * 1000,
        action: isSubscription ? stripeAction(type, status) : 'ignore',
        subscription: isSubscription
          ? {
              status,
              uid: str(metadata.uid),
              plan: str(metadata.plan),
              name: str(metadata.name),
              priceId: str(object.items?.data?.[0]?.price?.id),
            }
          : undefined,
      };
    },
  };
}
