/**
 * The one place a payment provider is chosen: by name (webhook paths name their
 * provider) or from config (checkout uses PAYMENT_PROVIDER).
 */
import type { BillingConfig } from '../config.ts';
import { AppError } from '../../errors.ts';
import { createPaddleProvider } from './paddle.ts';
import { createStripeProvider } from './stripe.ts';
import type { Fetch, PaymentProvider } from './types.ts';

export type { CheckoutRequest, PaymentProvider, WebhookEvent } from './types.ts';

export const PROVIDER_NAMES = ['stripe', 'paddle'] as const;

/** Creates the named provider from the billing config. Unknown names are a 404 naming the valid ones. */
export function createPaymentProvider(name: string, billing: BillingConfig, options: { fetch?: Fetch } = {}): PaymentProvider {
  const { payments } = billing;
  switch (name) {
    case 'stripe':
      return createStripeProvider({
        ...payments.stripe,
        successUrl: payments.successUrl,
        cancelUrl: payments.cancelUrl,
        fetch: options.fetch,
      });
    case 'paddle':
      return createPaddleProvider({ ...payments.paddle, fetch: options.fetch });
    default:
      throw new AppError(
        'not_found',
        `Payment provider "${name}" is unknown; valid providers are ${PROVIDER_NAMES.map((n) => `"${n}"`).join(', ')}.`,
      );
  }
}
