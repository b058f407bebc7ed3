import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A message as the catcher received it. */
export interface CaughtMail {
  id: number;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  receivedAt: string;
}

export interface MailCatcher {
  smtpPort: number;
  httpPort: number;
  messages(): CaughtMail[];
  /** Resolves with the first message to `address` that arrives (or already arrived) after `afterId`. */
  waitFor(address: string, options?: { afterId?: number; timeoutMs?: number }): Promise<CaughtMail>;
  /** Makes the SMTP server refuse every message with a 451 (a provider outage) until set back. */
  setFailing(failing: boolean): void;
  clear(): void;
  close(): Promise<void>;
}

/**
 * A local SMTP server that keeps every message in memory, with a web inbox
 * (GET / lists, GET /messages/:id shows one with clickable links, GET /api/messages as JSON).
 */
export async function startMailCatcher(
  options: { host?: string; smtpPort?: number; httpPort?: number; max?: number } = {},
): Promise<MailCatcher> {
  const host = options.host ?? '127.0.0.1';
  const max = options.max ?? 500;
  const inbox: CaughtMail[] = [];
  const waiters = new Set<() => void>();
  let nextId = 1;
  let failing = false;

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      if (failing) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('Service temporarily unavailable'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream)
        .then((mail) => {
          inbox.push({
            id: nextId++,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            receivedAt: new Date().toISOString(),
          });
          if (inbox.length > max) inbox.shift();
          for (const wake of waiters) wake();
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.server.once('error', reject);
    smtp.listen(options.smtpPort ?? 0, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const http: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/messages' && req.method === 'DELETE') {
      inbox.length = 0;
      res.writeHead(204).end();
    } else if (url.pathname === '/api/messages') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify([...inbox].reverse()));
    } else if (url.pathname.startsWith('/messages/')) {
      const mail = inbox.find((m) => m.id === Number(url.pathname.split('/')[2]));
      if (!mail) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('No such message.');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(
        page(
          escapeHtml(mail.subject),
          `<p><a href="/">← Inbox</a></p>
<p><b>To:</b> ${escapeHtml(mail.to.join(', '))}<br><b>Subject:</b> ${escapeHtml(mail.subject)}<br><b>At:</b> ${mail.receivedAt}</p>
<iframe title="The message" sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation" srcdoc="${escapeHtml(openLinksOnTop(mail.html || `<pre>${escapeHtml(mail.text)}</pre>`))}" style="width:100%;height:70vh;border:1px solid #ddd"></iframe>
${linkList(mail)}`,
        ),
      );
    } else if (url.pathname === '/') {
      const rows = [...inbox]
        .reverse()
        .map(
          (m) =>
            `<tr><td>${m.receivedAt.slice(11, 19)}</td><td>${escapeHtml(m.to.join(', '))}</td><td><a href="/messages/${m.id}">${escapeHtml(m.subject)}</a></td></tr>`,
        );
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(
        page(
          'Inbox',
          `<p>${inbox.length} message(s) caught on SMTP port ${smtpPort}. <a href="/">Refresh</a></p>
<table><thead><tr><th>Time</th><th>To</th><th>Subject</th></tr></thead><tbody>${rows.join('') || '<tr><td colspan=3>No mail yet.</td></tr>'}</tbody></table>`,
        ),
      );
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found.');
    }
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.httpPort ?? 0, host, () => resolve());
  });

  return {
    smtpPort,
    httpPort: (http.address() as AddressInfo).port,
    messages: () => [...inbox],
    setFailing: (value) => void (failing = value),
    clear: () => void (inbox.length = 0),
    waitFor(address, { afterId = 0, timeoutMs = 20_000 } = {}) {
      const find = () => inbox.find((m) => m.id > afterId && m.to.includes(address.toLowerCase()));
      return new Promise((resolve, reject) => {
        const wake = () => {
          const mail = find();
          if (!mail) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`No mail to ${address} within ${timeoutMs} ms.`));
        }, timeoutMs);
        waiters.add(wake);
        wake();
      });
    },
    async close() {
      http.closeAllConnections();
      await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => smtp.close(() => r(undefined)))]);
    },
  };
}

/**
 * A link clicked inside the sandboxed frame would open inside it, where the
 * page's scripts may not run (and our pages refuse framing anyway): a base
 * target makes every link navigate the whole tab instead.
 */
export function openLinksOnTop(html: string): string {
  const base = '<base target="_top">';
  return /<head[^>]*>/i.test(html) ? html.replace(/<head[^>]*>/i, (head) => head + base) : base + html;
}

/** The mail's links, listed again outside the frame as plain top-level links. */
function linkList(mail: CaughtMail): string {
  const links = [
    ...new Set([...(mail.html + '\n' + mail.text).matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0].replace(/&amp;/g, '&'))),
  ];
  if (links.length === 0) return '';
  return `<p><b>Links in this mail</b> (open in this tab):</p><ul>${links.map((l) => `<li><a href="${escapeHtml(l)}">${escapeHtml(l)}</a></li>`).join('')}</ul>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title} · mail catcher</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2937;overflow-wrap:anywhere}iframe{box-sizing:border-box;max-width:100%}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #e5e7eb}</style></head>
<body><h1>${title}</h1>${body}</body></html>`;
}
