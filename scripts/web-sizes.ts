/**
 * `npx tsx scripts/web-sizes.ts`: what each page downloads, from the built
 * pages (`npm run build:web` first): the page's script and every chunk it
 * imports statically, raw and gzipped; and, for the portal, what its Fleet tab
 * adds when it loads the charts (recharts) on demand. The README's figures
 * for the chart library come from here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const jsDir = resolve(import.meta.dirname, '../web/public/js');

/** The file and every module it imports statically (`import … from "./x.js"`, not `import("./x.js")`). */
function staticGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|from)\s*"(\.[^"]+\.js)"/g))
    staticGraph(resolve(dirname(file), m[1]), seen);
  return seen;
}

function weigh(files: Iterable<string>): { kB: number; gzipKB: number } {
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  return { kB: Math.round(raw / 1024), gzipKB: Math.round(gz / 1024) };
}

if (!existsSync(jsDir)) {
  console.error('No built pages: run `npm run build:web` first.');
  process.exit(1);
}
for (const page of readdirSync(jsDir).filter((f) => f.endsWith('.js'))) {
  const { kB, gzipKB } = weigh(staticGraph(join(jsDir, page)));
  console.log(`${page.padEnd(14)} ${String(kB).padStart(5)} kB  ${String(gzipKB).padStart(4)} kB gzipped`);
}
const portal = staticGraph(join(jsDir, 'portal.js'));
const fleet = readdirSync(join(jsDir, 'chunks')).find((f) => /^fleet-overview-.*\.js$/.test(f));
if (fleet) {
  const extra = [...staticGraph(join(jsDir, 'chunks', fleet))].filter((f) => !portal.has(f));
  const { kB, gzipKB } = weigh(extra);
  console.log(`portal Fleet tab (charts, recharts) adds ${kB} kB, ${gzipKB} kB gzipped, loaded only when the tab opens`);
}
