/**
 * Log files of a local environment: `stdout.log` and `stderr.log` written by
 * the workload itself (the driver never sits in the pipe, so output survives a
 * control-plane restart), and `system.log` where the driver notes starts and stops.
 *
 * Dating lines: a line beginning with an ISO-8601 time (as the sample tenant
 * and the driver write them) or a JSON line with `time`/`timestamp` carries its
 * own time. An undated line (a stack trace, a workload that prints no times)
 * takes the time of the dated line before it in the same file, or the first
 * dated line after it, or, in a file with no dates at all, the file's mtime.
 */
import { appendFile, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, LogQuery } from '../types.ts';

const STREAMS = ['stdout', 'stderr', 'system'] as const;
const ISO_PREFIX = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s?(.*)$/;
/** Enough for 1000 ordinary lines per file without reading whole multi-megabyte logs. */
const TAIL_BYTES = 512 * 1024;

/** Notes a driver event in the environment's `system.log`. */
export async function writeSystemLog(logDir: string, text: string): Promise<void> {
  await mkdir(logDir, { recursive: true });
  await appendFile(join(logDir, 'system.log'), `${new Date().toISOString()} ${text}\n`, { mode: 0o600 });
}

/**
 * The most recent lines of all three files, oldest first, at or after
 * `query.since`, at most `query.limit` (default 100, max 1000). Any of
 * `redact` found in a line is replaced, so secrets a workload prints do not
 * leave through the logs API.
 */
export async function readLogs(logDir: string, query: LogQuery = {}, redact: string[] = []): Promise<LogLine[]> {
  const limit = Math.max(0, Math.min(query.limit ?? 100, 1000));
  const since = query.since ? Date.parse(query.since) : Number.NEGATIVE_INFINITY;
  const perFile = await Promise.all(STREAMS.map((stream) => readTail(join(logDir, `${stream}.log`), stream)));
  if (limit === 0) return [];
  const hidden = redact.filter((v) => v.length >= 4);
  const lines = perFile
    .flat()
    .filter((l) => l.at >= since)
    .sort((a, b) => a.at - b.at || a.order - b.order)
    .slice(-limit);
  return lines.map(({ at, stream, text }) => ({
    time: new Date(at).toISOString(),
    stream,
    text: hidden.reduce((t, secret) => t.split(secret).join('[redacted]'), text),
  }));
}

interface DatedLine {
  at: number;
  order: number;
  stream: LogLine['stream'];
  text: string;
}

async function readTail(file: string, stream: LogLine['stream']): Promise<DatedLine[]> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size, mtimeMs } = await stat(file);
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const raw = buffer.toString('utf8').split('\n');
    if (start > 0) raw.shift(); // began mid-line
    if (raw.at(-1) === '') raw.pop();
    return dateLines(raw, stream, mtimeMs);
  } finally {
    await handle.close();
  }
}

function dateLines(raw: string[], stream: LogLine['stream'], mtimeMs: number): DatedLine[] {
  const parsed = raw.map((line) => parseTime(line));
  const firstDated = parsed.find((p) => p.at !== undefined)?.at ?? mtimeMs;
  let previous = firstDated;
  return parsed.map((p, order) => {
    previous = p.at ?? previous;
    return { at: previous, order, stream, text: p.text };
  });
}

function parseTime(line: string): { at?: number; text: string } {
  const match = ISO_PREFIX.exec(line);
  if (match) {
    const at = Date.parse(match[1]);
    if (!Number.isNaN(at)) return { at, text: match[2] };
  }
  if (line.startsWith('{')) {
    try {
      const json = JSON.parse(line) as { time?: unknown; timestamp?: unknown };
      const at = Date.parse(String(json.time ?? json.timestamp));
      if (!Number.isNaN(at)) return { at, text: line };
    } catch {
      // Not JSON after all: an undated line.
    }
  }
  return { text: line };
}
