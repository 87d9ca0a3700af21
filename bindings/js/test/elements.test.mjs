// Typed views share the document's memory; the narrow-type decoders give the values the suite lists.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeBundle, decodeTensor, encodeTensor, f16BitsToF32Bits, Float16ArrayCtor, isZeroCopy, packBits, toFloat32, toInt8,
  view,
} from "../dist/index.js";
import { suite } from "./vectors.mjs";

const valid = suite().filter((v) => v.profile === "core" && v.verdict === "valid");

function expectedNumber(x) {
  if (typeof x === "number") return x;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  if (x === "-0") return -0;
  if (typeof x === "string" && x.startsWith("nan")) return NaN;
  throw new Error(`unexpected value ${x}`);
}

test("toFloat32 gives every listed value of every narrow float vector", () => {
  const kinds = new Set();
  for (const v of valid.filter((x) => x.kind === "tensor")) {
    const t = decodeTensor(v.bytes());
    const narrow = t.row.kind === "float" && t.row.bits <= 16;
    if (!(narrow || t.dtype === "complex32") || t.size === 0) continue;
    const got = toFloat32(t);
    const want = v.expected.values.flat();
    assert.equal(got.length, want.length, v.id);
    want.forEach((w, i) => assert.ok(Object.is(got[i], Math.fround(expectedNumber(w))), `${v.id}[${i}]: ${got[i]} != ${w}`));
    kinds.add(t.dtype);
  }
  for (const k of ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "float4_e2m1fn", "float6_e2m3fn"]) {
    assert.ok(kinds.has(k), `no vector checked ${k}`);
  }
});

test("toInt8 gives every listed value of the packed integer vectors", () => {
  let seen = 0;
  for (const v of valid.filter((x) => x.kind === "tensor" && /^u?int[24]$/.test(x.expected.dtype))) {
    const t = decodeTensor(v.bytes());
    assert.deepEqual([...toInt8(t)], v.expected.values.flat(), v.id);
    seen++;
  }
  assert.ok(seen >= 4);
});

test("float16 bits widen exactly (all 65536 codes)", () => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let h = 0; h < 65536; h++) {
    u32[0] = f16BitsToF32Bits(h);
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 31;
    const m = h & 1023;
    const want = e === 31 ? (m ? NaN : sign * Infinity) : e === 0 ? sign * m * 2 ** -24 : sign * (1024 + m) * 2 ** (e - 25);
    assert.ok(Object.is(f32[0], want), `0x${h.toString(16)}`);
    if (e === 31 && m) assert.equal(u32[0] >>> 13 & 1023, m, "NaN payload kept");
  }
});

test("views are zero-copy over an aligned document and typed by dtype", () => {
  const data = new Float32Array([1, 2, 3, 4, 5, 6]);
  const doc = encodeTensor({ dtype: "float32", shape: [2, 3], data });
  const t = decodeTensor(doc);
  const v = view(t);
  assert.ok(v instanceof Float32Array);
  assert.equal(v.buffer, doc.buffer);
  assert.ok(isZeroCopy(t));
  assert.deepEqual([...v], [1, 2, 3, 4, 5, 6]);
  doc[t.offset + 3] = 0x40; // a view aliases the document: 1.0 (3f800000) becomes 4.0 (40800000)
  assert.equal(v[0], 4);
  const i64 = view(decodeTensor(encodeTensor({ dtype: "int64", shape: [2], data: new BigInt64Array([-1n, 2n ** 62n]) })));
  assert.ok(i64 instanceof BigInt64Array);
  assert.deepEqual([...i64], [-1n, 2n ** 62n]);
  const h = view(decodeTensor(encodeTensor({ dtype: "float16", shape: [1], data: new Uint16Array([0x3c00]) })));
  assert.ok(Float16ArrayCtor ? h instanceof Float16ArrayCtor : h instanceof Uint16Array);
});

test("an unaligned buffer gives a correct copy, not a misaligned view", () => {
  const doc = encodeTensor({ dtype: "float64", shape: [2], data: new Float64Array([1.5, -2]) });
  const shifted = new Uint8Array(doc.length + 1);
  shifted.set(doc, 1);
  const t = decodeTensor(shifted.subarray(1));
  assert.ok(!isZeroCopy(t));
  assert.deepEqual([...view(t)], [1.5, -2]);
});

test("every tensor of every valid bundle vector has a view or a decoder", () => {
  for (const v of valid.filter((x) => x.kind === "bundle")) {
    for (const t of decodeBundle(v.bytes()).tensors.values()) {
      if (t.strings || t.row.kind === "block") continue;
      const kind = t.row.bits < 8 && t.row.kind !== "float" ? toInt8(t) : t.row.bits <= 8 && t.row.kind === "float" ? toFloat32(t) : view(t);
      assert.ok(kind.length >= 0, v.id);
    }
  }
});

test("packBits is the bit stream of SPEC.md §4.4", () => {
  assert.deepEqual([...packBits([-8 & 15, 7, 1], 4)], [0x78, 0x01]);
  assert.deepEqual([...packBits([1, 2, 3, 0, 1], 2)], [0b00111001, 0b01]);
  const doc = encodeTensor({ dtype: "int4", shape: [3], data: packBits([-8, 7, 1], 4) });
  assert.deepEqual([...toInt8(decodeTensor(doc))], [-8, 7, 1]);
});
