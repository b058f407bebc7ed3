/**
 * The local mail catcher: MailDev (npm `maildev`), run in this process so that
 * stopping the process stops it too (nothing is left behind, even after a
 * kill -9). SMTP on `smtpPort`, its web inbox and REST API (`GET /api/email`,
 * `DELETE /api/email/all`, …; MailDev 3 serves the API under `/api`) on
 * `webPort`. Mail persists in `mailDirectory` (one `.eml` per message) and is
 * loaded again on the next start.
 */
import { mkdirSync } from 'node:fs';
import { MailDev } from 'maildev';

export interface RunningMailDev {
  smtpPort: number;
  webPort: number;
  /** The web inbox, e.g. http://127.0.0.1:8025 */
  url: string;
  stop(): Promise<void>;
}

export async function startMailDev(options: {
  smtpPort?: number;
  webPort?: number;
  mailDirectory: string;
  host?: string;
  /** Keep at most this many messages (the oldest go, with their files); 0 keeps all. */
  maxEmails?: number;
}): Promise<RunningMailDev> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.mailDirectory, { recursive: true });
  const maildev = new MailDev({
    smtp: options.smtpPort ?? 0,
    web: options.webPort ?? 0,
    ip: host,
    webIp: host,
    mailDirectory: options.mailDirectory,
    maxEmails: options.maxEmails ?? 0,
    silent: true,
  });
  // MailDev's API server announces itself with console.info even when silent; our banner says where it is.
  const info = console.info;
  console.info = () => {};
  let servers: Awaited<ReturnType<MailDev['start']>>;
  try {
    servers = await maildev.start();
  } finally {
    console.info = info;
  }
  const smtpPort = servers.smtp.getAddress().port;
  const webPort = servers.api?.getAddress()?.port ?? 0;
  return {
    smtpPort,
    webPort,
    url: `http://${host}:${webPort}`,
    stop: () => maildev.stop(),
  };
}
