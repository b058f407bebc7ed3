import { DriverError } from '../errors.ts';
import type { Mailer } from './types.ts';

/** SendGrid's v3 mail send API through @sendgrid/mail. */
export function createSendgridMailer(options: { apiKey?: string; from: string }): Mailer {
  const requireKey = () => {
    if (!options.apiKey) throw new DriverError('sendgrid', 'not_configured', 'Set SENDGRID_API_KEY to send mail with SendGrid.');
    return options.apiKey;
  };
  return {
    name: 'sendgrid',
    async send(message) {
      const { default: sg } = await import('@sendgrid/mail');
      sg.setApiKey(requireKey());
      try {
        await sg.send({ from: options.from, ...message });
      } catch (error) {
        throw new DriverError('sendgrid', 'failed', `sendgrid: the message was not accepted: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    async verify() {
      requireKey();
    },
  };
}
