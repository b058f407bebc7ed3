/**
 * The payments port (R-PLANS-1): a provider creates checkout URLs and turns its
 * signed webhook deliveries into normalized subscription events.
 */

/** What a subscription event asks of the tenant it pays for. */
export type WebhookAction = 'activate' | 'suspend' | 'ignore';

export interface WebhookEvent {
  provider: string;
  /** The provider's event id (Stripe `evt_…`, Paddle `evt_…`). */
  eventId: string;
  /** The provider's event type, e.g. `customer.subscription.updated`, `subscription.paused`. */
  type: string;
  /** The object the event is about (the subscription id), when it has one. */
  objectId?: string;
  /** When the provider says it happened (ms since epoch); orders deliveries that arrive out of order. */
  occurredAt: number;
  action: WebhookAction;
  /** For subscription events: who bought it and what, from the checkout's metadata / custom_data. */
  subscription?: { status: string; uid?: string; plan?: string; name?: string; priceId?: string };
}

export interface CheckoutRequest {
  plan: string;
  /** Provider price id of the plan. */
  priceId: string;
  uid: string;
  email?: string;
  /** Optional tenant name to create once paid. */
  name?: string;
}

export interface PaymentProvider {
  readonly name: string;
  /** Creates a hosted checkout and returns where to send the buyer. */
  createCheckout(request: CheckoutRequest): Promise<{ id: string; url: string }>;
  /** Throws a 401 AppError unless the raw body carries a valid, fresh signature. */
  verify(raw: Buffer, header: (name: string) => string | undefined, nowMs: number): void;
  /** Parses a verified body; throws a 400 AppError for a body that is not an event. */
  parseEvent(raw: Buffer): WebhookEvent;
}

/** `fetch` as the drivers use it; tests pass their own. */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>;
