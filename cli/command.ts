/**
 * The shape every command has, and what it gets to run: parsed options and
 * arguments, the output, stdin, and a lazily opened API client (so `--help`
 * and `login` work without being signed in).
 */
import type { Readable } from 'node:stream';
import type { ApiClient } from './client.ts';
import type { Env } from './credentials.ts';
import type { Output, TtyWritable } from './output.ts';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; description: string }>;

export interface CommandContext {
  out: Output;
  env: Env;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** For prompts, which must not mix with stdout's results. */
  stderr: TtyWritable;
  fetch: typeof fetch;
  /** Positional arguments after the command name (and sub-command, if any). */
  args: string[];
  values: Record<string, string | boolean | undefined>;
  client(): ApiClient;
}

export interface Command {
  name: string;
  /** e.g. `create <name> [--env demo,test,live]`. */
  usage: string;
  summary: string;
  options?: OptionSpec;
  /** Allowed count of positional arguments. */
  args: [min: number, max: number];
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: 'boolean', description: 'print machine-readable JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

/** Options of the commands that start an operation and follow it. */
export const WAIT_OPTIONS: OptionSpec = {
  'no-wait': { type: 'boolean', description: 'return once the request is accepted, without following its events' },
  timeout: { type: 'string', description: 'seconds to wait for the operation to finish (default 600)' },
};
