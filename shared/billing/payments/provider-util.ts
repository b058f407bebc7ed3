/** Small helpers the payment drivers share. */
import { AppError, DriverError } from '../../errors.ts';
import type { Fetch } from './types.ts';

/** A non-empty string, else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Parses a webhook body as a JSON object; 400 otherwise. */
export function parseEventJson(provider: string, raw: Buffer): Record<string, any> {
  try {
    const value = JSON.parse(raw.toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // answered below
  }
  throw new AppError('invalid_json', `The ${provider} webhook body is not a JSON event.`);
}

/** A provider API failure, named, without echoing credentials: 503 naming the provider at the edge, the detail logged. */
export function providerFailure(provider: string, status: number, message?: string): DriverError {
  return new DriverError(provider, 'failed', `${provider} did not create the checkout (HTTP ${status}${message ? `: ${message}` : ''}).`);
}

/**
 * A checkout or webhook that needs a setting this deployment lacks. Anyone can
 * send these requests, so this is not the generic 500 of other misconfigured
 * drivers but 503 naming the provider (payments are not open here yet), with
 * the missing setting in the logged cause only.
 */
export function notConfigured(provider: string, message: string): AppError {
  return new AppError(
    'unavailable',
    `Payments with ${provider} are not available here yet; try again later.`,
    { provider },
    {
      cause: new DriverError(provider, 'not_configured', message),
    },
  ).withHeader('Retry-After', '3600');
}

/** Calls the provider's API; an unreachable provider (refused, reset, DNS) is a `failed` DriverError naming it. */
export async function callProvider(provider: string, doFetch: Fetch, url: string, init: RequestInit): Promise<Response> {
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new DriverError(provider, 'failed', `${provider} could not be reached: ${(error as Error).message}`, { cause: error });
  }
}
