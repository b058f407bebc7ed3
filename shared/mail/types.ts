/** An outgoing message; `to` is one address. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  readonly name: string;
  send(message: MailMessage): Promise<void>;
  /** Checks the provider is reachable (SMTP handshake); for API providers, that it is configured. */
  verify(): Promise<void>;
  close?(): Promise<void>;
}
