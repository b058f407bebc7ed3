/**
 * Runs the operator scripts with the real gcloud against the recorder: a
 * private CLOUDSDK_CONFIG, `CLOUDSDK_AUTH_ACCESS_TOKEN=any`, no prompts, every
 * API overridden to `http://<api>.tp.test/` and the recorder as gcloud's HTTP
 * proxy. The proxy is what reaches regional hosts: `gcloud run --region=R`
 * turns the override's host into `R-run.tp.test`, which no resolver knows,
 * but a proxied request carries the full URL and the recorder answers it
 * without any /etc/hosts entry.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRecorder, type Recorder } from './recorder.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SCRIPTS = join(HERE, '..');

/** APIs the scripts reach, by the name gcloud's override variable uses. */
const APIS = [
  'cloudfunctions',
  'run',
  'cloudtasks',
  'cloudscheduler',
  'iam',
  'secretmanager',
  'artifactregistry',
  'firestore',
  'serviceusage',
  'cloudresourcemanager',
  'logging',
  'cloudbuild',
  'storage',
  'iamcredentials',
  'sql',
];

/** The SDK root of the installed gcloud, or why there is none. */
export function findSdk(): { root: string; python: string } | { missing: string } {
  const root = process.env.GCLOUD_SDK_ROOT ?? '/usr/lib/google-cloud-sdk';
  if (!existsSync(join(root, 'lib/googlecloudsdk/gcloud_main.py')))
    return { missing: `no gcloud SDK at ${root} (install google-cloud-cli, or set GCLOUD_SDK_ROOT)` };
  const bundled = join(root, 'platform/bundledpythonunix/bin/python3');
  return { root, python: existsSync(bundled) ? bundled : 'python3' };
}

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RealCloud {
  recorder: Recorder;
  projectId: string;
  region: string;
  root: string;
  /** Runs an operator script; `extraEnv` adds variables (as an operator's .env would). */
  run(script: string, args?: string[], input?: string, extraEnv?: Record<string, string>): Promise<ScriptResult>;
  /** One gcloud call with the suite's environment. */
  gcloud(args: string[]): Promise<ScriptResult>;
  close(): Promise<void>;
}

/**
 * The warm gcloud: gcloud-forkserver.py listening on `socketPath`. The `gcloud`
 * in `bin`, first on a PATH with `TP_GCLOUD_FORKSERVER=<socketPath>`, hands each
 * call to it, so a program that runs gcloud (the operator scripts, bq) gets the
 * installed gcloud's own main() without its seconds of imports per call.
 */
export async function startGcloudForkserver(
  sdk: { root: string; python: string },
  socketPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ bin: string; close(): void }> {
  const server = spawn(sdk.python, [join(HERE, 'gcloud-forkserver.py'), sdk.root, socketPath], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let serverErr = '';
  server.stderr!.on('data', (d) => (serverErr += d));
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`gcloud-forkserver exited (${code}): ${serverErr}`)));
  });
  return { bin: join(HERE, 'bin'), close: () => server.kill() };
}

/**
 * Starts the recorder and the warm gcloud; `run` then executes scripts/<script>
 * against them. `direct` (or TP_REAL_GCLOUD_DIRECT=1) runs the SDK's own
 * bin/gcloud for every call instead: the same requests, three to five times slower.
 */
export async function startRealCloud(
  sdk: { root: string; python: string },
  direct = process.env.TP_REAL_GCLOUD_DIRECT === '1',
): Promise<RealCloud> {
  const projectId = 'tp-real';
  const region = 'europe-west1';
  const recorder = await startRecorder({ projectId });
  const dir = mkdtempSync(join(tmpdir(), 'tp-real-gcloud-'));
  const root = join(dir, 'root');
  const socketPath = join(dir, 'gcloud.sock');
  mkdirSync(join(dir, 'config'), { recursive: true });
  // A tiny prebuilt dist: deploy --skip-build uploads what is here.
  for (const fn of ['signup', 'activate', 'api', 'provision', 'mail', 'billing-aggregate', 'chat']) {
    mkdirSync(join(root, 'dist/functions', fn), { recursive: true });
    writeFileSync(join(root, 'dist/functions', fn, 'index.js'), `exports.${fn.replace('-', '_')} = (req, res) => res.send('ok');\n`);
    writeFileSync(join(root, 'dist/functions', fn, 'package.json'), JSON.stringify({ name: fn, main: 'index.js' }));
  }
  writeFileSync(
    join(root, '.env'),
    `GCP_PROJECT_ID=${projectId}\nGCP_REGION=${region}\nPUBLIC_URL=http://hosting.tp.test\nSUPPORT_EMAIL=ops@example.com\n`,
  );

  const env: NodeJS.ProcessEnv = {
    PATH: `${direct ? join(sdk.root, 'bin') : join(HERE, 'bin')}:${process.env.PATH}`,
    HOME: dir,
    TMPDIR: dir,
    LANG: 'C.UTF-8',
    PYTHONIOENCODING: 'UTF-8',
    TP_ROOT: root,
    TP_GCLOUD_FORKSERVER: socketPath,
    TP_RETRY_DELAY: '0',
    TP_HEALTH_DELAY: '0',
    TP_HEALTH_ATTEMPTS: '1',
    NO_COLOR: '1',
    CLOUDSDK_CONFIG: join(dir, 'config'),
    CLOUDSDK_AUTH_ACCESS_TOKEN: 'any',
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
    CLOUDSDK_SURVEY_DISABLE_PROMPTS: '1',
    CLOUDSDK_PROXY_TYPE: 'http',
    CLOUDSDK_PROXY_ADDRESS: '127.0.0.1',
    CLOUDSDK_PROXY_PORT: String(recorder.port),
    // curl (the health check) goes through the recorder too.
    http_proxy: recorder.url,
    ...Object.fromEntries(APIS.map((api) => [`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api.toUpperCase()}`, `http://${api}.tp.test/`])),
  };

  const server = direct ? undefined : await startGcloudForkserver(sdk, socketPath, env);

  return {
    recorder,
    projectId,
    region,
    root,
    run: (script, args = [], input = '', extraEnv = {}) => exec(join(SCRIPTS, script), args, input, extraEnv),
    gcloud: (args) => exec('gcloud', args, ''),
    async close() {
      server?.close();
      await recorder.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  function exec(command: string, args: string[], input: string, extraEnv: Record<string, string> = {}): Promise<ScriptResult> {
    return new Promise((resolve) => {
      const child = spawn(command, args, { env: { ...env, ...extraEnv }, cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '',
        stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(input);
    });
  }
}
