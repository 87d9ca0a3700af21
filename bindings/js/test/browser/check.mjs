// Runs in a real browser (tests/test_binding_js.py serves this page): decodes every valid Core vector with the
// built package, re-encodes it, checks one stream with the portable SHA-256, and POSTs the outcome to /result.
import {
  chunks, decodeBundle, decodeTensor, encodeBundle, encodeTensor, NATIVE_SHA256, SequentialReceiver, view,
} from "/dist/index.js";

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);

function metaValue(j) {
  if (j === null || typeof j !== "object") return j;
  const [[tag, body]] = Object.entries(j);
  if (tag === "int") return BigInt(body);
  if (tag === "float") return { nan: NaN, inf: Infinity, "-inf": -Infinity, "-0": -0 }[body] ?? Number(body);
  if (tag === "bytes") return unhex(body);
  if (tag === "array") return body.map(metaValue);
  return new Map(body.map(([k, v]) => [k, metaValue(v)]));
}

const input = (t) => (t.strings ? { dtype: t.dtype, shape: t.shape, strings: t.strings }
  : { dtype: t.dtype, shape: t.shape, data: unhex(t.data_hex) });

function same(t, want) {
  if (t.dtype !== want.dtype || JSON.stringify([...t.shape]) !== JSON.stringify(want.shape)) return false;
  return want.strings ? JSON.stringify([...t.strings]) === JSON.stringify(want.strings) : hex(t.bytes) === want.data_hex;
}

async function run() {
  const manifest = await (await fetch("/conformance/v1/manifest.json")).json();
  const vectors = manifest.vectors.filter((v) => v.profile === "core" && v.verdict === "valid");
  const failures = [];
  let decoded = 0;
  for (const v of vectors) {
    const bytes = new Uint8Array(await (await fetch(`/conformance/v1/${v.file}`)).arrayBuffer());
    try {
      let again;
      if (v.kind === "tensor") {
        if (!same(decodeTensor(bytes), v.expected)) throw new Error("decoded value differs");
        again = encodeTensor(input(v.expected));
      } else {
        const b = decodeBundle(bytes);
        for (const t of v.expected.tensors) if (!same(b.get(t.name), t)) throw new Error(`tensor ${t.name} differs`);
        if (b.tensors.size !== v.expected.tensors.length) throw new Error("tensor count differs");
        again = encodeBundle(v.expected.tensors.map((t) => [t.name, input(t)]), metaValue(v.expected.metadata));
      }
      if (hex(again) !== hex(bytes)) throw new Error("re-encoding differs");
      decoded++;
    } catch (e) {
      failures.push(`${v.id}: ${e.message}`);
    }
  }
  // A stream, hashed by the portable SHA-256 (no node:crypto here): SPEC.md B.19's stream digest.
  const doc = encodeTensor({ dtype: "float32", shape: [16], data: new Float32Array([...Array(16).keys()]) });
  const s = chunks(doc, 128);
  const rx = new SequentialReceiver({ expectedDigest: s.streamDigest });
  for (const c of s.chunks) rx.accept(c);
  rx.finish();
  const t = decodeTensor(doc);
  return {
    vectors: vectors.length, decoded, failures, nativeSha256: NATIVE_SHA256, streamDigest: hex(s.streamDigest),
    zeroCopy: view(t).buffer === doc.buffer, float16Array: typeof globalThis.Float16Array, userAgent: navigator.userAgent,
  };
}

let outcome;
try {
  outcome = await run();
} catch (e) {
  outcome = { error: String(e && e.stack || e) };
}
document.getElementById("status").textContent = JSON.stringify(outcome);
await fetch("/result", { method: "POST", body: JSON.stringify(outcome) });
