import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));
const SECRET_VALUE = 'super-secret-value-4f9a1c';

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const started = new Set<ChildProcess>();
const folders: string[] = [];

/** Starts the sample tenant on a free port (PORT=0) and waits for its "listening on" line. */
async function startTenant(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      TENANT_ID: 'acme',
      ENV_NAME: 'demo',
      IMAGE: 'sample:v1',
      DATA_DIR: dataDir,
      JWT_SECRET: SECRET_VALUE,
      TENANTPLANE_SECRET_KEYS: 'JWT_SECRET,DATABASE_URL',
      STREAM_DELAY_MS: '40',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let out = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    out += c;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(out);
    if (match) return { child, url: match[1], output: () => out };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`sample tenant did not start; output:\n${out}`);
}

async function makeDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sample-tenant-'));
  folders.push(dir);
  return dir;
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

test.after.always(async () => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(folders.map((d) => rm(d, { recursive: true, force: true })));
});

// Health and metrics

test('health answers ok with its tenant and environment', async (t) => {
  const app = await startTenant(await makeDataDir());
  const res = await fetch(`${app.url}/health`);
  t.is(res.status, 200);
  const body = await res.json();
  t.like(body, { status: 'ok', tenantId: 'acme', env: 'demo' });
  t.regex(body.version, /^\d+\.\d+\.\d+$/, 'the sample reports its version');
  t.is(typeof body.uptimeSeconds, 'number');
  t.is(typeof body.requests, 'number');
  app.child.kill('SIGTERM');
});

test('metrics count tenant requests but not probes, and report memory', async (t) => {
  const app = await startTenant(await makeDataDir());
  await fetch(`${app.url}/`).then((r) => r.text());
  await fetch(`${app.url}/nope`).then((r) => r.text());
  await fetch(`${app.url}/health`).then((r) => r.text());
  const body = await (await fetch(`${app.url}/metrics`)).json();
  t.is(body.requests, 2);
  t.is(body.errors, 0, 'a 404 is not an error of the server');
  t.true(body.memory.rss > 0);
  app.child.kill('SIGTERM');
});

// Page, data folder and secrets

test('the page shows tenant, environment and image, and the visit counter survives a restart', async (t) => {
  const dataDir = await makeDataDir();
  const first = await startTenant(dataDir);
  const page1 = await (await fetch(`${first.url}/`)).text();
  t.regex(page1, /Tenant acme/);
  t.regex(page1, /<dd id="env">demo<\/dd>/);
  t.regex(page1, /<dd id="image">sample:v1<\/dd>/);
  t.regex(page1, /<dd id="visits">1<\/dd>/);
  first.child.kill('SIGTERM');
  t.is(await waitExit(first.child), 0);

  const second = await startTenant(dataDir);
  const page2 = await (await fetch(`${second.url}/`)).text();
  t.regex(page2, /<dd id="visits">2<\/dd>/);
  t.is(JSON.parse(await readFile(join(dataDir, 'visits.json'), 'utf8')).visits, 2);
  second.child.kill('SIGTERM');
});

test('secret values never appear on the page or in the logs, only their names', async (t) => {
  const app = await startTenant(await makeDataDir());
  const page = await (await fetch(`${app.url}/`)).text();
  t.regex(page, /<code>JWT_SECRET<\/code>: set/);
  t.regex(page, /<code>DATABASE_URL<\/code>: not set/);
  t.false(page.includes(SECRET_VALUE));
  app.child.kill('SIGTERM');
  await waitExit(app.child);
  t.false(app.output().includes(SECRET_VALUE));
});

// Streaming

test('POST /messages streams the reply word by word as separate SSE events, then done', async (t) => {
  // Words spaced well apart, so even a busy machine cannot make a correct stream look buffered.
  const app = await startTenant(await makeDataDir(), { STREAM_DELAY_MS: '120' });
  const res = await fetch(`${app.url}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'hello there' }),
  });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const arrivals: Array<{ at: number; text: string }> = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    arrivals.push({ at: Date.now(), text: new TextDecoder().decode(value) });
  }
  const all = arrivals.map((a) => a.text).join('');
  const deltas = [...all.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));
  t.true(all.trimEnd().endsWith('event: done\ndata: {"words":' + (deltas.length - 1) + '}'));
  t.is(
    deltas
      .slice(0, -1)
      .map((d) => d.delta)
      .join(''),
    'Agent of acme/demo here. You said: hello there',
  );
  // Unbuffered: the first words arrive on their own, long before the end of the stream.
  t.true(arrivals.length >= 2, `expected several reads, got ${arrivals.length}`);
  t.false(arrivals[0].text.includes('event: done'), 'the first read already held the whole reply');
  t.true(arrivals.at(-1)!.at - arrivals[0].at >= 500);
  app.child.kill('SIGTERM');
});

test('POST /messages without a message answers 400 and names the expected body', async (t) => {
  const app = await startTenant(await makeDataDir());
  const res = await fetch(`${app.url}/messages`, { method: 'POST', body: '{"msg":1}' });
  t.is(res.status, 400);
  t.regex((await res.json()).error.message, /"message"/);
  app.child.kill('SIGTERM');
});

// Process behaviour

test('each request is logged with an ISO timestamp and SIGTERM exits cleanly', async (t) => {
  const app = await startTenant(await makeDataDir());
  await fetch(`${app.url}/health`).then((r) => r.text());
  app.child.kill('SIGTERM');
  t.is(await waitExit(app.child), 0);
  t.regex(app.output(), /^\d{4}-\d\d-\d\dT[\d:.]+Z GET \/health 200 [\d.]+ms$/m);
});

test('a missing PORT stops the process with a message saying how to set it', async (t) => {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  t.is(await waitExit(child), 2);
  t.regex(err, /PORT must be set.*PORT=8080/);
});
