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
 * - Requests: checked against the documented GenerateContentRequest (see
 *   checkGenerateContentRequest); one that departs from it is a 400 INVALID_ARGUMENT.
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
  /** Where the request departs from the documented GenerateContentRequest (the fake answered 400 then). */
  problems: string[];
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
      envelope({
        candidates: [candidate([{ text }], i === pieces.length - 1 ? 'STOP' : undefined)],
        ...(i === pieces.length - 1 ? { usageMetadata: usage } : {}),
      }),
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
  return {
    chunks: [
      envelope({
        promptFeedback: {
          blockReason,
          safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }],
        },
        usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 },
      }),
    ],
  };
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

/**
 * What the real API would refuse with 400 INVALID_ARGUMENT, from the documented
 * GenerateContentRequest (ai.google.dev/api/generate-content#request-body and
 * Vertex AI's GenerateContentRequest): only its fields; `contents` a non-empty
 * list of Content whose `role` is "user" or "model", each with parts holding
 * exactly one kind of data (a functionCall only from the model, a
 * functionResponse only from the user); `systemInstruction` a Content of text
 * parts; `tools[].functionDeclarations[]` with a name that starts with a letter
 * or underscore and has at most 64 of a-z, A-Z, 0-9, _ . : -, unique, a
 * description, and `parameters` a Schema whose `type` is one of the Type enum.
 */
export function checkGenerateContentRequest(body: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(body)) return ['the body is not a JSON object'];
  const fields = ['contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent', 'labels'];
  for (const key of Object.keys(body)) if (!fields.includes(key)) problems.push(`unknown field "${key}"`);
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) problems.push('contents must be a non-empty list');
  else contents.forEach((content, i) => problems.push(...checkContent(content, `contents[${i}]`, true)));
  if (body.systemInstruction !== undefined) {
    problems.push(...checkContent(body.systemInstruction, 'systemInstruction', false));
    const parts = (body.systemInstruction as Json).parts;
    if (Array.isArray(parts) && parts.some((p) => !isObject(p) || typeof p.text !== 'string'))
      problems.push('systemInstruction may hold only text parts');
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) problems.push('tools must be a list');
    else {
      const names = new Set<string>();
      body.tools.forEach((tool, i) => {
        if (!isObject(tool)) return problems.push(`tools[${i}] must be an object`);
        for (const key of Object.keys(tool)) if (!TOOL_FIELDS.includes(key)) problems.push(`tools[${i}] has an unknown field "${key}"`);
        const declarations = tool.functionDeclarations;
        if (declarations === undefined) return;
        if (!Array.isArray(declarations)) return problems.push(`tools[${i}].functionDeclarations must be a list`);
        declarations.forEach((d, j) => {
          const at = `tools[${i}].functionDeclarations[${j}]`;
          if (!isObject(d)) return problems.push(`${at} must be an object`);
          if (typeof d.name !== 'string' || !/^[A-Za-z_][\w.:-]{0,63}$/.test(d.name))
            problems.push(`${at}.name ${JSON.stringify(d.name)} is not a valid function name`);
          else if (names.has(d.name)) problems.push(`${at}.name ${d.name} is declared twice`);
          else names.add(d.name);
          if (d.description !== undefined && typeof d.description !== 'string') problems.push(`${at}.description must be text`);
          if (d.parameters !== undefined) problems.push(...checkSchema(d.parameters, `${at}.parameters`));
        });
      });
    }
  }
  for (const key of ['toolConfig', 'generationConfig'] as const)
    if (body[key] !== undefined && !isObject(body[key])) problems.push(`${key} must be an object`);
  return problems;
}

const TOOL_FIELDS = [
  'functionDeclarations',
  'googleSearchRetrieval',
  'codeExecution',
  'googleSearch',
  'urlContext',
  'computerUse',
  'fileSearch',
  'retrieval',
  'googleMaps',
  'enterpriseWebSearch',
];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const SCHEMA_TYPES = ['TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'];
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function checkContent(content: unknown, at: string, roleRequired: boolean): string[] {
  if (!isObject(content)) return [`${at} must be an object`];
  const problems: string[] = [];
  const role = content.role;
  if ((roleRequired || role !== undefined) && role !== 'user' && role !== 'model')
    problems.push(`${at}.role must be "user" or "model", not ${JSON.stringify(role)}`);
  if (!Array.isArray(content.parts) || content.parts.length === 0) return [...problems, `${at}.parts must be a non-empty list`];
  content.parts.forEach((part, k) => {
    if (!isObject(part)) return problems.push(`${at}.parts[${k}] must be an object`);
    const data = PART_DATA.filter((key) => part[key] !== undefined);
    if (data.length !== 1) problems.push(`${at}.parts[${k}] must hold exactly one of ${PART_DATA.join(', ')}, not ${data.length}`);
    if (part.functionCall !== undefined && role !== 'model') problems.push(`${at}.parts[${k}]: a functionCall comes only from the model`);
    if (part.functionResponse !== undefined && role !== 'user')
      problems.push(`${at}.parts[${k}]: a functionResponse is sent with role "user"`);
    if (
      part.functionResponse !== undefined &&
      (!isObject(part.functionResponse) || typeof part.functionResponse.name !== 'string' || !isObject(part.functionResponse.response))
    ) {
      problems.push(`${at}.parts[${k}].functionResponse needs a name and a response object`);
    }
  });
  return problems;
}

function checkSchema(schema: unknown, at: string): string[] {
  if (!isObject(schema)) return [`${at} must be a Schema object`];
  const problems: string[] = [];
  if (schema.type !== undefined && !SCHEMA_TYPES.includes(schema.type as string))
    problems.push(`${at}.type ${JSON.stringify(schema.type)} is not one of ${SCHEMA_TYPES.join(', ')}`);
  if (isObject(schema.properties))
    for (const [name, sub] of Object.entries(schema.properties)) problems.push(...checkSchema(sub, `${at}.properties.${name}`));
  if (schema.items !== undefined) problems.push(...checkSchema(schema.items, `${at}.items`));
  if (
    schema.required !== undefined &&
    (!Array.isArray(schema.required) || schema.required.some((r) => !isObject(schema.properties) || !(String(r) in schema.properties)))
  ) {
    problems.push(`${at}.required must name properties it declares`);
  }
  return problems;
}

const PATH =
  /^\/[\w.]+\/(?:(projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/)?models\/([^/:]+)):(generateContent|streamGenerateContent)$/;

/** Starts the fake on `port` of 127.0.0.1 (default: a free one). */
export async function startGeminiFake(options: { port?: number } = {}): Promise<GeminiFake> {
  const queue: GeminiReply[] = [];
  const requests: GeminiRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const match = PATH.exec(url.pathname);
    const sendError = (status: number, code: string, message: string) => {
      res
        .writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' })
        .end(JSON.stringify({ error: { code: status, message, status: code } }));
    };
    if (req.method !== 'POST' || !match)
      return sendError(
        404,
        'NOT_FOUND',
        `The fake serves only :generateContent and :streamGenerateContent, not ${req.method} ${url.pathname}.`,
      );
    const method = match[3] as GeminiRequest['method'];
    let body: GeminiRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      return sendError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const problems = checkGenerateContentRequest(body);
    requests.push({
      api: match[1] ? 'vertex' : 'developer',
      method,
      model: match[2],
      path: url.pathname,
      headers: req.headers,
      body,
      problems,
    });
    // The real API refuses such a request; so does the fake, before using up a queued reply.
    if (problems.length > 0) return sendError(400, 'INVALID_ARGUMENT', `Invalid GenerateContentRequest: ${problems.join('; ')}`);
    const reply = queue.shift();
    if (!reply)
      return sendError(
        500,
        'INTERNAL',
        'The Gemini fake has no reply queued for this request; the test scripted fewer model turns than the code made.',
      );
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
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
