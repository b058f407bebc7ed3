import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.ts';

/** A request as functions-framework hands it over (body already read) or as a plain Node server does (stream unread). */
export type IncomingRequest = IncomingMessage & { rawBody?: Buffer; body?: unknown };

/**
 * Reads the request body once, bounded by `limit` bytes. functions-framework
 * has already consumed the stream and kept `rawBody`; a plain server has not.
 */
export async function readRawBody(req: IncomingRequest, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) {
    if (req.rawBody.length > limit) throw tooLarge(limit);
    return req.rawBody;
  }
  if (req.readableEnded || (req.complete && req.readableLength === 0 && req.rawBody !== undefined)) return Buffer.alloc(0);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  req.rawBody = raw;
  return raw;
}

/** Parses a JSON object body; an empty body is `{}`. Anything but a JSON object is a 400. */
export function parseJsonObject(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (raw.length === 0) return {};
  if (contentType && !/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new AppError('unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".');
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new AppError('invalid_json', `The body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('invalid_json', 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `The body is larger than ${limit} bytes.`, { limitBytes: limit });
}
