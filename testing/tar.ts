/**
 * Test archives: `.tar.gz` files built entry by entry with node-tar's own
 * header encoder, so tests can make the hostile ones (`../` paths, links out of
 * the folder, devices) that no ordinary `tar czf` would.
 */
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export interface TarEntry {
  path: string;
  /** File content; absent for folders and links. */
  body?: string | Buffer;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  linkpath?: string;
  mode?: number;
}

export function makeTarGz(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    const type = entry.type ?? (entry.body === undefined ? 'Directory' : 'File');
    const header = new Header({
      path: entry.path,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: type === 'File' ? body.length : 0,
      type,
      linkpath: entry.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/**
 * A small Node app that listens on PORT and answers /health with its version;
 * `healthy: false` makes /health answer 500 (a release whose health check fails); `failing: true`
 * keeps /health at 200 but answers every other request with a 500, counted in /metrics.
 */
export function makeNodeApp(options: { name?: string; version: string; healthy?: boolean; failing?: boolean; folder?: string }): Buffer {
  const prefix = options.folder ? `${options.folder}/` : '';
  const server = `
import { createServer } from 'node:http';
const version = ${JSON.stringify(options.version)};
const healthy = ${options.healthy !== false};
const failing = ${options.failing === true};
let requests = 0;
let errors = 0;
createServer((req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ requests, errors }));
  }
  if (req.url === '/health') {
    res.writeHead(healthy ? 200 : 500, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ status: healthy ? 'ok' : 'broken', version, tenantId: process.env.TENANT_ID, env: process.env.ENV_NAME }));
  }
  requests += 1;
  if (failing) errors += 1;
  res.writeHead(failing ? 500 : 200, { 'content-type': 'text/plain' });
  res.end('app ' + version + ' of ' + process.env.TENANT_ID + '\\n');
}).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
`;
  const pkg = JSON.stringify({
    name: options.name ?? 'demo-app',
    version: options.version,
    type: 'module',
    scripts: { start: 'node server.js' },
  });
  return makeTarGz([
    ...(options.folder ? [{ path: `${options.folder}/` }] : []),
    { path: `${prefix}package.json`, body: pkg },
    { path: `${prefix}lib/` },
    { path: `${prefix}server.js`, body: server },
  ]);
}
