import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { allocatePort, allocatePorts, type PortRange } from './ports.ts';

const overlaps = (a: PortRange, b: PortRange) => a.from <= b.to && b.from <= a.to;
const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('ranges handed out in one process never overlap and stay below the ports the kernel hands out', async (t) => {
  const ranges = [await allocatePorts(100), await allocatePorts(50), { from: await allocatePort(), to: 0 }, await allocatePorts(100)];
  ranges[2].to = ranges[2].from;
  for (const [i, a] of ranges.entries()) {
    t.true(a.from >= 21_000 && a.to < ephemeralStart, JSON.stringify(a));
    for (const b of ranges.slice(i + 1)) t.false(overlaps(a, b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`);
  }
});

test('another test process is given ports this one does not hold', async (t) => {
  const mine = [await allocatePorts(150), await allocatePorts(150)];
  const ports = fileURLToPath(new URL('./ports.ts', import.meta.url));
  const script = `const { allocatePorts } = await import(${JSON.stringify(ports)}); console.log(JSON.stringify([await allocatePorts(150), await allocatePorts(150)]));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import=tsx/esm', '--input-type=module', '-e', script]);
  const theirs = JSON.parse(stdout) as PortRange[];
  for (const a of mine) for (const b of theirs) t.false(overlaps(a, b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`);
});
