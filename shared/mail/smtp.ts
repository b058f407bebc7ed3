import { DriverError } from '../errors.ts';
import type { Mailer } from './types.ts';

/** SMTP through nodemailer; `url` like smtp://user:pass@host:587 or smtps://… */
export function createSmtpMailer(options: { url: string; from: string }): Mailer {
  let transport: Promise<import('nodemailer').Transporter> | undefined;
  // Pooled: messages reuse a few open connections instead of a connect, greeting and QUIT each (a mail flush sends
  // many at once); `?pool=false` in the URL turns that off.
  const get = () =>
    (transport ??= import('nodemailer').then((m) =>
      m.default.createTransport({ url: withTimeouts(options.url), pool: true, maxConnections: 10, maxMessages: 100 }),
    ));
  return {
    name: 'smtp',
    async send(message) {
      try {
        await (await get()).sendMail({ from: options.from, ...message });
      } catch (error) {
        // Refused, unreachable or timed out: 503 naming the mail server at the edge; the task queue retries.
        throw new DriverError('smtp', 'failed', `smtp: the mail server did not take the message: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    async verify() {
      await (await get()).verify();
    },
    async close() {
      if (transport) (await transport).close();
    },
  };
}

/** Short timeouts so a dead provider fails fast and the queue retries later. */
function withTimeouts(url: string): string {
  const parsed = new URL(url);
  for (const [key, value] of [
    ['connectionTimeout', '5000'],
    ['greetingTimeout', '5000'],
    ['socketTimeout', '10000'],
  ]) {
    if (!parsed.searchParams.has(key)) parsed.searchParams.set(key, value);
  }
  return parsed.toString();
}
