// Every Core vector: valid ones decode to their expected value and re-encode to their exact bytes; invalid ones
// are rejected with their registry code. (The Python runner drives the same code through bin/adapter.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeBundle, decodeTensor, encodeBundle, encodeTensor, TensorCBORError } from "../dist/index.js";
import { hex, suite, unhex } from "./vectors.mjs";

const core = suite().filter((v) => v.profile === "core");

function input(t) {
  return t.strings ? { dtype: t.dtype, shape: t.shape, strings: t.strings } : { dtype: t.dtype, shape: t.shape, data: unhex(t.data_hex) };
}

function metaValue(j) {
  if (j === null || typeof j !== "object") return j;
  const [[tag, body]] = Object.entries(j);
  if (tag === "int") return BigInt(body);
  if (tag === "float") return { nan: NaN, inf: Infinity, "-inf": -Infinity, "-0": -0 }[body] ?? Number(body);
  if (tag === "bytes") return unhex(body);
  if (tag === "array") return body.map(metaValue);
  return new Map(body.map(([k, v]) => [k, metaValue(v)]));
}

function checkTensor(t, want, id) {
  assert.equal(t.dtype, want.dtype, id);
  assert.deepEqual([...t.shape], want.shape, id);
  if (want.strings) assert.deepEqual([...t.strings], want.strings, id);
  else assert.equal(hex(t.bytes), want.data_hex, id);
}

test("valid core vectors decode and re-encode byte for byte", () => {
  let n = 0;
  for (const v of core.filter((x) => x.verdict === "valid")) {
    const bytes = v.bytes();
    if (v.kind === "tensor") {
      checkTensor(decodeTensor(bytes), v.expected, v.id);
      assert.equal(hex(encodeTensor(input(v.expected))), hex(bytes), v.id);
    } else {
      const b = decodeBundle(bytes);
      assert.deepEqual(b.names(), v.expected.tensors.map((t) => t.name), v.id);
      for (const t of v.expected.tensors) checkTensor(b.get(t.name), t, v.id);
      const again = encodeBundle(v.expected.tensors.map((t) => [t.name, input(t)]), metaValue(v.expected.metadata));
      assert.equal(hex(again), hex(bytes), v.id);
    }
    n++;
  }
  assert.ok(n > 400, `only ${n} valid vectors`);
});

test("invalid core vectors are rejected with their code", () => {
  let n = 0;
  for (const v of core.filter((x) => x.verdict === "invalid")) {
    const decode = v.kind === "tensor" ? decodeTensor : decodeBundle;
    assert.throws(() => decode(v.bytes()), (e) => e instanceof TensorCBORError && e.code === v.error, v.id);
    n++;
  }
  assert.ok(n > 1000, `only ${n} invalid vectors`);
});
