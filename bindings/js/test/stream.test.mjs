// Streams: the cut of SPEC.md §10.3 (the spec's worked example), both receivers, and the stream suite.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chunks, decodeBundle, encodeBundle, encodeTensor, NATIVE_SHA256, PortableSha256, SequentialReceiver, sha256, StoringReceiver,
  TensorCBORError,
} from "../dist/index.js";
import { hex, suite, unhex } from "./vectors.mjs";

const arange16 = () => encodeTensor({ dtype: "float32", shape: [16], data: new Float32Array([...Array(16).keys()]) });

test("the cut and stream digest of SPEC.md B.19 / B.20", () => {
  const s = chunks(arange16(), 128);
  assert.equal(s.chunks.length, 3);
  assert.equal(hex(s.streamDigest), "33febe60cc6fc01246e877bc11e86c8d57bcb4f048c00d65dacfc083b1595aee");
  assert.equal(hex(s.chunks[2]), "d9d9f7d9cb7384015820" + hex(s.streamDigest) + "024400007041");
  assert.equal(s.chunks[0].length, 112);
});

test("a bundle's tensor headers are never split when they fit", () => {
  const tensors = Object.fromEntries([...Array(40).keys()].map((i) => [`t${String(i).padStart(2, "0")}`,
    { dtype: "float64", shape: [(i * 7) % 23], data: new Float64Array((i * 7) % 23) }]));
  const doc = encodeBundle(tensors, { note: "x".repeat(300) });
  const s = chunks(doc, 600);
  // header regions: [item start, first data byte) of every tensor
  const b = decodeBundle(doc);
  const regions = [];
  let start = b.base + 2; // the tensors array head of 40 items is 2 bytes
  for (const t of b.tensors.values()) {
    regions.push([start, t.offset]);
    start = t.offset + t.bytes.length;
  }
  const rx = new SequentialReceiver({ expectedDigest: s.streamDigest });
  const parts = [];
  let at = 0;
  for (const c of s.chunks) {
    assert.ok(c.length <= 600);
    const d = rx.accept(c);
    if (!d) continue;
    parts.push(d.payload);
    at += d.payload.length;
    for (const [h, e] of regions) assert.ok(!(h < at && at < e), `cut at ${at} inside header [${h}, ${e})`);
  }
  rx.finish();
  assert.ok(s.chunks.length > 8);
  assert.equal(hex(Buffer.concat(parts)), hex(doc));
});

test("a rejected chunk changes nothing; the storing receiver takes any order", () => {
  const s = chunks(arange16(), 128);
  const [manifest, c1, c2] = s.chunks;
  const rx = new StoringReceiver({ expectedDigest: s.streamDigest, quota: 80n });
  assert.equal(rx.accept(manifest), null);
  const bad = c2.slice();
  bad[bad.length - 1] ^= 1;
  assert.throws(() => rx.accept(bad), (e) => e instanceof TensorCBORError && e.code === "CHUNK_DIGEST_MISMATCH");
  assert.equal(rx.accept(c2), 2);
  assert.throws(() => rx.accept(c2), (e) => e.code === "DUPLICATE_CHUNK");
  assert.throws(() => rx.finish(), (e) => e.code === "MISSING_CHUNK");
  assert.equal(rx.accept(c1), 1);
  assert.equal(hex(rx.finish()), hex(arange16()));
  const seq = new SequentialReceiver();
  seq.accept(manifest);
  assert.throws(() => seq.accept(c2), (e) => e.code === "CHUNK_OUT_OF_ORDER");
  const small = new SequentialReceiver({ quota: 79 });
  assert.throws(() => small.accept(manifest), (e) => e.code === "QUOTA_EXCEEDED");
});

test("every stream vector gets its verdicts from both receivers", () => {
  let runs = 0;
  for (const v of suite("stream-v1")) {
    const list = v.bytes();
    // the file is one CBOR array of byte strings
    const chunksOf = [];
    let p = 0;
    const headArg = () => {
      const ai = list[p] & 31;
      p++;
      if (ai < 24) return ai;
      let n = 0;
      for (let k = 0; k < 1 << (ai - 24); k++) n = n * 256 + list[p++];
      return n;
    };
    const count = headArg();
    for (let i = 0; i < count; i++) {
      const len = headArg();
      chunksOf.push(list.subarray(p, p + len));
      p += len;
    }
    for (const kind of v.receiver === "both" ? ["sequential", "storing"] : [v.receiver]) {
      const opts = { expectedDigest: v.expected_digest ? unhex(v.expected_digest) : null, quota: v.quota === null ? null : BigInt(v.quota) };
      const rx = kind === "sequential" ? new SequentialReceiver(opts) : new StoringReceiver(opts);
      const got = chunksOf.map((c) => {
        try {
          rx.accept(c);
          return "ok";
        } catch (e) {
          return e.code;
        }
      });
      assert.deepEqual(got, v.verdicts, `${v.id} (${kind})`);
      let end = "ok";
      try {
        rx.finish();
      } catch (e) {
        end = e.code;
      }
      assert.equal(end, v.end, `${v.id} (${kind}) end`);
      runs++;
    }
  }
  assert.ok(runs >= 58);
});

test("the portable SHA-256 agrees with node:crypto", () => {
  assert.ok(NATIVE_SHA256);
  assert.equal(hex(new PortableSha256().update(new TextEncoder().encode("abc")).digest()),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const size of [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 65537]) {
    const data = new Uint8Array(size).map((_, i) => (i * 131 + size) & 255);
    const h = new PortableSha256();
    for (let at = 0; at < size; at += 37) h.update(data.subarray(at, at + 37)); // uneven pieces
    assert.equal(hex(h.digest()), hex(sha256(data)), `size ${size}`);
  }
});
