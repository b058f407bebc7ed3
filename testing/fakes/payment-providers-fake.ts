/**
 * Fakes of the two payment providers' checkout APIs for tests, as real HTTP
 * servers the drivers reach through `apiBase`. Documented shapes followed:
 * - Stripe `POST /v1/checkout/sessions` (docs.stripe.com/api/checkout/sessions/create):
 *   form-encoded, `Authorization: Bearer sk_…`; requires `mode` and, in subscription mode,
 *   `line_items[0][price]`; answers the Session object `{id: "cs_…", object: "checkout.session",
 *   url, client_reference_id, metadata, mode, …}`; errors `{error: {type: "invalid_request_error", message, param}}`.
 * - Paddle `POST /transactions` (developer.paddle.com/api-reference/transactions/create-transaction):
 *   JSON `{items: [{price_id, quantity}], custom_data, collection_mode}`, `Authorization: Bearer`;
 *   answers 201 `{data: {id: "txn_…", status: "ready", custom_data, checkout: {url}}, meta: {request_id}}`
 *   where the url is the default payment link plus `?_ptxn=<id>`; errors `{error: {type, code, detail}, meta}`.
 */
import { randomHex, startFakeServer, type RecordedRequest, type RunningFake } from './http-server.ts';

export interface StripeFake extends RunningFake {
  /** Sessions created, with their decoded form fields. */
  sessions: Record<string, string>[];
  /**
   * The `customer.subscription.created` event Stripe sends once the customer
   * pays session `sessionId`. As documented, the subscription carries the
   * session's `subscription_data[metadata]`, not the session's own `metadata`,
   * and the price of its first line item.
   */
  subscriptionCreated(sessionId: string): Record<string, unknown>;
}

export async function startStripeFake(options: { apiKey: string }): Promise<StripeFake> {
  const sessions: Record<string, string>[] = [];
  const fake = await startFakeServer((req: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return { status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } } };
    }
    if (req.method !== 'POST' || req.path !== '/v1/checkout/sessions') {
      return {
        status: 404,
        body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.path}).` } },
      };
    }
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return { status: 400, body: { error: { type: 'invalid_request_error', message: 'Stripe expects a form-encoded body.' } } };
    }
    const form = Object.fromEntries(new URLSearchParams(String(req.body ?? '')));
    for (const param of ['mode', 'line_items[0][price]', 'success_url']) {
      if (!form[param])
        return { status: 400, body: { error: { type: 'invalid_request_error', message: `Missing required param: ${param}.`, param } } };
    }
    const id = `cs_test_${randomHex(24)}`;
    sessions.push({ ...form, id });
    const metadata = Object.fromEntries(
      Object.entries(form)
        .filter(([k]) => k.startsWith('metadata['))
        .map(([k, v]) => [k.slice(9, -1), v]),
    );
    return {
      status: 200,
      body: {
        id,
        object: 'checkout.session',
        mode: form.mode,
        url: `https://checkout.stripe.test/c/pay/${id}`,
        client_reference_id: form.client_reference_id ?? null,
        metadata,
        status: 'open',
      },
    };
  });
  const subscriptionCreated = (sessionId: string) => {
    const form = sessions.find((s) => s.id === sessionId);
    if (!form) throw new Error(`The Stripe fake has no session ${sessionId}.`);
    const prefix = 'subscription_data[metadata][';
    const metadata = Object.fromEntries(
      Object.entries(form)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k.slice(prefix.length, -1), v]),
    );
    const created = Math.floor(Date.now() / 1000);
    const subscription = {
      id: `sub_${randomHex(12)}`,
      object: 'subscription',
      status: 'active',
      customer: `cus_${randomHex(12)}`,
      metadata,
      items: {
        object: 'list',
        data: [
          {
            id: `si_${randomHex(12)}`,
            object: 'subscription_item',
            price: { id: form['line_items[0][price]'], object: 'price' },
            quantity: Number(form['line_items[0][quantity]'] ?? 1),
          },
        ],
      },
      created,
    };
    return { id: `evt_${randomHex(12)}`, object: 'event', type: 'customer.subscription.created', created, data: { object: subscription } };
  };
  return { ...fake, sessions, subscriptionCreated };
}

export interface PaddleFake extends RunningFake {
  transactions: Record<string, any>[];
}

export async function startPaddleFake(options: { apiKey: string; defaultPaymentLink?: string | null }): Promise<PaddleFake> {
  const transactions: Record<string, any>[] = [];
  const link = options.defaultPaymentLink === undefined ? 'https://shop.example.com/pay' : options.defaultPaymentLink;
  const meta = () => ({ request_id: randomHex(16) });
  const fake = await startFakeServer((req: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return {
        status: 403,
        body: {
          error: { type: 'request_error', code: 'forbidden', detail: 'You are not authorized to perform this request.' },
          meta: meta(),
        },
      };
    }
    if (req.method !== 'POST' || req.path !== '/transactions') {
      return {
        status: 404,
        body: { error: { type: 'request_error', code: 'not_found', detail: `${req.method} ${req.path} not found.` }, meta: meta() },
      };
    }
    const body = (req.body ?? {}) as Record<string, any>;
    const items = Array.isArray(body.items) ? body.items : [];
    if (items.length === 0 || items.some((i: any) => typeof i?.price_id !== 'string' || !Number.isInteger(i?.quantity))) {
      return {
        status: 400,
        body: {
          error: { type: 'request_error', code: 'bad_request', detail: 'items: each item needs price_id and an integer quantity.' },
          meta: meta(),
        },
      };
    }
    transactions.push(body);
    const id = `txn_${randomHex(26)}`;
    return {
      status: 201,
      body: {
        data: {
          id,
          status: 'ready',
          custom_data: body.custom_data ?? null,
          collection_mode: body.collection_mode ?? 'automatic',
          checkout: { url: link ? `${link}?_ptxn=${id}` : null },
        },
        meta: meta(),
      },
    };
  });
  return { ...fake, transactions };
}
