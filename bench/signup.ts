/**
 * Signup throughput: `POST /api/signup` through the gateway with N clients
 * at once, each signing up a new address (validation, the per-IP rate limit
 * document, an Auth lookup, one transaction writing the signup and its outbox
 * mail, one Cloud Task). Baseline: a handler doing one bare Firestore write,
 * behind the same edge (wrap: request id, CORS, JSON body, logs) on the same
 * path, in the same process. The ratio is what signing up costs over the
 * cheapest possible durable write.
 *
 * `signupsPerSecond` is the signup function's own throughput: the mail queue
 * is paused (Cloud Tasks `PauseQueue`) while it is measured, as in production
 * the mail worker, Cloud Tasks and the SMTP server run elsewhere rather than on
 * the signup function's CPU; every mail is delivered once the queue resumes
 * (`mailDrainAfterLast`, `mailsPerSecond`). `signupsWithMailPerSecond` is the
 * same drive with delivery running beside it on this machine's cores.
 *
 * The per-IP limit (R-SIGNUP-4) would stop a benchmark after 20 requests, so
 * the bench stack sets RATE_LIMIT_PER_HOUR to its maximum; the limiter still
 * runs on every request.
 *
 * Run directly: `npx tsx bench/signup.ts [signups] [clients]`.
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalTasksClient } from '../emulators/cloud-tasks/client.ts';
import { toNodeHandler } from '../functions/start-function.ts';
import type { Deps } from '../shared/deps.ts';
import { createRouter } from '../shared/http/router.ts';
import { ensureEmulators, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { summarize, timeMs } from './lib/stats.ts';

/** One bare write behind the same edge and path as the signup function. */
async function startBaselineServer(deps: Deps): Promise<{ url: string; close(): Promise<void> }> {
  const handler = toNodeHandler(
    createRouter([
      {
        method: 'POST',
        path: '/api/signup',
        handler: async (ctx) => {
          const body = await ctx.json();
          await deps.db
            .collection('benchSignups')
            .doc(randomBytes(10).toString('hex'))
            .set({ email: body.email, at: new Date().toISOString() });
          return { status: 202, body: { status: 'pending_activation' } };
        },
      },
    ]),
    deps,
  );
  const server = createServer((req, res) => {
    // As the gateway does: the peer address appended for the edge to read.
    req.headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One POST over a keep-alive agent bound to a loopback address, so each client has its own IP. */
function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `total` signups from `clients` concurrent clients; signups/s and
 * per-request latency. With `distinctIps` each client connects from its own
 * loopback address (127.0.0.x), as real visitors come from their own
 * addresses; otherwise all share 127.0.0.1 and so one rate-limit counter.
 */
async function drive(
  base: string,
  total: number,
  clients: number,
  prefix: string,
  distinctIps: boolean,
): Promise<{ perSecond: number; p50: number; p95: number }> {
  const url = new URL('/api/signup', base);
  const agents = Array.from(
    { length: clients },
    (_, i) => new Agent({ keepAlive: true, maxSockets: 1, localAddress: distinctIps ? `127.0.0.${10 + i}` : '127.0.0.1' }),
  );
  const latencies: number[] = [];
  const started = performance.now();
  let next = 0;
  try {
    await Promise.all(
      agents.map(async (agent) => {
        while (next < total) {
          const i = next++;
          const t0 = performance.now();
          const res = await post(agent, url, JSON.stringify({ email: `${prefix}-${i}@bench.example.com`, name: 'Bench User' }));
          if (res.status !== 202) throw new Error(`benchSignup: ${url} answered ${res.status}: ${res.text}`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  const s = summarize(latencies);
  return { perSecond: total / seconds, p50: s.p50, p95: s.p95 };
}

/** Waits until the mail function delivered `count` messages, so nothing is in flight when the stack closes. */
async function waitForMail(count: () => Promise<number>, expected: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (let n = await count(); n < expected; n = await count()) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`benchSignup: only ${n} of ${expected} activation mails arrived within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - started;
}

export async function benchSignup(opts: { signups?: number; clients?: number } = {}): Promise<BenchReport> {
  const total = opts.signups ?? 200;
  const clients = opts.clients ?? 10;
  const stopEmulators = await ensureEmulators();
  const platform = await startBenchPlatform({ env: { RATE_LIMIT_PER_HOUR: '100000' } });
  const baseline = await startBaselineServer(platform.stack.deps);
  const oneIpSignups = Math.min(total, 60);
  try {
    const run = randomBytes(3).toString('hex');
    // Warm both paths (clients, pools, the Auth emulator's first lookup, the JIT) before measuring, alike.
    const mail = platform.stack.mail;
    const mailCount = async () => (await mail.messages()).length;
    await drive(platform.stack.url, 100, clients, `warm-${run}`, true);
    await drive(baseline.url, 100, clients, `warm-${run}`, true);
    await waitForMail(mailCount, 100, 180_000);
    await mail.clear();
    const withMail = await drive(platform.stack.url, total, clients, `m-${run}`, true);
    await waitForMail(mailCount, total, 180_000);
    await mail.clear();
    const { config } = platform.stack.deps;
    const tasks = createLocalTasksClient(config.emulators.tasks!);
    const mailQueue = tasks.queuePath(config.projectId, config.tasks.location, 'mail');
    await tasks.pauseQueue({ name: mailQueue });
    let signup: Awaited<ReturnType<typeof drive>>;
    try {
      signup = await drive(platform.stack.url, total, clients, `s-${run}`, true);
    } finally {
      await tasks.resumeQueue({ name: mailQueue });
      await tasks.close();
    }
    const drainMs = await waitForMail(mailCount, total, 180_000);
    const bare = await drive(baseline.url, total, clients, `b-${run}`, true);
    await mail.clear();
    const oneIp = await drive(platform.stack.url, oneIpSignups, clients, `o-${run}`, false);
    const bareOneIp = await drive(baseline.url, oneIpSignups, clients, `p-${run}`, false);
    await waitForMail(mailCount, oneIpSignups, 180_000);
    // Each signup looks the address up in Auth (R-SIGNUP-3); timed alone it shows how much of a signup that is here.
    const auth = await platform.stack.deps.auth();
    const lookups: number[] = [];
    for (let i = 0; i < 20; i++)
      lookups.push(await timeMs(() => auth.getUserByEmail(`nobody-${run}-${i}@bench.example.com`).catch(() => undefined)));
    const label = 'one bare Firestore write';
    return {
      name: `signup (${clients} clients)`,
      figures: {
        signupsPerSecond: { value: signup.perSecond, unit: '/s', baseline: bare.perSecond, baselineLabel: label },
        signupP50: { value: signup.p50, unit: 'ms', baseline: bare.p50, baselineLabel: label },
        signupP95: { value: signup.p95, unit: 'ms', baseline: bare.p95, baselineLabel: label },
        signupsWithMailPerSecond: { value: withMail.perSecond, unit: '/s', baseline: bare.perSecond, baselineLabel: label },
        mailDrainAfterLast: { value: drainMs / 1000, unit: 's' },
        mailsPerSecond: { value: total / (drainMs / 1000), unit: '/s' },
        authLookupP50: { value: summarize(lookups).p50, unit: 'ms' },
        oneIpSignupsPerSecond: { value: oneIp.perSecond, unit: '/s', baseline: bareOneIp.perSecond, baselineLabel: label },
      },
      notes: [
        `${total} signups of new addresses from ${clients} concurrent clients, each from its own loopback address`,
        'authLookupP50: one Auth getUserByEmail alone, sequential (the Auth emulator here, Firebase Auth in production)',
        'signupsPerSecond: the mail queue paused meanwhile (the signup function alone); signupsWithMailPerSecond: the same drive with the mail worker, Cloud Tasks and the SMTP catcher on the same two cores',
        'mailDrainAfterLast: from resuming the mail queue until every activation mail reached the SMTP catcher; mailsPerSecond: that delivery rate',
        `oneIpSignupsPerSecond: ${oneIpSignups} signups with every client on 127.0.0.1, so all share one rate-limit counter document`,
      ],
    };
  } finally {
    await baseline.close();
    await platform.close();
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchSignup({
    signups: process.argv[2] ? Number(process.argv[2]) : undefined,
    clients: process.argv[3] ? Number(process.argv[3]) : undefined,
  });
  console.log(formatTable([report]));
  process.exit(0);
}
