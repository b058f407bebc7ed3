/**
 * The floor's process: the sample tenant spawned the way the local runtime
 * spawns a workload, with only the environment a workload gets
 * (`buildWorkloadEnv`), not the bench's own. Variables Node reads at its start
 * would otherwise time work no environment does: `NODE_EXTRA_CA_CERTS`, set on
 * these machines, alone costs each start about 70 ms of CPU (`node -e 0`: 30
 * against 100 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SAMPLE_TENANT_SERVER } from '../../shared/runtime/local/options.ts';
import { buildWorkloadEnv } from '../../shared/runtime/local/sandbox.ts';

export function spawnSampleTenant(port: number, dataDir: string): ChildProcess {
  const env = buildWorkloadEnv({ PORT: String(port), HOST: '127.0.0.1', HOME: dataDir, DATA_DIR: dataDir });
  return spawn(process.execPath, [SAMPLE_TENANT_SERVER], { env, stdio: 'ignore' });
}
