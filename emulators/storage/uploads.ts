/**
 * The three upload protocols of the Cloud Storage JSON API
 * (https://cloud.google.com/storage/docs/uploads-downloads): `media` (bytes
 * only), `multipart` (multipart/related: JSON metadata, then the bytes) and
 * `resumable` (a session URI from the first POST, then PUTs with
 * Content-Range; 308 with `Range` until the last byte arrives).
 */
import { randomBytes } from 'node:crypto';

/** Splits a multipart/related body into its metadata JSON and media bytes. */
export function parseMultipart(body: Buffer, contentType: string): { metadata: Record<string, any>; data: Buffer; mediaType?: string } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new Error('multipart upload without a boundary in Content-Type');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    parts.push(body.subarray(start + delimiter.length, next));
    start = next;
  }
  const split = (part: Buffer) => {
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    // The part's content ends before the CRLF that precedes the next delimiter.
    let content = part.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    return { headers, content };
  };
  if (parts.length < 2) throw new Error('multipart upload needs a metadata part and a media part');
  const meta = split(parts[0]);
  const media = split(parts[1]);
  return {
    metadata: JSON.parse(meta.content.toString('utf8') || '{}'),
    data: media.content,
    mediaType: /content-type:\s*([^\r\n]+)/i.exec(media.headers)?.[1]?.trim(),
  };
}

export interface UploadSession {
  bucket: string;
  member: string;
  metadata: Record<string, any>;
  received: Buffer[];
  size: number;
}

/** Open resumable sessions by upload id. */
export function createSessions() {
  const sessions = new Map<string, UploadSession>();
  return {
    open(session: Omit<UploadSession, 'received' | 'size'>): string {
      const id = randomBytes(16).toString('hex');
      sessions.set(id, { ...session, received: [], size: 0 });
      return id;
    },
    get: (id: string) => sessions.get(id),
    close: (id: string) => sessions.delete(id),
  };
}

/**
 * Applies one PUT of a resumable session: `Content-Range: bytes A-B/T`, `bytes A-B/*`,
 * `bytes *\/T` (a status query) or none (the whole object). Returns whether the upload is complete.
 */
export function applyChunk(session: UploadSession, range: string | undefined, chunk: Buffer): { complete: boolean; error?: string } {
  if (!range) {
    session.received = [chunk];
    session.size = chunk.length;
    return { complete: true };
  }
  const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(range.trim());
  if (!m) return { complete: false, error: `bad Content-Range "${range}"` };
  const total = m[4] === '*' ? undefined : Number(m[4]);
  if (m[1] !== '*') {
    const first = Number(m[2]);
    if (first !== session.size) return { complete: false, error: `chunk starts at ${first}, expected ${session.size}` };
    session.received.push(chunk);
    session.size += chunk.length;
  }
  // A size known from the header completes the upload once every byte has arrived; "bytes 0-*/*" streams to the end of its request.
  if (total !== undefined) return { complete: session.size === total };
  return { complete: m[3] === '*' };
}
