/**
 * `tenantplane` — the tenant CLI (R-OPS-3). `runCli` takes its whole world as
 * arguments (argv, env, streams, fetch) and returns the exit code: 0 ok,
 * 1 the API or an operation failed, 2 the command line was wrong.
 */
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import { COMMON_OPTIONS, type Command, type CommandContext, type OptionSpec } from './command.ts';
import { createClient, type ApiClient } from './client.ts';
import { openSession, type Env } from './credentials.ts';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { createOutput, type TtyWritable } from './output.ts';
import { login, logout } from './commands/session.ts';
import { create, list, show, status } from './commands/tenants.ts';
import { deploy, remove, resume, rotate, suspend } from './commands/operations.ts';
import { events, logs } from './commands/observe.ts';
import { secrets } from './commands/secrets.ts';
import { credentials } from './commands/credentials.ts';
import { imagesList, imagesPush } from './commands/images.ts';
import { releasesCreate, releasesList, releasesSettings } from './commands/releases.ts';
import {
  rolloutsCancel,
  rolloutsList,
  rolloutsPause,
  rolloutsResume,
  rolloutsRollback,
  rolloutsStart,
  rolloutsStatus,
  rolloutsWatch,
} from './commands/rollouts.ts';
import { backups } from './commands/backups.ts';
import { restoreTenant } from './commands/restore.ts';
import { exportData } from './commands/export.ts';

/** Every command, in the order help lists them. */
export const COMMANDS: Command[] = [
  login,
  logout,
  list,
  create,
  show,
  status,
  suspend,
  resume,
  deploy,
  logs,
  secrets,
  credentials,
  rotate,
  backups,
  exportData,
  remove,
  restoreTenant,
  events,
  imagesPush,
  imagesList,
  releasesCreate,
  releasesList,
  releasesSettings,
  rolloutsStart,
  rolloutsList,
  rolloutsStatus,
  rolloutsWatch,
  rolloutsPause,
  rolloutsResume,
  rolloutsCancel,
  rolloutsRollback,
];

/** Words that group sub-commands: `images push` is the command named "images push". */
const GROUPS = ['images', 'releases', 'rollouts'];

export interface CliIo {
  argv: string[];
  env: Env;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: TtyWritable;
  stderr: TtyWritable;
  fetch?: typeof fetch;
}

export function formatUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => displayName(c).length));
  return [
    'Usage: tenantplane <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${displayName(c).padEnd(width)}  ${c.summary}`),
    '',
    'A <tenant> is its id (t-…) or its name. Every command takes --json for machine output.',
    'Operations (create, deploy, suspend, resume, rotate, delete) follow their events until done; --no-wait returns at once.',
    'Those that touch live (suspend, deploy, rotate, delete) ask first; --yes skips the question in scripts.',
    'Sign-in: `tenantplane login`, or TENANTPLANE_TOKEN and TENANTPLANE_URL in the environment.',
    'Run `tenantplane <command> --help` for its options.',
  ].join('\n');
}

function displayName(c: Command): string {
  return c.name === 'list' ? 'tenants list' : c.name;
}

export function formatCommandHelp(command: Command): string {
  const options: OptionSpec = { ...command.options, ...COMMON_OPTIONS };
  const lines = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    return `  ${flag.padEnd(28)} ${o.description}`;
  });
  return [
    `Usage: tenantplane ${command.usage}`,
    '',
    command.summary[0].toUpperCase() + command.summary.slice(1) + '.',
    '',
    'Options:',
    ...lines,
  ].join('\n');
}

function findCommand(argv: string[]): { command?: Command; rest: string[]; name?: string } {
  let [name, ...rest] = argv;
  // `tenants <command>` is accepted as a namespace for every tenant command; bare `tenants` lists.
  if (name === 'tenants') [name, ...rest] = rest.length ? rest : ['list'];
  if (GROUPS.includes(name)) [name, ...rest] = [`${name} ${rest[0] ?? 'list'}`, ...rest.slice(1)];
  if (name === 'ls') name = 'list';
  if (name === 'rm') name = 'delete';
  return { command: COMMANDS.find((c) => c.name === name), rest, name };
}

export async function runCli(io: CliIo): Promise<number> {
  const wantsJson = io.argv.includes('--json');
  const out = createOutput(io.stdout, io.stderr, { json: wantsJson, env: io.env });
  const { command, rest, name } = findCommand(io.argv);
  try {
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      io.stdout.write(formatUsage() + '\n');
      return name ? EXIT_OK : EXIT_USAGE;
    }
    if (name === '--version' || name === 'version') {
      io.stdout.write('tenantplane 0.1.0\n');
      return EXIT_OK;
    }
    if (!command) throw new UsageError(`Unknown command "${name}".`);
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...command.options, ...COMMON_OPTIONS }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '.'), command.name);
    }
    if (parsed.values.help) {
      io.stdout.write(formatCommandHelp(command) + '\n');
      return EXIT_OK;
    }
    const [min, max] = command.args;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw new UsageError(
        parsed.positionals.length < min ? 'Missing argument.' : `Unexpected argument "${parsed.positionals[max]}".`,
        command.name,
      );
    }
    let client: ApiClient | undefined;
    const ctx: CommandContext = {
      out,
      env: io.env,
      stdin: io.stdin,
      stderr: io.stderr,
      fetch: io.fetch ?? fetch,
      args: parsed.positionals,
      values: parsed.values as CommandContext['values'],
      client: () => (client ??= createClient(openSession(io.env, io.fetch ?? fetch), io.fetch ?? fetch)),
    };
    return (await command.run(ctx)) ?? EXIT_OK;
  } catch (err) {
    if (err instanceof UsageError) {
      const cmd = COMMANDS.find((c) => c.name === err.command);
      io.stderr.write(
        `tenantplane: ${err.message}\n\n${cmd ? `Usage: tenantplane ${cmd.usage}\nRun \`tenantplane ${displayName(cmd)} --help\` for its options.` : formatUsage()}\n`,
      );
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      if (wantsJson)
        io.stdout.write(
          JSON.stringify({ error: { code: err.code ?? 'failed', message: err.message, status: err.status } }, null, 2) + '\n',
        );
      io.stderr.write(`${out.color('red', 'Error:')} ${err.message}${err.code ? ` [${err.code}]` : ''}\n`);
      return EXIT_FAILURE;
    }
    io.stderr.write(`tenantplane: unexpected failure: ${(err as Error).stack ?? err}\n`);
    return EXIT_FAILURE;
  }
}

/** The process entry: real streams, real environment, exit with the code. */
export async function main(): Promise<void> {
  const code = await runCli({
    argv: process.argv.slice(2),
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  // Let stdout drain before exiting, so piped output is never cut short.
  process.stdout.write('', () => process.exit(code));
}
