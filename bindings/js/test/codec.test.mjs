// The codec API: SPEC.md's worked examples, metadata types, layouts from a prefix, range reads, encoder errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeBundle, decodeTensor, encodeBundle, encodeMetadata, encodeTensor, ERROR_CODES, fetchLayout, fetchTensor, readLayout,
  TensorCBORError, toFloat32, view,
} from "../dist/index.js";
import { hex, unhex } from "./vectors.mjs";

const B17 = "d9d9f7d9cb628501aa626c72f93400626f6bf563636667a26161f980006162f4636e656720637261774200ff6464696d7382028102646c6f7373f97e00646e6f6e65f664737465701904b0656d6f64656c6464656d6f828564626961730a81010602856c6c617965722e776569676874018202020c104100828240d85442003881d855500000803f000000400000404000008040";

const code = (c) => (e) => e instanceof TensorCBORError && e.code === c;

test("SPEC.md B.1: float32 [2, 3]", () => {
  const doc = encodeTensor({ dtype: "float32", shape: [2, 3], data: new Float32Array([0, 0.5, 1, 1.5, 2, 2.5]) });
  assert.equal(hex(doc), "d9d9f7d9cb7484010182020" + "3d8555818000000000000003f0000803f0000c03f0000004000002040");
  const t = decodeTensor(doc);
  assert.equal(t.offset, 16);
  assert.deepEqual([...view(t)], [0, 0.5, 1, 1.5, 2, 2.5]);
});

test("SPEC.md B.17: a bundle with every metadata type, byte for byte both ways", () => {
  const meta = {
    lr: 0.25, ok: true, cfg: { a: -0, b: false }, neg: -1n, raw: Uint8Array.of(0, 255), dims: [2n, [2n]], loss: NaN,
    none: null, step: 1200n, model: "demo",
  };
  const doc = encodeBundle({ "layer.weight": { dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    bias: { dtype: "float16", shape: [1], data: new Uint16Array([0x3800]) } }, meta);
  assert.equal(hex(doc), B17);
  const b = decodeBundle(unhex(B17));
  assert.deepEqual(b.names(), ["bias", "layer.weight"]);
  assert.equal(b.base, 120);
  assert.deepEqual([...toFloat32(b.get("bias"))], [0.5]);
  const m = b.metadata;
  assert.deepEqual([...m.keys()], ["lr", "ok", "cfg", "neg", "raw", "dims", "loss", "none", "step", "model"]);
  assert.equal(m.get("step"), 1200n);
  assert.equal(m.get("neg"), -1n);
  assert.ok(Object.is(m.get("cfg").get("a"), -0));
  assert.ok(Number.isNaN(m.get("loss")));
  assert.deepEqual(m.get("dims"), [2n, [2n]]);
  assert.equal(hex(encodeBundle([...b.tensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape, data: t.bytes }]), m)), B17);
});

test("metadata floats take the shortest exact width; integers stay integers", () => {
  const enc = (x) => hex(encodeMetadata({ x })).slice(2);
  assert.equal(enc(1), "6178f93c00");
  assert.equal(enc(1n), "617801");
  assert.equal(enc(100000), "6178fa47c35000");
  assert.equal(enc(1.1), "6178fb3ff199999999999a");
  assert.equal(enc(5.960464477539063e-8), "6178f90001");
  assert.equal(enc(-(2n ** 64n)), "61783bffffffffffffffff");
  assert.throws(() => encodeBundle({}, { x: 2n ** 64n }), code("UNSUPPORTED_VALUE"));
});

test("readLayout from a prefix; too short says how much it needs", () => {
  const doc = unhex(B17);
  const layout = readLayout(doc.subarray(0, 121));
  assert.deepEqual(layout.entries.map((e) => [e.name, e.dtype, e.offset, e.length]), [["bias", "float16", 126, 2], ["layer.weight", "float32", 132, 16]]);
  assert.equal(layout.metadata.get("model"), "demo");
  assert.throws(() => readLayout(doc.subarray(0, 60)), (e) => e.code === "TRUNCATED" && e.needed > 60 && e.needed <= 121);
});

test("fetchLayout and fetchTensor read a remote bundle by range requests", async () => {
  const names = [...Array(300).keys()].map((i) => `block.${String(i).padStart(3, "0")}.weight`);
  const doc = encodeBundle(Object.fromEntries(names.map((n, i) => [n, { dtype: "float32", shape: [4], data: new Float32Array([i, i, i, i]) }])));
  const asked = [];
  const fakeFetch = async (url, init) => {
    const [, s, e] = /bytes=(\d+)-(\d+)/.exec(init.headers.Range);
    asked.push([+s, +e]);
    const body = doc.slice(+s, +e + 1);
    return { ok: true, status: 206, arrayBuffer: async () => body.buffer };
  };
  const layout = await fetchLayout("https://example.invalid/model.tcb", { fetch: fakeFetch, initial: 1024 });
  assert.equal(layout.entries.length, 300);
  assert.ok(asked.length >= 2 && asked.at(-1)[1] < doc.length, "asked for a longer prefix, never the whole file");
  const entry = layout.entries.find((e) => e.name === "block.123.weight");
  const t = await fetchTensor("https://example.invalid/model.tcb", entry, { fetch: fakeFetch });
  assert.deepEqual([...view(t)], [123, 123, 123, 123]);
  assert.deepEqual(asked.at(-1), [entry.offset, entry.offset + 15]);
  const small = encodeBundle({ empty: { dtype: "float32", shape: [0, 3], data: new Uint8Array(0) },
    words: { dtype: "string", shape: [2], strings: ["α", ""] } });
  const served = async (url, init) => {
    const [, s, e] = /bytes=(\d+)-(\d+)/.exec(init.headers.Range);
    return { ok: true, status: 206, arrayBuffer: async () => small.slice(+s, +e + 1).buffer };
  };
  const l2 = await fetchLayout("u", { fetch: served });
  assert.deepEqual((await fetchTensor("u", l2.entries[0], { fetch: served })).shape, [0, 3]);
  assert.deepEqual((await fetchTensor("u", l2.entries[1], { fetch: served })).strings, ["α", ""]);
});

test("encoder errors are typed with registry codes", () => {
  assert.throws(() => encodeTensor({ dtype: "float32", shape: [3], data: new Float32Array(2) }), code("SHAPE_MISMATCH"));
  assert.throws(() => encodeTensor({ dtype: "bool", shape: [1], data: Uint8Array.of(2) }), code("INVALID_ELEMENT"));
  assert.throws(() => encodeTensor({ dtype: "int4", shape: [1], data: Uint8Array.of(0x10) }), code("INVALID_ELEMENT"));
  assert.throws(() => encodeTensor({ dtype: "q8_0", shape: [16], data: new Uint8Array(17) }), code("SHAPE_MISMATCH"));
  assert.throws(() => encodeTensor({ dtype: "nope", shape: [], data: new Uint8Array(0) }), code("UNKNOWN_DTYPE"));
  assert.throws(() => encodeTensor({ dtype: "float32", shape: Array(33).fill(1), data: new Uint8Array(4) }), code("RANK_TOO_LARGE"));
  assert.throws(() => encodeTensor({ dtype: "uint8", shape: [2 ** 40, 2 ** 20], data: new Uint8Array(0) }), code("SIZE_OVERFLOW"));
  assert.throws(() => encodeBundle({ "": { dtype: "uint8", shape: [0], data: new Uint8Array(0) } }), code("INVALID_NAME"));
  assert.throws(() => encodeTensor({ dtype: "string", shape: [1], strings: ["\ud800"] }), code("INVALID_UTF8"));
  assert.throws(() => encodeBundle({}, new Map([["k", { a: undefined }]])), code("UNSUPPORTED_VALUE"));
  assert.ok(ERROR_CODES.includes("QUOTA_EXCEEDED") && ERROR_CODES[0] === "MALFORMED");
});

test("decoder errors carry code, offset and the registry's sentence", () => {
  const doc = encodeTensor({ dtype: "bool", shape: [3], data: Uint8Array.of(0, 1, 1) });
  doc[doc.length - 1] = 2;
  assert.throws(() => decodeTensor(doc), (e) => e.code === "INVALID_ELEMENT" && e.offset === doc.length - 1
    && /INVALID_ELEMENT at byte \d+: An element value is not allowed/.test(e.message));
  assert.throws(() => decodeBundle(encodeTensor({ dtype: "uint8", shape: [0], data: new Uint8Array(0) })), code("BAD_MAGIC"));
  assert.throws(() => decodeTensor(Uint8Array.of(0xd9, 0xd9)), code("TRUNCATED"));
});
