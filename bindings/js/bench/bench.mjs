// Benchmarks of the JavaScript binding; peers side by side in one process, ratios, medians of CPU time.
//
//   npm run bench            (node bench/bench.mjs [--quick])
//
// 1. Decoding a float32 tensor is a view: its time does not grow with the tensor (1 KiB ... 16 MiB).
// 2. A bundle of 1,000 tensors against @huggingface/hub's safetensors header parser on the same tensors:
//    - both over the same in-memory fetch (Range requests): fetchLayout vs parseSafetensorsMetadata;
//    - locally: readLayout of the prefix vs JSON.parse of the safetensors header (the part of hub's parser that is
//      not fetching), and decodeBundle of the whole document (every check of SPEC.md §7.1/§7.2, every tensor
//      viewed) for scale.
import { parseSafetensorsMetadata } from "@huggingface/hub";
import { decodeBundle, decodeTensor, encodeBundle, encodeTensor, fetchLayout, readLayout, view } from "../dist/index.js";

const quick = process.argv.includes("--quick");

/**
 * Median CPU seconds per call of each case (process.cpuUsage: user + system time of this process, so that other
 * processes on a shared machine do not inflate it as they inflate wall time). The cases run round-robin, one
 * batch of `inner` calls each per round, after two warm-up rounds.
 */
async function timeAll(cases, { rounds = quick ? 7 : 31, inner = 1 } = {}) {
  const runs = cases.map(() => []);
  for (let r = -2; r < rounds; r++) {
    for (const [k, fn] of cases.entries()) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < inner; i++) await fn();
      const d = process.cpuUsage(t0);
      if (r >= 0) runs[k].push((d.user + d.system) / 1e6 / inner);
    }
  }
  return runs.map((x) => x.sort((p, q) => p - q)[x.length >> 1]);
}

const us = (s) => `${(s * 1e6).toFixed(2)} µs`;
const rows = [];

// ---------------------------------------------------------------- 1. constant-time tensor decode
const sizes = [1 << 10, 1 << 16, 1 << 20, 1 << 24];
const docs = sizes.map((bytes) => encodeTensor({ dtype: "float32", shape: [bytes / 4], data: new Float32Array(bytes / 4).fill(0.5) }));
const tSizes = await timeAll(docs.map((doc) => () => view(decodeTensor(doc))), { inner: 50000 });
for (const [k, bytes] of sizes.entries()) {
  const label = bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`;
  rows.push([`decodeTensor + view, float32 ${label}`, us(tSizes[k]), `this ÷ 1 KiB = ${(tSizes[k] / tSizes[0]).toFixed(2)}`]);
}

// ---------------------------------------------------------------- 2. 1,000-tensor bundle vs safetensors
const N = 1000;
const names = Array.from({ length: N }, (_, i) => `model.layers.${String(Math.floor(i / 10)).padStart(3, "0")}.w${i % 10}`);
const shape = [32, 32];
const tensors = names.map((n, i) => [n, { dtype: "float32", shape, data: new Float32Array(32 * 32).fill(i) }]);
const tcb = encodeBundle(tensors, { format: "bench" });

// The same tensors as a .safetensors file: 8-byte header length, JSON header, data.
const header = { __metadata__: { format: "bench" } };
let off = 0;
for (const n of [...names].sort()) {
  header[n] = { dtype: "F32", shape, data_offsets: [off, off + 4096] };
  off += 4096;
}
let hjson = new TextEncoder().encode(JSON.stringify(header));
const padTo = Math.ceil(hjson.length / 8) * 8; // safetensors pads the header with spaces to 8 bytes
hjson = new TextEncoder().encode(JSON.stringify(header).padEnd(padTo, " "));
const st = new Uint8Array(8 + hjson.length + off);
new DataView(st.buffer).setBigUint64(0, BigInt(hjson.length), true);
st.set(hjson, 8);

/** An in-memory HTTP server for both readers: Range requests answered from `buf`, with the headers hub needs. */
function memoryFetch(buf) {
  const counter = { requests: 0, bytes: 0 };
  const f = async (_url, init) => {
    counter.requests++;
    const range = new Headers(init?.headers).get("range");
    const [, s, e] = /bytes=(\d+)-(\d*)/.exec(range ?? "bytes=0-");
    const end = Math.min(e ? +e + 1 : buf.length, buf.length);
    counter.bytes += end - +s;
    return new Response(buf.slice(+s, end), {
      status: 206,
      headers: { ETag: '"bench"', "Content-Range": `bytes ${s}-${end - 1}/${buf.length}`, "Content-Length": String(end - +s) },
    });
  };
  return { f, counter };
}

const tcbFetch = memoryFetch(tcb);
const stFetch = memoryFetch(st);
const layout = await fetchLayout("https://example.invalid/model.tcb", { fetch: tcbFetch.f });
const hub = await parseSafetensorsMetadata({ repo: "bench/model", path: "model.safetensors", fetch: stFetch.f });
if (layout.entries.length !== N || Object.keys(hub.header).length !== N + 1) throw new Error("readers disagree on the count");
const tcbPer = { ...tcbFetch.counter }; // what one call asks for
const stPer = { ...stFetch.counter };

const prefix = tcb.subarray(0, layout.prefixLength);
const headerBytes = st.subarray(8, 8 + hjson.length);
const td = new TextDecoder();
const [tFetchLayout, tHub, tReadLayout, tJson, tDecode] = await timeAll([
  () => fetchLayout("https://example.invalid/model.tcb", { fetch: tcbFetch.f }),
  () => parseSafetensorsMetadata({ repo: "bench/model", path: "model.safetensors", fetch: stFetch.f }),
  () => readLayout(prefix),
  () => JSON.parse(td.decode(headerBytes)),
  () => {
    const b = decodeBundle(tcb);
    for (const t of b.tensors.values()) view(t);
  },
], { inner: 10 });

const perCall = (c) => `${c.requests} requests, ${c.bytes.toLocaleString("en")} bytes`;
rows.push([`fetchLayout, ${N} tensors, in-memory fetch (${perCall(tcbPer)})`, us(tFetchLayout), `hub ÷ this = ${(tHub / tFetchLayout).toFixed(2)}`]);
rows.push([`@huggingface/hub parseSafetensorsMetadata, same tensors (${perCall(stPer)})`, us(tHub), "reference"]);
rows.push([`readLayout of the ${layout.prefixLength.toLocaleString("en")}-byte prefix (strict)`, us(tReadLayout), `JSON.parse ÷ this = ${(tJson / tReadLayout).toFixed(2)}`]);
rows.push([`JSON.parse of the ${hjson.length.toLocaleString("en")}-byte safetensors header`, us(tJson), "reference"]);
rows.push([`decodeBundle (${tcb.length.toLocaleString("en")} bytes, every check) + view of every tensor`, us(tDecode), `hub ÷ this = ${(tHub / tDecode).toFixed(2)}`]);

console.log(`node ${process.version}, ${quick ? "quick" : "full"} run; medians of CPU time per call\n`);
console.log("| case | time | ratio |\n|---|---:|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
