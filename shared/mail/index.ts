import type { Config } from '../config.ts';
import { DriverError } from '../errors.ts';
import { createSendgridMailer } from './sendgrid.ts';
import { createSmtpMailer } from './smtp.ts';
import type { Mailer } from './types.ts';

export type { Mailer, MailMessage } from './types.ts';

/** The one place the mail driver is chosen. */
export function createMailer(config: Pick<Config, 'mail'>): Mailer {
  switch (config.mail.driver) {
    case 'smtp':
      return createSmtpMailer({ url: config.mail.smtpUrl, from: config.mail.from });
    case 'sendgrid':
      return createSendgridMailer({ apiKey: config.mail.sendgridApiKey, from: config.mail.from });
    default:
      throw new DriverError('mail', 'not_configured', `MAIL_DRIVER "${String(config.mail.driver)}" is unknown; use smtp or sendgrid.`);
  }
}
