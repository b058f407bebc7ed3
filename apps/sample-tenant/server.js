// @ts-check
/**
 * The sample tenant workload: what a tenant environment runs by default.
 *
 * Plain JavaScript with no dependencies so bare `node server.js` starts in
 * about 50 ms. Configured only through the environment:
 * - `PORT` (required; `0` picks a free port and logs it), `HOST` (default 127.0.0.1)
 * - `TENANT_ID`, `ENV_NAME`, `IMAGE` (shown on the page and in /health)
 * - `DATA_DIR` (persistent folder; a visit counter lives there)
 * - `TENANTPLANE_SECRET_KEYS` (comma-separated names of env vars holding secrets;
 *   only their names and whether they are set are ever shown)
 * - `STREAM_DELAY_MS` (pause between streamed words of /messages, default 50)
 * - `DATABASE_URL`, `BUCKET_NAME` (and locally `STORAGE_EMULATOR_HOST`,
 *   `STORAGE_ACCESS_TOKEN`): the environment's own data, used by /data/… (data.js)
 *
 * Every log line starts with an ISO-8601 timestamp so the local runtime can
 * date it without wrapping the process's output.
 */
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { handleData } from './data.js';

const env = process.env;
const tenantId = env.TENANT_ID ?? 'unknown';
const envName = env.ENV_NAME ?? 'unknown';
const image = env.IMAGE ?? 'unknown';
const host = env.HOST || '127.0.0.1';
const dataDir = resolve(env.DATA_DIR || join(process.cwd(), 'data'));
const streamDelayMs = Number(env.STREAM_DELAY_MS ?? 50);
const startedAt = new Date();
/** The sample tenant's own version, reported by /health and the page; raise it with every change to this file. */
export const VERSION = '1.1.0';
/** Names that look secret even when the runtime did not list them. */
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|API_KEY|PRIVATE|DATABASE_URL/;
/** Probes from the control plane are not tenant traffic, so they are not counted as requests. */
const PROBE_PATHS = new Set(['/health', '/metrics']);

let requests = 0;
/** Tenant requests answered with a 5xx: with `requests`, the error rate a rollout's health gate reads from /metrics. */
let errors = 0;

/** @param {string} text */
function log(text) {
  process.stdout.write(`${new Date().toISOString()} ${text}\n`);
}

/** @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Names of the secrets this process received; values are never read for display. */
function listSecretNames() {
  const declared = (env.TENANTPLANE_SECRET_KEYS ?? '').split(',').filter(Boolean);
  const guessed = Object.keys(env).filter((k) => SECRET_NAME.test(k));
  return [...new Set([...declared, ...guessed])].sort();
}

/** Increments the visit counter in DATA_DIR; written via rename so a crash never leaves half a file. */
function countVisit() {
  const file = join(dataDir, 'visits.json');
  let visits = 0;
  try {
    visits = Number(JSON.parse(readFileSync(file, 'utf8')).visits) || 0;
  } catch {
    // First visit, or an unreadable file: start again from zero.
  }
  visits += 1;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify({ visits, updatedAt: new Date().toISOString() }));
  renameSync(`${file}.tmp`, file);
  return visits;
}

/** @param {number} visits */
function renderPage(visits) {
  const secrets = listSecretNames()
    .map((k) => `<li><code>${escapeHtml(k)}</code>: ${env[k] ? 'set' : 'not set'}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(tenantId)} · ${escapeHtml(envName)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}</style></head>
<body><h1>Tenant ${escapeHtml(tenantId)}</h1>
<dl><dt>Environment</dt><dd id="env">${escapeHtml(envName)}</dd>
<dt>Image</dt><dd id="image">${escapeHtml(image)}</dd>
<dt>Version</dt><dd id="version">${VERSION}</dd>
<dt>Started</dt><dd id="started">${startedAt.toISOString()}</dd>
<dt>Visits (kept in the data folder)</dt><dd id="visits">${visits}</dd></dl>
<h2>Secrets</h2><ul id="secrets">${secrets || '<li>none</li>'}</ul>
</body></html>`;
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body */
function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
function readBody(req, maxBytes = 64 * 1024) {
  return new Promise((resolveBody, reject) => {
    let size = 0;
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > maxBytes) reject(new Error(`body larger than ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Streams an "agent" reply one word per SSE event, each written as soon as it
 * exists, so a proxy in front of it can be checked for buffering.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
 */
async function streamReply(req, res) {
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch (error) {
    return sendJson(res, 400, { error: { code: 'validation_failed', message: `expected a JSON body: ${String(error)}` } });
  }
  const message = body && typeof body === 'object' && 'message' in body ? body.message : undefined;
  if (typeof message !== 'string' || message.trim() === '') {
    return sendJson(res, 400, { error: { code: 'validation_failed', message: 'expected JSON {"message": "<non-empty text>"}' } });
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  const words = `Agent of ${tenantId}/${envName} here. You said: ${message.trim().slice(0, 500)}`.split(/\s+/);
  for (const [index, word] of words.entries()) {
    if (closed) return;
    res.write(`id: ${index + 1}\ndata: ${JSON.stringify({ delta: index === 0 ? word : ` ${word}` })}\n\n`);
    await new Promise((r) => setTimeout(r, streamDelayMs));
  }
  res.end(`event: done\ndata: ${JSON.stringify({ words: words.length })}\n\n`);
}

const server = createServer((req, res) => {
  const began = process.hrtime.bigint();
  const path = (req.url ?? '/').split('?')[0];
  if (!PROBE_PATHS.has(path)) requests += 1;
  res.on('finish', () => {
    if (res.statusCode >= 500 && !PROBE_PATHS.has(path)) errors += 1;
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    log(`${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  Promise.resolve()
    .then(() => {
      if (req.method === 'GET' && path === '/health') {
        return sendJson(res, 200, {
          status: 'ok',
          tenantId,
          env: envName,
          version: VERSION,
          image,
          uptimeSeconds: Math.round(process.uptime()),
          requests,
        });
      }
      if (req.method === 'GET' && path === '/metrics') {
        return sendJson(res, 200, {
          requests,
          errors,
          uptimeSeconds: Math.round(process.uptime()),
          memory: process.memoryUsage(),
          startedAt: startedAt.toISOString(),
        });
      }
      if (req.method === 'POST' && path === '/messages') return streamReply(req, res);
      if (path.startsWith('/data/')) return handleData(req, res, path, sendJson);
      if (req.method === 'GET' && path === '/') {
        const page = renderPage(countVisit());
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(page);
      }
      return sendJson(res, 404, {
        error: { code: 'not_found', message: `no route for ${req.method} ${path}; try GET /, GET /health, GET /metrics or POST /messages` },
      });
    })
    .catch((error) => {
      process.stderr.write(`${new Date().toISOString()} request failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'the sample tenant failed to answer' } });
      else res.end();
    });
});

/** @param {string} signal */
function shutDown(signal) {
  log(`received ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Streams in progress get a moment to finish, then the process leaves anyway.
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 2000).unref();
}
process.on('SIGTERM', () => shutDown('SIGTERM'));
process.on('SIGINT', () => shutDown('SIGINT'));

if (env.PORT === undefined || env.PORT === '' || !Number.isInteger(Number(env.PORT))) {
  process.stderr.write(`${new Date().toISOString()} PORT must be set to a port number, e.g. PORT=8080 (0 picks a free one)\n`);
  process.exit(2);
}
server.listen(Number(env.PORT), host, () => {
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : env.PORT;
  log(`listening on http://${host}:${port} tenant=${tenantId} env=${envName} image=${image} dataDir=${dataDir}`);
});
