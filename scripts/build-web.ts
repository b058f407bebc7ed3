/**
 * Builds the web pages' code: esbuild bundles every page entry `web/src/<page>.tsx`
 * into `web/public/js/<page>.js` (shared code, React and the Firebase SDK split
 * into `web/public/js/chunks/`), and Tailwind's CLI compiles `web/src/styles.css`
 * into `web/public/styles.css`. Both outputs are generated, never committed.
 *
 * `npm run build:web` builds once; `-- --watch` rebuilds on change; `--if-stale`
 * skips the build when the outputs are newer than every input. `buildWeb()` is
 * what `npm start`, `npm test` and the deploy call before pages are served.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const srcDir = join(root, 'web/src');
const publicDir = join(root, 'web/public');
const jsDir = join(publicDir, 'js');
const cssOut = join(publicDir, 'styles.css');
/** Written last, so its presence means a whole build finished. */
const stamp = join(jsDir, '.built');
const lockDir = join(publicDir, '.build-lock');

export interface BuildWebOptions {
  /** Minify (default true; `--watch` turns it off for readable output). */
  minify?: boolean;
  /** Skip the build when every output is newer than every input (what test files call). */
  ifStale?: boolean;
  log?: (line: string) => void;
}

/** The page entries: every `web/src/*.tsx` file is a page. */
export function listPageEntries(): string[] {
  return readdirSync(srcDir)
    .filter((f) => f.endsWith('.tsx'))
    .map((f) => join(srcDir, f));
}

function newestInput(dir = srcDir): number {
  let newest = statSync(import.meta.filename).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestInput(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when a finished build is newer than every source file. */
export function isWebBuildFresh(): boolean {
  if (!existsSync(stamp) || !existsSync(cssOut)) return false;
  return statSync(stamp).mtimeMs >= newestInput();
}

async function bundleScripts(minify: boolean): Promise<void> {
  const esbuild = await import('esbuild');
  rmSync(jsDir, { recursive: true, force: true });
  await esbuild.build(scriptOptions(minify));
}

function scriptOptions(minify: boolean) {
  return {
    absWorkingDir: root,
    entryPoints: listPageEntries(),
    outdir: jsDir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic' as const,
    minify,
    sourcemap: 'linked' as const,
    legalComments: 'linked' as const,
    define: { 'process.env.NODE_ENV': minify ? '"production"' : '"development"' },
    logLevel: 'warning' as const,
  };
}

function tailwindCli(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tailwindcss/cli/package.json')), 'dist/index.mjs');
}

/** Runs Tailwind's CLI (it scans web/src for class names, see styles.css). */
function compileStyles(minify: boolean): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const args = [tailwindCli(), '-i', join(srcDir, 'styles.css'), '-o', cssOut, ...(minify ? ['--minify'] : [])];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolvePromise();
      else
        reject(
          new Error(
            `Tailwind could not build web/src/styles.css (exit ${code}):\n${stderr.trim()}\nRun \`npm install\` if @tailwindcss/cli is missing.`,
          ),
        );
    });
  });
}

/** A cross-process lock (mkdir is atomic), so test files starting together build once. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a killed build would block forever: older than two minutes is abandoned.
      if (Date.now() - statSync(lockDir, { throwIfNoEntry: false })!.mtimeMs > 120_000) rmSync(lockDir, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Another web build holds ${lockDir}; remove it if no build is running.`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Builds the pages' scripts and styles; resolves with whether it built and how long it took. */
export async function buildWeb(options: BuildWebOptions = {}): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  const minify = options.minify ?? true;
  if (options.ifStale && isWebBuildFresh()) return { built: false, ms: 0 };
  return withBuildLock(async () => {
    // Someone else may have built while this process waited for the lock.
    if (options.ifStale && isWebBuildFresh()) return { built: false, ms: Math.round(performance.now() - started) };
    await Promise.all([bundleScripts(minify), compileStyles(minify)]);
    writeFileSync(stamp, new Date().toISOString());
    const ms = Math.round(performance.now() - started);
    options.log?.(`Built the web pages into web/public (js/, styles.css) in ${ms} ms.`);
    return { built: true, ms };
  });
}

/** Rebuilds scripts and styles whenever a file under web/src changes (for `npm start` style development). */
export async function watchWeb(log: (line: string) => void = console.log): Promise<{ stop(): Promise<void> }> {
  const esbuild = await import('esbuild');
  await buildWeb({ minify: false, log });
  const ctx = await esbuild.context({
    ...scriptOptions(false),
    plugins: [
      {
        name: 'styles-and-stamp',
        setup(build) {
          build.onEnd(async (result) => {
            if (result.errors.length > 0) return;
            await compileStyles(false).catch((err: Error) => log(err.message));
            writeFileSync(stamp, new Date().toISOString());
            log('Rebuilt the web pages.');
          });
        },
      },
    ],
  });
  await ctx.watch();
  return { stop: () => ctx.dispose() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (args.includes('--watch')) {
    await watchWeb();
  } else {
    const { built, ms } = await buildWeb({ ifStale: args.includes('--if-stale'), minify: !args.includes('--no-minify') });
    console.log(built ? `Built the web pages into web/public in ${ms} ms.` : 'The web pages are up to date.');
  }
}
