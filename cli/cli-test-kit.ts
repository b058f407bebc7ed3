/**
 * Running the CLI in tests the way a user does: `node cli/bin.js …` as a
 * child process with its own HOME (so credentials land in a temp folder),
 * stdin fed from a string, and stdout/stderr/exit code collected.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, 'bin.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliHome {
  home: string;
  /** `interruptAfterMs` sends Ctrl-C's SIGINT then, for commands that run until stopped. */
  run(
    args: string[],
    options?: {
      input?: string;
      env?: Record<string, string | undefined>;
      timeoutMs?: number;
      interruptAfterMs?: number;
      /** Called as output arrives, with what came so far; `interrupt` sends SIGINT (Ctrl-C). */
      onOutput?: (so_far: CliRun, interrupt: () => void) => void;
    },
  ): Promise<CliRun>;
  remove(): void;
}

/** A throwaway HOME for CLI runs; `run` inherits nothing of the user's own sign-in. */
export function createCliHome(baseEnv: Record<string, string | undefined> = {}): CliHome {
  const home = mkdtempSync(join(tmpdir(), 'tp-cli-'));
  return {
    home,
    run(args, options = {}) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries({
        ...process.env,
        XDG_CONFIG_HOME: undefined,
        TENANTPLANE_TOKEN: undefined,
        TENANTPLANE_URL: undefined,
        NO_COLOR: '1',
        HOME: home,
        ...baseEnv,
        ...options.env,
      })) {
        if (v !== undefined) env[k] = v;
      }
      return new Promise((resolvePromise, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const interruptNow = () => void child.kill('SIGINT');
        const seen = () => options.onOutput?.({ code: null, stdout, stderr }, interruptNow);
        child.stdout.on('data', (d) => {
          stdout += d;
          seen();
        });
        child.stderr.on('data', (d) => {
          stderr += d;
          seen();
        });
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `tenantplane ${args.join(' ')} did not finish within ${options.timeoutMs ?? 90_000} ms; stdout: ${stdout}; stderr: ${stderr}`,
            ),
          );
        }, options.timeoutMs ?? 90_000);
        const interrupt =
          options.interruptAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGINT'), options.interruptAfterMs);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          clearTimeout(interrupt);
          resolvePromise({ code, stdout, stderr });
        });
        child.stdin.end(options.input ?? '');
      });
    },
    remove() {
      rmSync(home, { recursive: true, force: true });
    },
  };
}
