/**
 * Runs the storage emulator alone: `tsx emulators/storage/main.ts --port N
 * [--data FILE] [--token T]`. Prints `listening <url>` once ready and stops on SIGTERM/SIGINT.
 */
import { startStorageEmulator } from './server.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const emulator = await startStorageEmulator({
  port: Number(arg('port') ?? 9199),
  dataFile: arg('data'),
  adminToken: arg('token') ?? process.env.STORAGE_ADMIN_TOKEN,
  projectId: arg('project'),
});
console.log(`listening ${emulator.url}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void emulator.close().then(() => process.exit(0)));
