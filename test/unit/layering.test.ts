/**
 * Imports in src/ point downward. A file may import from its own layer or a lower one; a folder
 * missing from the table fails the test (so that a new folder gets a place); src/domain, the
 * pure core, imports only itself and the configuration types, never a package or a Node.js
 * module. Every import is read by TypeScript's own scanner (static, dynamic, require, type-only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

/**
 * The layers, lowest first, from src/layers.json (the one table; docs/architecture.md draws it):
 * the folders of src/ in one entry are one layer.
 */
const TABLE = JSON.parse(readFileSync(path.join(SRC, 'layers.json'), 'utf8')) as {
  layers: string[][];
  domainMayImport: string[];
};
const LAYERS: readonly (readonly string[])[] = TABLE.layers;

/** What src/domain may import besides itself, relative to src/. */
const DOMAIN_MAY_IMPORT = TABLE.domainMayImport
  .filter((p) => p !== 'src/domain')
  .map((p) => p.replace(/^src\//, ''));

/**
 * Known upward imports, each to be removed by moving the code it needs downward. Entries are
 * "importing file -> imported file", relative to src/. An entry that no longer matches an
 * import fails the test too, so that this list only ever shrinks. Empty: keep it so.
 */
const KNOWN_VIOLATIONS: readonly string[] = [];

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The file a relative specifier names ('../config' -> .../config/index.ts). */
function resolveRelative(fromFile: string, spec: string): string {
  const abs = path.resolve(path.dirname(fromFile), spec);
  const candidates = [abs.replace(/\.js$/, '.ts'), `${abs}.ts`, path.join(abs, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? abs;
}

/** Every rule broken by the files under root, as "from -> to: why". */
function layeringViolations(root: string): { edge: string; why: string }[] {
  const out: { edge: string; why: string }[] = [];
  for (const file of sourceFiles(root)) {
    const from = path.relative(root, file);
    const fromFolder = from.split(path.sep)[0];
    const fromLayer = layerOf(fromFolder);
    if (fromLayer < 0) {
      out.push({ edge: from, why: `src/${fromFolder} has no place in the layer table` });
      continue;
    }
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of importedFiles) {
      if (!spec.startsWith('.')) {
        if (fromFolder === 'domain')
          out.push({ edge: `${from} -> ${spec}`, why: 'the domain imports no package or Node.js module' });
        continue;
      }
      const to = path.relative(root, resolveRelative(file, spec));
      const edge = `${from} -> ${to}`;
      const toFolder = to.split(path.sep)[0];
      if (to.startsWith('..')) {
        out.push({ edge, why: 'imports from outside src/' });
      } else if (fromFolder === 'domain') {
        if (toFolder !== 'domain' && !DOMAIN_MAY_IMPORT.includes(to)) {
          out.push({ edge, why: `the domain imports only itself and ${DOMAIN_MAY_IMPORT.join(', ')}` });
        }
      } else if (layerOf(toFolder) < 0) {
        out.push({ edge, why: `src/${toFolder} has no place in the layer table` });
      } else if (layerOf(toFolder) > fromLayer) {
        out.push({
          edge,
          why: `${fromFolder} (layer ${fromLayer}) imports ${toFolder} (layer ${layerOf(toFolder)}), a higher layer`,
        });
      }
    }
  }
  return out;
}

test('src/: no import points to a higher layer; the domain imports only itself and configuration types', () => {
  const found = layeringViolations(SRC);
  const unexpected = found
    .filter((v) => !KNOWN_VIOLATIONS.includes(v.edge))
    .map((v) => `${v.edge}: ${v.why}`);
  assert.deepEqual(unexpected, [], 'imports that break the layering');
  const stale = KNOWN_VIOLATIONS.filter((k) => !found.some((v) => v.edge === k));
  assert.deepEqual(stale, [], 'known violations that are gone: remove them from KNOWN_VIOLATIONS');
});

test('the layer table names every folder of src/ once', () => {
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const f of folders) assert.ok(layerOf(f) >= 0, `src/${f} is in LAYERS`);
  const all = LAYERS.flat();
  assert.equal(new Set(all).size, all.length, 'no folder in two layers');
});
