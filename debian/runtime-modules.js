#!/usr/bin/env node
// debian/runtime-modules.js ROOT — prints the npm packages pbx-ha loads at run time, one
// directory a line relative to ROOT (node_modules/ssh2, node_modules/a/node_modules/b), sorted.
// ROOT is a tree with dist/src and node_modules (the package's /usr/lib/pbx-ha, or a build).
//
// How: every module of dist/src is required (the command line's entry point excepted: it runs
// a command), and better-sqlite3 opens a database, which loads its addon through `bindings`;
// the packages are those of the files then in require.cache. Lazily loaded ones are loaded at
// their first use, which the agent makes within its first reconcile: the database and the
// addons; ssh2 loads its optional cpu-features when it loads.
// Exits non-zero when a module cannot be loaded (a package the program needs is missing).
// debian/prune-node-modules ships only these packages; the package tests compare this list
// with what is installed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(process.argv[2] ?? '');
const walk = (dir) =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : [],
    );
for (const file of walk(path.join(root, 'dist/src'))) {
  if (path.relative(root, file) !== path.join('dist', 'src', 'cli', 'main.js')) require(file);
}
const Database = require(path.join(root, 'node_modules/better-sqlite3'));
new Database(':memory:').close();

const packages = new Set();
for (const file of Object.keys(require.cache)) {
  const rel = path.relative(root, file);
  const m = /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/)+)/.exec(rel);
  if (m) packages.add(m[1].replace(/\/$/, ''));
}
process.stdout.write([...packages].sort().join('\n') + '\n');
