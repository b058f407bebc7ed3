/** Small helpers the payment drivers share. */
import { AppError } from '../../errors.ts';

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

/** A provider API failure, named, without echoing credentials. */
export function providerFailure(provider: string, status: number, message?: string): AppError {
  return new AppError(
    'unavailable',
    `${provider} did not create the checkout (HTTP ${status}${message ? `: ${message}` : ''}). Try again later.`,
    { provider, status },
  );
}
