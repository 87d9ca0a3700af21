#!/usr/bin/env node
// Compile Motoko entry files to Wasm with the npm `motoko` compiler (pinned in package.json), loading the
// `core` package it bundles. Usage: node scripts/build.js [--target wasi|ic] [--public-metadata NAME]... OUT_DIR
// FILE.mo... (--public-metadata: emit that metadata section as public, e.g. candid:service for an IC canister).
// Every .mo file under src/ and the given files' directories is put in the compiler's virtual file system, so
// entries can import the library as "../src/Tensor" (relative) or "mo:tensorcbor/Tensor".
'use strict';
const fs = require('fs');
const path = require('path');
const mo = require('motoko');

function addTree(dir, virtualDir) {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) addTree(full, virtualDir + '/' + name);
    else if (name.endsWith('.mo')) mo.write(virtualDir + '/' + name, fs.readFileSync(full, 'utf8'));
  }
}

function main(argv) {
  let target = 'wasi';
  const publicMetadata = [];
  for (;;) {
    if (argv[0] === '--target') { target = argv[1]; argv = argv.slice(2); }
    else if (argv[0] === '--public-metadata') { publicMetadata.push(argv[1]); argv = argv.slice(2); }
    else break;
  }
  const [outDir, ...files] = argv;
  if (!outDir || files.length === 0) {
    process.stderr.write('usage: build.js [--target wasi|ic] [--public-metadata NAME]... OUT_DIR FILE.mo...\n');
    return 2;
  }
  mo.loadPackage(require('motoko/packages/latest/core.json'));
  if (publicMetadata.length) mo.setPublicMetadata(publicMetadata);
  const root = path.resolve(__dirname, '..');
  addTree(path.join(root, 'src'), 'src');
  if (fs.readdirSync(path.join(root, 'src')).some((n) => n.endsWith('.mo'))) mo.usePackage('tensorcbor', 'src');
  fs.mkdirSync(outDir, { recursive: true });
  let failed = 0;
  for (const file of files) {
    const rel = path.relative(root, path.resolve(file)).split(path.sep).join('/');
    if (rel.startsWith('..')) {
      mo.write('ext/' + path.basename(file), fs.readFileSync(file, 'utf8'));
    } else {
      addTree(path.dirname(path.resolve(file)), path.dirname(rel));
    }
    const vpath = rel.startsWith('..') ? 'ext/' + path.basename(file) : rel;
    let out;
    try {
      out = mo.wasm(vpath, target);
    } catch (e) {
      process.stderr.write(`${vpath}: ${e && e.message || e}\n`);
      for (const d of mo.check(vpath) || []) {
        if (d.severity === 1 || process.env.MO_VERBOSE) process.stderr.write(`${d.source}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}\n`);
      }
      failed += 1;
      continue;
    }
    const dest = path.join(outDir, path.basename(file).replace(/\.mo$/, '.wasm'));
    const tmp = `${dest}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, out.wasm);
    fs.renameSync(tmp, dest); // atomic: a concurrent reader never sees half a module
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(String(e && e.message || e) + '\n');
  process.exitCode = 1;
}
