/**
 * `npm test`: typecheck, then every test against real emulators started here
 * on free loopback ports and stopped afterwards. Arguments are passed to ava
 * (e.g. `npm test -- shared/http/wrap.test.ts`); `--no-bats` skips the shell tests.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkPrerequisites, startAuthEmulator, startFirestoreEmulator } from './dev/emulators.ts';
import { stopAll } from './dev/processes.ts';
import { scratchDataDir, startPostgres } from './dev/postgres.ts';
import { buildWeb } from './build-web.ts';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const runBats = !args.includes('--no-bats') && args.length === 0;
const avaArgs = args.filter((a) => a !== '--no-bats');

function run(title: string, command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): number {
  console.log(`\n▶ ${title}`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', env });
  return result.status ?? 1;
}

/**
 * Starts a step beside the others, its output (stdout and stderr together) kept
 * until `report()`, which prints it under its title and resolves to its exit code.
 */
function runBeside(title: string, command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env) {
  const chunks: Buffer[] = [];
  const child = spawn(command, commandArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => chunks.push(d));
  const exited = new Promise<number>((done) => {
    child.once('error', (error) => (chunks.push(Buffer.from(`${error.message}\n`)), done(1)));
    child.once('close', (code) => done(code ?? 1));
  });
  return {
    async report(): Promise<number> {
      const code = await exited;
      console.log(`\n▶ ${title}`);
      process.stdout.write(Buffer.concat(chunks));
      return code;
    },
  };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll().then(() => process.exit(130)));

if (existsSync(join(root, 'scripts/ensure-tools.sh')) && run('Checking test tools', 'bash', ['scripts/ensure-tools.sh']) !== 0)
  process.exit(1);
// The typecheck and the shell tests need no emulator: they run beside the build and the emulators' start.
// A type error fails the run, but the tests still run so one broken file does not hide the rest.
const typecheck = runBeside('Typecheck (tsc --noEmit)', 'npx', ['tsc', '--noEmit']);
// bats declares its binary through directories.bin, which npm ci does not link from the lock file.
const bats = join(root, 'node_modules/bats/bin/bats');
const shellTests =
  runBats && existsSync(join(root, 'scripts/test')) ? runBeside('Operator scripts (bats)', bats, ['scripts/test']) : undefined;
// Biome formats and lints in one pass (biome.json); `npm run fix` formats and applies the safe fixes.
const lintFailed = run('Format and lint (biome check)', 'npx', ['biome', 'check', '--max-diagnostics=50', '.']) !== 0;

console.log('\n▶ Building the web pages');
await buildWeb({ ifStale: true });
checkPrerequisites();
const logDir = mkdtempSync(join(tmpdir(), 'tenantplane-test-'));
const postgresDir = scratchDataDir('tenantplane-test-postgres-');
// Removed on every exit, Ctrl-C included: left in /dev/shm it would hold memory until the machine restarts.
process.on('exit', () => rmSync(postgresDir, { recursive: true, force: true }));
console.log('\n▶ Starting the Firestore and Auth emulators and PostgreSQL');
const [firestore, auth, postgres] = await Promise.all([
  startFirestoreEmulator({ logDir }),
  startAuthEmulator({ projectId: 'demo-tenantplane', logDir }),
  // One server for every test file (tenant databases have unique names); test stacks start their own without it.
  startPostgres({ dataDir: join(postgresDir, 'data'), logDir, fast: true }),
]);
console.log(`  Firestore ${firestore.host} · Auth ${auth.host} · PostgreSQL 127.0.0.1:${postgres.port} · logs ${logDir}`);
const env = {
  ...process.env,
  TP_ENV: 'test',
  FIRESTORE_EMULATOR_HOST: firestore.host,
  FIREBASE_AUTH_EMULATOR_HOST: auth.host,
  METADATA_SERVER_DETECTION: 'none',
  GOOGLE_CLOUD_PROJECT: 'demo-tenantplane',
  TP_TEST_POSTGRES_URL: postgres.adminUrl,
};

const typecheckFailed = (await typecheck.report()) !== 0;
let code = typecheckFailed || lintFailed ? 1 : 0;
if (shellTests) code ||= await shellTests.report();
code = run('Tests (ava)', 'npx', ['ava', ...avaArgs], env) || code;
await postgres.stop();
await stopAll();
// The emulators' logs are kept for a failed run only, where they may tell why.
if (code === 0) rmSync(logDir, { recursive: true, force: true });
else console.error(`\nThe emulators' and PostgreSQL's logs are kept in ${logDir}.`);
if (typecheckFailed) console.error('\n✖ The typecheck failed (see above), so the run fails even where the tests passed.');
if (lintFailed)
  console.error(
    '\n✖ Formatting or lint failed (see "biome check" above; `npm run fix` formats), so the run fails even where the tests passed.',
  );
process.exit(code);
