/**
 * `npm run build`: bundles each function with esbuild into
 * dist/functions/<name>/ — index.js (our code in one ESM file) and a minimal
 * package.json listing only the npm packages that function imports, ready for
 * `gcloud functions deploy <name> --gen2 --source dist/functions/<name>`.
 * Packages stay external so their data files (protos) load as published.
 * A full build (no names given) also builds the web pages for hosting.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildWeb } from './build-web.ts';

const root = resolve(import.meta.dirname, '..');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const only = process.argv.slice(2);

function packageName(path: string): string {
  const parts = path.split('/');
  return path.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function installedVersion(name: string): string {
  return (
    rootPackage.dependencies?.[name] ?? `^${JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version}`
  );
}

const names = readdirSync(join(root, 'functions')).filter(
  (name) =>
    statSync(join(root, 'functions', name)).isDirectory() &&
    existsSync(join(root, 'functions', name, 'index.ts')) &&
    (only.length === 0 || only.includes(name)),
);
if (only.length && names.length !== only.length) {
  console.error(
    `Unknown function(s): ${only.filter((n) => !names.includes(n)).join(', ')}. Known: ${readdirSync(join(root, 'functions')).join(', ')}`,
  );
  process.exit(2);
}

for (const name of names) {
  const out = join(root, 'dist/functions', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  const result = await build({
    entryPoints: [join(root, 'functions', name, 'index.ts')],
    outfile: join(out, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'linked',
    // Less to parse on a cold start; names stay, so stack traces in the logs still read.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'warning',
  });
  const imported = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external && !imp.path.startsWith('node:')) imported.add(packageName(imp.path));
  }
  // Packages loaded on first use (shared/lazy-require.ts) are no import esbuild records: read their names from the bundle.
  for (const m of readFileSync(join(out, 'index.js'), 'utf8').matchAll(/lazyRequire\("([^"]+)"\)/g)) imported.add(packageName(m[1]));
  const dependencies = Object.fromEntries([...imported].sort().map((dep) => [dep, installedVersion(dep)]));
  writeFileSync(
    join(out, 'package.json'),
    JSON.stringify(
      { name: `tenantplane-${name}`, private: true, type: 'module', main: 'index.js', engines: { node: '>=20' }, dependencies },
      null,
      2,
    ) + '\n',
  );
  const size = statSync(join(out, 'index.js')).size;
  console.log(
    `  ${name.padEnd(18)} ${(size / 1024).toFixed(0).padStart(5)} KiB  ${Object.keys(dependencies).length} packages  ${Math.round(performance.now() - started)} ms`,
  );
}
if (only.length === 0) {
  // Hosting serves web/public: the pages are part of a full build.
  const { ms } = await buildWeb();
  console.log(`  web pages          → web/public  ${Math.round(ms)} ms`);
}
console.log(`Built ${names.length} function(s) into dist/functions/. Deploy with scripts/deploy.sh.`);
