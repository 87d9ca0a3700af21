// The README's TypeScript examples type-check against the built declarations (dist/*.d.ts) and the example
// module: every ```ts block, imports merged, bodies in order, compiled by tsc with --strict (nothing runs: the
// blocks talk to a canister and a web server).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PKG = fileURLToPath(new URL("..", import.meta.url));

test("the README's TypeScript blocks compile", () => {
  const readme = readFileSync(join(PKG, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, "the README shows the three frontend tasks in TypeScript");
  const imports = new Map();
  const body = [];
  for (const block of blocks) {
    for (const line of block.split("\n")) {
      const m = /^import \{ ([^}]+) \} from "([^"]+)";/.exec(line);
      if (!m) {
        body.push(line);
        continue;
      }
      const target = m[2] === "tensorcbor" ? join(PKG, "dist", "index.js")
        : m[2] === "./tensor-store.mjs" ? join(PKG, "examples", "tensor-store.mjs") : m[2];
      const names = imports.get(target) ?? new Set();
      for (const n of m[1].split(",")) names.add(n.trim());
      imports.set(target, names);
    }
  }
  const dir = mkdtempSync(join(PKG, "node_modules", ".tcb-readme-")); // inside: @icp-sdk/core resolves
  const source = [
    ...[...imports].map(([from, names]) => `import { ${[...names].join(", ")} } from ${JSON.stringify(from)};`),
    "declare const canisterId: string;",
    ...body,
    "export {};",
  ].join("\n");
  writeFileSync(join(dir, "readme.ts"), source);
  const tsc = join(PKG, "node_modules", "typescript", "bin", "tsc");
  const done = spawnSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "ES2022", "--module", "ES2022",
    "--moduleResolution", "bundler", "--allowJs", "--skipLibCheck", "--types", "node", "--typeRoots",
    join(PKG, "node_modules", "@types"), join(dir, "readme.ts")], { encoding: "utf8", cwd: PKG });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(done.status, 0, `${done.stdout}${done.stderr}\n--- generated from the README:\n${source}`);
});
