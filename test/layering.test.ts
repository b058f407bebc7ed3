/**
 * `shared/` is the library every function is bundled with, so it must not
 * reach up into the things built on top of it: a function bundle would pull in
 * the dev stack, an emulator or the test kit.
 *
 * The rule: no file under shared/ imports from functions/, scripts/,
 * emulators/, testing/, cli/ or web/. One exception: a test file
 * (`*.test.ts`) under shared/ may import testing/, because the driver tests sit
 * beside their driver and need its conformance suite and cloud fakes; test
 * files are never bundled. Every other folder stays forbidden to them too.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const FORBIDDEN = ['functions', 'scripts', 'emulators', 'testing', 'cli', 'web'];
const ALLOWED_IN_TESTS = new Set(['testing']);

function listTsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Top-level folder each relative import of `file` lands in (static, dynamic and `export … from`). */
function importedFolders(file: string, source = readFileSync(file, 'utf8')): { specifier: string; folder: string }[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles
    .filter(({ fileName }) => fileName.startsWith('.'))
    .map(({ fileName }) => ({
      specifier: fileName,
      folder: relative(ROOT, resolve(dirname(file), fileName)).split(/[\\/]/)[0],
    }));
}

test('no file under shared/ imports from the layers built on it', (t) => {
  const files = listTsFiles(join(ROOT, 'shared'));
  t.true(files.length > 50, `expected the shared/ library, found ${files.length} files`);
  const offences: string[] = [];
  for (const file of files) {
    const isTest = file.endsWith('.test.ts');
    for (const { specifier, folder } of importedFolders(file)) {
      if (!FORBIDDEN.includes(folder)) continue;
      if (isTest && ALLOWED_IN_TESTS.has(folder)) continue;
      offences.push(`${relative(ROOT, file)} imports '${specifier}' (${folder}/)`);
    }
  }
  t.deepEqual(offences, [], offences.join('\n'));
});

test('the check sees static, dynamic and re-exporting imports', (t) => {
  const source = [
    "import { startGateway } from '../../scripts/dev/gateway.ts';",
    "const { allocatePort } = await import('../../testing/ports.ts');",
    "export { x } from '../../emulators/cloud-tasks/server.ts';",
    "import { AppError } from '../errors.ts';",
    "import test from 'ava';",
  ].join('\n');
  const folders = importedFolders(join(ROOT, 'shared/runtime/example.ts'), source).map((i) => i.folder);
  t.deepEqual(folders, ['scripts', 'testing', 'emulators', 'shared']);
});
