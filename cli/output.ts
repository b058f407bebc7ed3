/**
 * Everything the CLI writes: tables and lines for people, JSON for machines,
 * colors and a spinner only when the stream is a terminal (so pipes and tests
 * see plain, stable text).
 */
import type { Writable } from 'node:stream';

export type TtyWritable = Writable & { isTTY?: boolean; columns?: number };

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Color = keyof typeof CODES;

export interface Output {
  /** Machine output requested (`--json`): only `json()` writes to stdout. */
  readonly jsonMode: boolean;
  /** A line for people on stdout (dropped in JSON mode, so stdout stays parseable). */
  line(text?: string): void;
  /** A note on stderr (kept in JSON mode). */
  note(text: string): void;
  json(value: unknown): void;
  /** One compact JSON object per line (JSON Lines), for streams. */
  jsonLine(value: unknown): void;
  table(rows: object[], columns: string[]): void;
  color(color: Color, text: string): string;
  /** Starts a spinner on stderr when it is a terminal; lines printed meanwhile appear above it. */
  spin(text: string): { stop(): void };
}

/**
 * Builds the CLI's writer over the given stdout and stderr. The streams and
 * `env` are passed in rather than read from `process` so tests capture the
 * text, and so NO_COLOR, TERM and `--json` decide the format in one place.
 */
export function createOutput(
  stdout: TtyWritable,
  stderr: TtyWritable,
  options: { json: boolean; env: Record<string, string | undefined> },
): Output {
  const colorOn = Boolean(stdout.isTTY) && !options.env.NO_COLOR && options.env.TERM !== 'dumb';
  let spinner: { text: string; frame: number; timer: NodeJS.Timeout } | undefined;
  const clearSpinner = () => {
    if (spinner) stderr.write('\r\x1b[2K');
  };
  const drawSpinner = () => {
    if (spinner) stderr.write(`\r\x1b[2K${SPINNER[spinner.frame % SPINNER.length]} ${spinner.text}`);
  };
  const out: Output = {
    jsonMode: options.json,
    line(text = '') {
      if (options.json) return;
      clearSpinner();
      stdout.write(text + '\n');
      drawSpinner();
    },
    note(text) {
      clearSpinner();
      stderr.write(text + '\n');
      drawSpinner();
    },
    json(value) {
      stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
    jsonLine(value) {
      stdout.write(JSON.stringify(value) + '\n');
    },
    table(rows, columns) {
      if (rows.length === 0) return;
      const cells = rows.map((row) => columns.map((c) => formatCell((row as Record<string, unknown>)[c])));
      // Color codes take no room on screen: widths count visible characters only.
      const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => visibleLength(r[i]))));
      out.line(
        out.color(
          'dim',
          columns
            .map((c, i) => c.toUpperCase().padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        ),
      );
      for (const r of cells)
        out.line(
          r
            .map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i] - visibleLength(cell))))
            .join('  ')
            .trimEnd(),
        );
    },
    color(color, text) {
      return colorOn ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
    },
    spin(text) {
      if (!stderr.isTTY || options.json) return { stop() {} };
      const started = Date.now();
      spinner = {
        text,
        frame: 0,
        timer: setInterval(() => {
          if (!spinner) return;
          spinner.frame++;
          spinner.text = `${text} ${Math.round((Date.now() - started) / 1000)}s`;
          drawSpinner();
        }, 100),
      };
      drawSpinner();
      return {
        stop() {
          if (!spinner) return;
          clearInterval(spinner.timer);
          clearSpinner();
          spinner = undefined;
        },
      };
    },
  };
  return out;
}

/** The length of a text as shown on a terminal, without its color codes. */
export function visibleLength(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object')
    return (
      Object.entries(value)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '-'
    );
  return String(value);
}

/** A state in its color: green when healthy, yellow while changing, red when broken. */
export function paintState(out: Output, state: string): string {
  if (state === 'ready') return out.color('green', state);
  if (state === 'failed') return out.color('red', state);
  if (state === 'deleted') return out.color('dim', state);
  return out.color('yellow', state);
}

/** `HH:MM:SS` of an ISO time, local clock. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}
