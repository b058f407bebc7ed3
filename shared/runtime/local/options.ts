/**
 * Options of the local runtime driver and their defaults, kept apart from the
 * driver so `index.ts` and config code can name the type without loading it.
 */
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DriverError, type EnvironmentRef } from '../types.ts';

/** uids handed to workloads when none are configured: far above ordinary accounts and system users. */
export const DEFAULT_UID_RANGE = { from: 200000, to: 299999 };

/** Where the repo's sample tenant lives; the default workload. */
export const SAMPLE_TENANT_SERVER = fileURLToPath(new URL('../../../apps/sample-tenant/server.js', import.meta.url));

export interface LocalDriverOptions {
  /**
   * Root folder of the local runtime. Holds `runtime-state.json` (ports, pids,
   * desired states, specs without secret values) and one folder per environment,
   * `envs/<tenantId>-<env>/` with `data/` (the workload's `DATA_DIR`) and `logs/`.
   */
  dataDir: string;
  /** Ports handed to environments, inclusive. Default 20000–20999. A port stays with its environment until destroy. */
  portRange?: { from: number; to: number };
  /** argv of the workload. Default: this Node binary running `apps/sample-tenant/server.js`. */
  command?: string[];
  /** Interface the workload binds (`HOST`). Default 127.0.0.1. */
  host?: string;
  /** Host name put in environment URLs (`http://<publicHost>:<port>`). Default 127.0.0.1. */
  publicHost?: string;
  /** Path answered with 200 once the workload is ready. Default `/health`. */
  healthPath?: string;
  /** Default timeout of `waitReady`. Default 15000 ms. */
  startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL when stopping. Default 5000 ms. */
  stopTimeoutMs?: number;
  /**
   * Secret values are never written to disk by this driver: they live in this
   * driver object's memory and in the child's environment. When a process must
   * be started again without a fresh `deploy` (re-adoption after a control-plane
   * restart found it dead, or `resume`/`restart` from another process), the
   * driver asks this provider for the environment's secrets. Without it, such a
   * start fails with a message naming the missing keys (a `deploy` fixes it).
   */
  secretsProvider?: (ref: EnvironmentRef) => Promise<Record<string, string>>;
  /**
   * Run each environment's workload as its own OS user (uid and gid taken from
   * `uidRange`), so one tenant's process cannot read another's `/proc/<pid>/environ`
   * or data folder. Needs root; default: true when the control plane runs as root.
   * Without it every workload runs as the control plane's user.
   */
  isolateUsers?: boolean;
  /**
   * uids (and gids, the same number) handed to environments, inclusive; default
   * 200000–299999. An environment keeps its uid until destroy. Two control
   * planes on one machine should use disjoint ranges.
   */
  uidRange?: { from: number; to: number };
  /**
   * Refuse the workloads' new TCP and UDP connections to this machine's own
   * addresses (other tenants, the platform's emulators and gateway) with a
   * firewall chain matching `uidRange` (see network.ts). Needs isolated
   * users, root and iptables. Default: whenever users are isolated and the
   * firewall can be used; otherwise the driver says why once and
   * `flags.isolatedNetwork` is false. `true` makes an unusable firewall an error.
   */
  isolateNetwork?: boolean;
  /**
   * How long an environment may go without a connection before its process is
   * stopped (it sleeps; its next request starts it again; see sleep.ts), in ms;
   * 0 keeps it running. A function decides per environment, e.g. never for
   * `live` on a paid plan (`vars` are the deployed spec's). Default 0. An
   * environment that may sleep runs behind a front the driver holds on its port.
   */
  idleSleepMs?: number | ((ref: EnvironmentRef, vars: Record<string, string>) => number);
  /**
   * Run every environment behind a front (sleep.ts), so a deploy or restart
   * starts the new process beside the old on another inner port, waits for its
   * health, switches the front to it, drains the old one's requests and only
   * then stops it: no request fails during an update. Default true. `false`:
   * only environments that may sleep get a front; the others bind their public
   * port themselves and are down for the length of a restart.
   */
  alwaysFront?: boolean;
  /** How long an update waits for the requests in progress on the old process before stopping it anyway. Default 30000 ms. */
  drainTimeoutMs?: number;
  /**
   * The local image store (shared/images/store.ts). An environment whose image
   * is `local/<name>@sha256:<hex>` runs that archive's app, unpacked into
   * `envs/<key>/app/` and started with its `start` script; any other image runs
   * `command`. Without it, such an image fails to deploy, naming this option.
   */
  imagesDir?: string;
  /**
   * Loopback TCP ports workloads may still connect to when the network is
   * isolated: the tenant data servers (PostgreSQL, the storage emulator), where
   * each environment logs in with credentials of its own. Default none.
   */
  allowPorts?: number[];
}

export interface ResolvedLocalOptions
  extends Required<Omit<LocalDriverOptions, 'secretsProvider' | 'isolateNetwork' | 'idleSleepMs' | 'imagesDir'>> {
  secretsProvider?: LocalDriverOptions['secretsProvider'];
  imagesDir?: string;
  /** The idle time after which the environment sleeps, in ms; 0: never. */
  idleSleepMs: (ref: EnvironmentRef, vars: Record<string, string>) => number;
  /** `required`: fail without it; `when-possible`: the default; `off`. */
  isolateNetwork: 'required' | 'when-possible' | 'off';
}

/** Applies defaults and rejects unusable values with the option's name and an example. */
export function resolveLocalOptions(options: LocalDriverOptions): ResolvedLocalOptions {
  if (!options || typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new DriverError('local', 'not_configured', 'local driver needs options.dataDir, e.g. { dataDir: ".data/runtime" }');
  }
  const portRange = options.portRange ?? { from: 20000, to: 20999 };
  const valid = (p: number) => Number.isInteger(p) && p > 0 && p < 65536;
  if (!valid(portRange.from) || !valid(portRange.to) || portRange.from > portRange.to) {
    throw new DriverError(
      'local',
      'not_configured',
      `local driver portRange ${JSON.stringify(portRange)} is not a valid range; use e.g. { from: 20000, to: 20999 }`,
    );
  }
  const command = options.command ?? [process.execPath, SAMPLE_TENANT_SERVER];
  if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string' || a === '')) {
    throw new DriverError('local', 'not_configured', `local driver command must be a non-empty argv array, e.g. ["node", "server.js"]`);
  }
  const isRoot = process.getuid?.() === 0;
  const isolateUsers = options.isolateUsers ?? isRoot;
  if (isolateUsers && !isRoot) {
    throw new DriverError(
      'local',
      'not_configured',
      'local driver isolateUsers needs the control plane to run as root; run it as root or set isolateUsers: false',
    );
  }
  const uidRange = options.uidRange ?? DEFAULT_UID_RANGE;
  const validUid = (u: number) => Number.isInteger(u) && u >= 1000 && u < 2 ** 31;
  if (!validUid(uidRange.from) || !validUid(uidRange.to) || uidRange.from > uidRange.to) {
    throw new DriverError(
      'local',
      'not_configured',
      `local driver uidRange ${JSON.stringify(uidRange)} is not a valid range of unprivileged uids; use e.g. { from: 200000, to: 299999 }`,
    );
  }
  if (options.isolateNetwork && !isolateUsers) {
    throw new DriverError(
      'local',
      'not_configured',
      'local driver isolateNetwork needs isolated users (root); run as root or set isolateNetwork: false',
    );
  }
  const idle = options.idleSleepMs ?? 0;
  if (typeof idle === 'number' && !(Number.isFinite(idle) && idle >= 0)) {
    throw new DriverError(
      'local',
      'not_configured',
      `local driver idleSleepMs must be 0 (never) or more milliseconds, e.g. 900000; got ${idle}`,
    );
  }
  const isolateNetwork = !isolateUsers || options.isolateNetwork === false ? 'off' : options.isolateNetwork ? 'required' : 'when-possible';
  return {
    dataDir: resolve(options.dataDir),
    portRange,
    command,
    host: options.host ?? '127.0.0.1',
    publicHost: options.publicHost ?? '127.0.0.1',
    healthPath: options.healthPath ?? '/health',
    startTimeoutMs: options.startTimeoutMs ?? 15_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
    secretsProvider: options.secretsProvider,
    imagesDir: options.imagesDir ? resolve(options.imagesDir) : undefined,
    isolateUsers,
    uidRange,
    isolateNetwork,
    idleSleepMs: typeof idle === 'number' ? () => idle : idle,
    alwaysFront: options.alwaysFront ?? true,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    allowPorts: (options.allowPorts ?? []).filter((p) => Number.isInteger(p) && p > 0 && p < 65536),
  };
}

/** True when the workload's executable is Node, so a heap limit can be passed as a flag. */
export function isNodeCommand(command: string[]): boolean {
  return command[0] === process.execPath || /^node(\d+)?(\.exe)?$/.test(basename(command[0]));
}
