/**
 * A local stand-in for Gemini that the real @google/genai SDK talks to (via
 * `httpOptions.baseUrl`). It replays queued, correctly shaped replies and
 * records every request so tests can assert what the model was sent.
 *
 * Shapes followed:
 * - Paths: Gemini Developer API `/{v1beta}/models/{model}:generateContent` and
 *   Vertex AI `/{v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`,
 *   each also as `:streamGenerateContent?alt=sse` (googleapis/js-genai: ApiClient,
 *   VERTEX_AI_API_DEFAULT_VERSION / GOOGLE_AI_API_DEFAULT_VERSION).
 * - GenerateContentResponse JSON: `candidates[{content{role,parts[{text}|{functionCall{name,args}}]},
 *   finishReason, index}]`, `promptFeedback{blockReason}`, `usageMetadata{promptTokenCount,
 *   candidatesTokenCount,totalTokenCount}`, `modelVersion`, `responseId`
 *   (firebase.google.com/docs/reference/ai-logic/rest/v1beta/GenerateContentResponse;
 *   Vertex AI GenerateContentResponse: promptFeedback is "sent only in the first stream chunk"
 *   and only when no candidates were generated because of content violations).
 * - Streaming: Server-Sent Events, one `data: <GenerateContentResponse JSON>` per chunk,
 *   events separated by a blank line (js-genai processStreamResponse).
 * - Errors: HTTP status with Google's JSON `{"error":{"code","message","status"}}`
 *   (js-genai throwErrorIfNotOK turns it into ApiError with `status`).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

/** One queued reply: the chunks of a response (streamed one per event, merged for a unary call), or an HTTP error. */
export type GeminiReply = { chunks: Json[] } | { error: { status: number; code: string; message: string } };

export interface GeminiRequest {
  api: 'vertex' | 'developer';
  method: 'generateContent' | 'streamGenerateContent';
  model: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: {
    contents: { role?: string; parts: Json[] }[];
    systemInstruction?: { parts: { text: string }[] };
    tools?: { functionDeclarations?: { name: string; description?: string; parameters?: Json }[] }[];
    [key: string]: unknown;
  };
}

export interface GeminiFake {
  /** Base URL for `httpOptions.baseUrl`. */
  url: string;
  requests: GeminiRequest[];
  /** Queues replies, answered in order, one per request. */
  reply(...replies: GeminiReply[]): void;
  /** Replies still queued (a test can assert the model was called as often as scripted). */
  pending(): number;
  close(): Promise<void>;
}

const usage = { promptTokenCount: 120, candidatesTokenCount: 12, totalTokenCount: 132 };
const candidate = (parts: Json[], finishReason?: string): Json => ({
  content: { role: 'model', parts },
  ...(finishReason ? { finishReason } : {}),
  index: 0,
});
let responseSeq = 0;
const envelope = (body: Json): Json => ({ ...body, modelVersion: 'gemini-2.5-flash', responseId: `fake-${++responseSeq}` });

/** A text answer, streamed in pieces; the last chunk carries finishReason STOP and usage. */
export function textReply(...pieces: string[]): GeminiReply {
  return {
    chunks: pieces.map((text, i) =>
      envelope({ candidates: [candidate([{ text }], i === pieces.length - 1 ? 'STOP' : undefined)], ...(i === pieces.length - 1 ? { usageMetadata: usage } : {}) }),
    ),
  };
}

/** The model asks to call functions (optionally after some text). */
export function functionCallReply(calls: { name: string; args?: Json }[], text?: string): GeminiReply {
  const parts: Json[] = [...(text ? [{ text }] : []), ...calls.map((c) => ({ functionCall: { name: c.name, args: c.args ?? {} } }))];
  return { chunks: [envelope({ candidates: [candidate(parts, 'STOP')], usageMetadata: usage })] };
}

/** The prompt was blocked: no candidates, only promptFeedback. */
export function blockedReply(blockReason = 'SAFETY'): GeminiReply {
  return { chunks: [envelope({ promptFeedback: { blockReason, safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] }, usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 } })] };
}

/** An HTTP error as Google APIs answer it. */
export function errorReply(status: number, code: string, message: string): GeminiReply {
  return { error: { status, code, message } };
}

/** Merges stream chunks into one unary response the way the API would answer without streaming. */
function merge(chunks: Json[]): Json {
  const parts = chunks.flatMap((c) => ((c.candidates as Json[] | undefined)?.[0]?.content as { parts?: Json[] } | undefined)?.parts ?? []);
  const last = chunks.at(-1) ?? {};
  if (!last.candidates) return last;
  const finishReason = ((last.candidates as Json[])[0] as Json).finishReason as string | undefined;
  return envelope({ candidates: [candidate(parts, finishReason)], usageMetadata: last.usageMetadata ?? usage });
}

const PATH = /^\/[\w.]+\/(?:(projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/)?models\/([^/:]+)):(generateContent|streamGenerateContent)$/;

export async function startGeminiFake(): Promise<GeminiFake> {
  const queue: GeminiReply[] = [];
  const requests: GeminiRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const match = PATH.exec(url.pathname);
    const sendError = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' }).end(JSON.stringify({ error: { code: status, message, status: code } }));
    };
    if (req.method !== 'POST' || !match) return sendError(404, 'NOT_FOUND', `The fake serves only :generateContent and :streamGenerateContent, not ${req.method} ${url.pathname}.`);
    const method = match[3] as GeminiRequest['method'];
    requests.push({ api: match[1] ? 'vertex' : 'developer', method, model: match[2], path: url.pathname, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') });
    const reply = queue.shift();
    if (!reply) return sendError(500, 'INTERNAL', 'The Gemini fake has no reply queued for this request; the test scripted fewer model turns than the code made.');
    if ('error' in reply) return sendError(reply.error.status, reply.error.code, reply.error.message);
    if (method === 'generateContent') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' }).end(JSON.stringify(merge(reply.chunks)));
      return;
    }
    if (url.searchParams.get('alt') !== 'sse') return sendError(400, 'INVALID_ARGUMENT', 'The fake streams only with alt=sse.');
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    for (const chunk of reply.chunks) res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    reply: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
