// The incremental decoder gives, for every core vector cut into payloads of any size, exactly what decoding the
// whole document gives: the same tensors and metadata, or the same first error (code and offset).
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunks, decodeBundle, decodeTensor, encodeBundle, SequentialReceiver, StreamDecoder, TensorCBORError } from "tensorcbor";
import { hex, suite } from "./vectors.mjs";

const BUNDLE = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62];
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? hex(x) : x instanceof Map ? [...x] : x));
const tensorKey = (name, t) => json([name, t.dtype, t.shape, t.strings ?? hex(t.bytes), t.offset]);

function whole(bytes) {
  try {
    if (BUNDLE.every((x, i) => bytes[i] === x)) {
      const b = decodeBundle(bytes);
      return { metadata: json(b.metadata), tensors: [...b.tensors].map(([n, t]) => tensorKey(n, t)) };
    }
    return { metadata: null, tensors: [tensorKey("", decodeTensor(bytes))] };
  } catch (e) {
    if (!(e instanceof TensorCBORError)) throw e;
    return { error: `${e.code}@${e.offset}` };
  }
}

function incremental(bytes, size) {
  const d = new StreamDecoder();
  const out = { metadata: null, tensors: [] };
  try {
    for (let at = 0; at < bytes.length; at += size) {
      const last = at + size >= bytes.length;
      for (const ev of d.push(bytes.subarray(at, at + size), last)) {
        if (ev.kind === "metadata") out.metadata = json(ev.metadata);
        else out.tensors.push(tensorKey(ev.name, ev.tensor));
      }
    }
    d.finish();
    return out;
  } catch (e) {
    if (!(e instanceof TensorCBORError)) throw e;
    return { error: `${e.code}@${e.offset}` };
  }
}

test("every core vector, cut into payloads of 1, 7, 64 and 4096 bytes, decodes as the whole document", () => {
  let n = 0;
  for (const v of suite().filter((x) => x.profile === "core")) {
    const bytes = v.bytes();
    const want = whole(bytes);
    for (const size of bytes.length > 100_000 ? [4096, 65536] : [1, 7, 64, 4096]) {
      assert.deepEqual(incremental(bytes, size), want, `${v.id} in ${size}-byte payloads`);
      n++;
    }
  }
  assert.ok(n > 6000);
});

test("tensors arrive as soon as their bytes are in, and own their bytes", () => {
  const tensors = Object.fromEntries([...Array(20).keys()].map((i) => [`t${String(i).padStart(2, "0")}`,
    { dtype: "float64", shape: [64], data: new Float64Array(64).fill(i) }]));
  const doc = encodeBundle(tensors, { note: "stream" });
  const s = chunks(doc, 1000);
  const rx = new SequentialReceiver({ expectedDigest: s.streamDigest });
  const dec = new StreamDecoder();
  const seen = [];
  let maxBuffered = 0;
  for (const c of s.chunks) {
    const d = rx.accept(c);
    if (!d) continue;
    for (const ev of dec.push(d.payload, rx.complete)) if (ev.kind === "tensor") seen.push([ev.name, ev.tensor]);
    maxBuffered = Math.max(maxBuffered, dec.buffered);
  }
  rx.finish();
  dec.finish();
  assert.equal(seen.length, 20);
  for (const [name, t] of seen) assert.deepEqual([...new Float64Array(t.bytes.buffer)], Array(64).fill(Number(name.slice(1))));
  assert.ok(maxBuffered < 2 * 1000 + 600, `held ${maxBuffered} bytes`);
  assert.throws(() => dec.push(Uint8Array.of(0)), (e) => e.code === "TRAILING_BYTES" && e.offset === doc.length);
});
