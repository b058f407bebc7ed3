/**
 * Firebase Hosting buffers what its rewrites to functions and Cloud Run answer:
 * a streamed (SSE, chunked) answer reaches the browser only once the function
 * has finished it, in one piece (firebase/firebase-tools#9774). The local
 * gateway does the same to every rewritten answer, so a page or CLI command
 * that streams through a rewrite fails here as it would in production,
 * instead of working locally only.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

type Callback = (err?: Error | null) => void;

/**
 * Makes `res` collect everything the function writes and send it, with a
 * Content-Length, when the function ends it. Headers count as sent from the
 * first write on, as the function would see them behind Hosting.
 */
export function bufferLikeHosting(res: ServerResponse): void {
  const chunks: Buffer[] = [];
  const end = res.end.bind(res);
  const writeHead = res.writeHead.bind(res);
  let started = false;
  // Node's own end() writes the head through this.writeHead: then it must really happen.
  let ending = false;
  const collect = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array),
    );
  };
  const callbackOf = (...args: unknown[]) => args.find((a): a is Callback => typeof a === 'function');

  // Nothing leaves before the end: the headers wait with the body.
  res.flushHeaders = () => {
    started = true;
  };
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    if (ending) return (writeHead as (...args: unknown[]) => ServerResponse)(status, ...rest);
    res.statusCode = status;
    const headers = rest.find((r) => typeof r === 'object' && r !== null) as OutgoingHttpHeaders | undefined;
    for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) res.setHeader(name, value);
    started = true;
    return res;
  }) as ServerResponse['writeHead'];
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    started = true;
    collect(chunk, rest[0]);
    callbackOf(...rest)?.();
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (res.writableEnded) return res;
    collect(chunk, rest[0]);
    const body = Buffer.concat(chunks);
    // A visitor who left gets nothing; the function still ran to its end, as behind Hosting.
    if (!res.destroyed) {
      res.removeHeader('Transfer-Encoding');
      // 204 and 304 carry no body, so no length either (RFC 9110 §8.6).
      if (res.statusCode !== 204 && res.statusCode !== 304) res.setHeader('Content-Length', body.length);
    }
    ending = true;
    return end(body, callbackOf(chunk, ...rest));
  }) as ServerResponse['end'];
  Object.defineProperty(res, 'headersSent', { get: () => started || res.writableEnded, configurable: true });
}
