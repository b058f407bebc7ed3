/**
 * A Node workload started ahead of its deploy (issue 19): Node's own start
 * takes most of the time from spawn to a listening server (80–140 ms on the
 * 2-core machine, against about 15 ms for the sample tenant's code), so the
 * local driver starts `node` while the environment's database and bucket are
 * still being made, and hands it its whole environment when the deploy comes.
 *
 * The process runs `node [flags] -e HOLD_BOOT <script> [args]`, the
 * environment's own user from the start. HOLD_BOOT reads one JSON object of
 * variables from descriptor 3 until the control plane closes it, makes them
 * the whole `process.env` (nothing of the start's environment is kept), drops
 * itself from `process.execArgv` (so a worker forked by the app does not run
 * it) and runs `<script>` as `node <script> [args]` would, through Node's
 * `Module.runMain` (CommonJS or ES module alike, `require.main` set).
 * Closing descriptor 3 without writing (the driver discarded it, or the
 * control plane died) makes it exit; so does waiting longer than HOLD_LIMIT_MS.
 * Only names the secret-name rule allows arrive late, so nothing Node reads at
 * its own start (`NODE_OPTIONS`, …) can differ from a plain start.
 * While it waits it also loads `node:http` and Node's ES module loader (by
 * importing a built-in module): a web workload needs both first, and neither
 * reads the environment. The sample tenant then went from release to listening
 * in 33–35 ms instead of 42–49 ms (2-core machine, idle); a workload that uses
 * neither only carries them.
 */
import { isNodeCommand } from './options.ts';
import type { StartedProcess } from './process.ts';

/** How long a held process waits for its environment before it exits by itself. */
export const HOLD_LIMIT_MS = 120_000;

export const HOLD_BOOT = [
  "const m=require('node:module'),p=require('node:path'),s=new(require('node:net').Socket)({fd:3,readable:true,writable:false}),c=[];",
  "require('node:http');import('node:path').catch(()=>{});",
  `const t=setTimeout(()=>process.exit(0),${HOLD_LIMIT_MS});`,
  "s.on('data',d=>c.push(d));s.on('error',()=>process.exit(0));",
  "s.on('end',()=>{clearTimeout(t);s.destroy();const j=Buffer.concat(c).toString();if(!j)process.exit(0);const e=JSON.parse(j);",
  'for(const k of Object.keys(process.env))delete process.env[k];Object.assign(process.env,e);',
  "const x=process.execArgv.indexOf('-e');if(x>=0)process.execArgv.splice(x,2);",
  'process.argv[1]=p.resolve(process.argv[1]);m.runMain()})',
].join('');

/**
 * Whether `command` can start held: `node <script> [args]`. A command with
 * Node options of its own (`-e`, `--import`, …) starts as it is, at the deploy.
 */
export function canHold(command: string[]): boolean {
  return isNodeCommand(command) && command.length >= 2 && !command[1].startsWith('-');
}

/** The argv that starts a Node `command` (`[node, ...flags, script, ...args]`) held: flags first, then the boot, then the script. */
export function heldArgv(command: string[], flags: string[]): string[] {
  return [command[0], ...flags, '-e', HOLD_BOOT, ...command.slice(1)];
}

/** Whether a held process can still be released (it has not exited). */
export function isWaiting(held: StartedProcess): boolean {
  return held.child.exitCode === null && held.child.signalCode === null && !!held.input?.writable;
}

/** Hands the held process its environment; it then runs its script. */
export function release(held: StartedProcess, env: Record<string, string>): void {
  held.input!.end(JSON.stringify(env));
}

/** Lets the held process go without running anything: it exits. */
export function discard(held: StartedProcess): void {
  held.input?.end();
}
