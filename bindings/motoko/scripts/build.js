#!/usr/bin/env node
// Compile Motoko entry files to Wasm with the npm `motoko` compiler (pinned in package.json), loading the
// `core` package it bundles. Usage: node scripts/build.js [--target wasi|ic] [--public-metadata NAME]... OUT_DIR
// FILE.mo... (--public-metadata: emit that metadata section as public, e.g. candid:service for an IC canister).
// Writes OUT_DIR/<name>.wasm and, for the IC target, OUT_DIR/<name>.did (the actor's Candid interface).
// The library (src/) is the package "mo:tensorcbor/<Module>". The directory of each entry, with its
// subdirectories (not node_modules, .git, .mops, build), is put in the compiler's virtual file system, so an
// entry anywhere (inside this repository or in your own project) can import its own files relatively
// ("Helper/lib", "../src/Tensor").
'use strict';
const fs = require('fs');
const path = require('path');
const mo = require('motoko');

const SKIP = new Set(['node_modules', '.git', '.mops', '.dfx', '.icp', 'build', 'target']);

function addTree(dir, virtualDir) {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = fs.statSync(full);
    if (stat.isDirectory()) {
      if (!SKIP.has(name)) addTree(full, virtualDir + '/' + name);
    } else if (name.endsWith('.mo')) mo.write(virtualDir + '/' + name, fs.readFileSync(full, 'utf8'));
  }
}

function writeAtomic(dest, data) {
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, dest); // atomic: a concurrent reader never sees half a file
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
  let external = 0;
  for (const file of files) {
    const full = path.resolve(file);
    if (!fs.existsSync(full)) {
      process.stderr.write(`${file}: no such file\n`);
      failed += 1;
      continue;
    }
    const rel = path.relative(root, full).split(path.sep).join('/');
    let vpath;
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      // outside the library: its own directory tree under a virtual root of its own
      const vdir = `ext${external++}`;
      addTree(path.dirname(full), vdir);
      vpath = `${vdir}/${path.basename(full)}`;
    } else {
      addTree(path.dirname(full), path.dirname(rel));
      vpath = rel;
    }
    let out;
    try {
      out = mo.wasm(vpath, target);
    } catch (e) {
      process.stderr.write(`${file}: ${e && e.message || e}\n`);
      for (const d of mo.check(vpath) || []) {
        if (d.severity === 1 || process.env.MO_VERBOSE) process.stderr.write(`${d.source}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}\n`);
      }
      failed += 1;
      continue;
    }
    const base = path.join(outDir, path.basename(file).replace(/\.mo$/, ''));
    writeAtomic(`${base}.wasm`, out.wasm);
    if (target === 'ic') writeAtomic(`${base}.did`, out.candid || mo.candid(vpath));
  }
  return failed ? 1 : 0;
}

// The compiler recurses deeply on large modules (an unrolled 500 KB module overflows node's default ~1 MB
// stack with Stack_overflow): compile on a worker thread whose stack is STACK_MB (the thread really gets that
// stack, whatever the shell's `ulimit -s`).
const STACK_MB = Number(process.env.TENSORCBOR_MOC_STACK_MB || 512);
const { Worker, isMainThread, workerData, parentPort } = require('worker_threads');

if (isMainThread) {
  const worker = new Worker(__filename, { workerData: process.argv.slice(2), resourceLimits: { stackSizeMb: STACK_MB } });
  worker.on('message', (code) => { process.exitCode = code; });
  worker.on('error', (e) => { process.stderr.write(String(e && e.message || e) + '\n'); process.exitCode = 1; });
} else {
  let code;
  try {
    code = main(workerData);
  } catch (e) {
    process.stderr.write(String(e && e.message || e) + '\n');
    code = 1;
  }
  parentPort.postMessage(code);
}
