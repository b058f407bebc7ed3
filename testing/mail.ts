/**
 * Mail in tests: a real MailDev (scripts/dev/maildev.ts) on free ports, read
 * only through its REST API — `GET /api/email` (every message, in arrival
 * order), `DELETE /api/email/all` — as a developer would with curl.
 *
 * One thing MailDev cannot do is fail: tests of a provider outage need an SMTP
 * server that answers `451`. So the platform sends to a small TCP relay in
 * front of MailDev's SMTP port that, while `setFailing(true)`, answers each new
 * connection itself (greeting and EHLO, then `451 4.3.0` to `MAIL FROM`, as a
 * server refusing mail for a while does, RFC 5321 §4.2.1) and otherwise pipes
 * the connection to MailDev untouched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMailDev } from '../scripts/dev/maildev.ts';

/** A message as MailDev's REST API gives it, reduced to what tests read. */
export interface CaughtMail {
  id: string;
  from: string;
  /** Recipient addresses, lower-cased. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  receivedAt: string;
}

export interface MailCatcher {
  /** Where the platform sends mail (the relay in front of MailDev). */
  smtpPort: number;
  /** MailDev's web inbox and REST API. */
  httpPort: number;
  url: string;
  /** Every message, oldest first (`GET /api/email`). */
  messages(): Promise<CaughtMail[]>;
  /** The messages to `address` (case-insensitive). */
  messagesTo(address: string): Promise<CaughtMail[]>;
  /** Resolves with the first message to `address` whose id is not in `except` (ids seen before). */
  waitFor(address: string, options?: { except?: Iterable<string>; timeoutMs?: number }): Promise<CaughtMail>;
  /** New connections get `451` to every message (a provider outage) until set back; each change drops open connections. */
  setFailing(failing: boolean): void;
  /** `DELETE /api/email/all`. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

interface MailDevEmail {
  id: string;
  time: string;
  subject?: string;
  text?: string;
  html?: string;
  from?: Array<{ address: string }>;
  to?: Array<{ address: string }>;
  envelope?: { from?: { address: string }; to?: Array<{ address: string }> };
}

export async function startMailCatcher(): Promise<MailCatcher> {
  const mailDirectory = mkdtempSync(join(tmpdir(), 'tp-maildev-'));
  const maildev = await startMailDev({ mailDirectory });
  let failing = false;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (failing) return refuse(client);
    const upstream = createConnection({ host: '127.0.0.1', port: maildev.smtpPort });
    sockets.add(upstream);
    upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve());
  });
  const api = maildev.url;
  const messages = async (): Promise<CaughtMail[]> => {
    const res = await fetch(`${api}/api/email`);
    if (!res.ok) throw new Error(`MailDev GET /api/email answered ${res.status}`);
    return ((await res.json()) as MailDevEmail[]).map(toCaught);
  };
  const messagesTo = async (address: string) => (await messages()).filter((m) => m.to.includes(address.toLowerCase()));
  return {
    smtpPort: (relay.address() as AddressInfo).port,
    httpPort: maildev.webPort,
    url: api,
    messages,
    messagesTo,
    async waitFor(address, { except = [], timeoutMs = 20_000 } = {}) {
      const seen = new Set(except);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mail = (await messagesTo(address)).find((m) => !seen.has(m.id));
        if (mail) return mail;
        if (Date.now() > deadline) throw new Error(`No mail to ${address} within ${timeoutMs} ms.`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    setFailing(value) {
      // The server going down or coming back ends the connections open now (the platform's mailer keeps a pool of
      // them), so none outlives the state it was opened in.
      if (value !== failing) for (const s of sockets) s.destroy();
      failing = value;
    },
    async clear() {
      const res = await fetch(`${api}/api/email/all`, { method: 'DELETE' });
      if (!res.ok) throw new Error(`MailDev DELETE /api/email/all answered ${res.status}`);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => relay.close(r));
      await maildev.stop();
      rmSync(mailDirectory, { recursive: true, force: true });
    },
  };
}

function toCaught(m: MailDevEmail): CaughtMail {
  const to = (m.envelope?.to ?? m.to ?? []).map((a) => a.address.toLowerCase());
  return {
    id: m.id,
    from: m.envelope?.from?.address ?? m.from?.[0]?.address ?? '',
    to,
    subject: m.subject ?? '',
    text: m.text ?? '',
    html: m.html ?? '',
    receivedAt: m.time,
  };
}

/** A server refusing mail for now: greets, accepts EHLO, answers 451 to each message. */
function refuse(socket: Socket): void {
  const reply = (line: string) => socket.write(`${line}\r\n`);
  reply('220 127.0.0.1 ESMTP mail catcher (failing on purpose)');
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    let end = buffered.indexOf('\r\n');
    while (end >= 0) {
      const command = buffered.slice(0, end).slice(0, 4).toUpperCase();
      buffered = buffered.slice(end + 2);
      if (command === 'EHLO' || command === 'HELO') reply('250 127.0.0.1');
      else if (command === 'QUIT') {
        reply('221 Bye');
        socket.end();
        return;
      } else if (command === 'RSET' || command === 'NOOP') reply('250 OK');
      else reply('451 4.3.0 Service temporarily unavailable');
      end = buffered.indexOf('\r\n');
    }
  });
}
