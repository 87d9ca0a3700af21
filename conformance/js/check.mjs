// Decodes every valid vector of a tensorcbor conformance suite with cbor-x, an independent
// JavaScript CBOR decoder, and checks the element data it returns against the manifest:
// RFC 8746 typed-array tags must come back as the matching TypedArray with the expected bytes.
// Usage: node check.mjs SUITE_DIR   (exit status 1 on any failure)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Decoder, Tag } from "cbor-x";

const TYPED = { 64: Uint8Array, 72: Int8Array, 69: Uint16Array, 77: Int16Array, 78: Int32Array,
  79: BigInt64Array, 70: Uint32Array, 71: BigUint64Array, 85: Float32Array, 86: Float64Array };
const TAG_OF = { float32: 85, uint8: 64, int8: 72, uint16: 69, int16: 77, int32: 78, int64: 79,
  float16: 84, float64: 86, uint32: 70, uint64: 71 };

const suite = process.argv[2];
const manifest = JSON.parse(readFileSync(join(suite, "manifest.json"), "utf8"));
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const unwrap = (x) => (x instanceof Tag ? x.value : x);
const hex = (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("hex");
let failures = 0, checked = 0;

function checkTensor(id, item, want) {
  const data = item[item.length - 1];
  if (want.dtype === "string") {
    if (!Array.isArray(data) || data.length !== want.strings.length || data.some((s, i) => s !== want.strings[i]))
      throw new Error(`strings differ: ${JSON.stringify(data)}`);
    return;
  }
  if (data instanceof Tag && data.tag === 52090) { // Extended: zstd data; check its frame, not the elements
    const [codec, filter, length, zstd] = data.value;
    if (data.value.length !== 4 || codec !== 1 || (filter !== 0 && filter !== 1) || !(zstd instanceof Uint8Array))
      throw new Error("compressed data item is not [1, 0|1, length, bytes]");
    if (Number(length) * 2 !== want.data_hex.length) throw new Error(`declared length ${length} != element bytes`);
    return;
  }
  const tag = TAG_OF[want.dtype];
  let bytes = data;
  if (tag === 84) { // cbor-x has no float16 typed array: it returns the tag
    if (!(data instanceof Tag) || data.tag !== 84) throw new Error("float16 data is not tag 84");
    bytes = data.value;
  } else if (tag !== undefined) {
    const Cls = TYPED[tag];
    if (!(data instanceof Cls)) throw new Error(`${want.dtype} data decoded as ${data?.constructor?.name}, not ${Cls.name}`);
    const n = want.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`${Cls.name} has ${data.length} elements, shape needs ${n}`);
  } else if (!(data instanceof Uint8Array) || data instanceof Tag) {
    throw new Error(`${want.dtype} data is not a plain byte string`);
  }
  if (hex(bytes) !== want.data_hex) throw new Error(`element bytes ${hex(bytes)} != ${want.data_hex}`);
}

for (const v of manifest.vectors) {
  if (v.verdict !== "valid") continue;
  const blob = readFileSync(join(suite, v.file));
  try {
    const doc = unwrap(decoder.decode(blob));
    if (!(doc instanceof Tag) && !Array.isArray(doc)) throw new Error("not a tagged array");
    const top = unwrap(doc);
    if (v.kind === "tensor") {
      checkTensor(v.id, top, v.expected);
    } else {
      // [1, metadata, directory, pad, tensors] (SPEC.md §5.2)
      const [, , directory, pad, items] = top;
      if (top.length !== 5 || !Array.isArray(directory) || !Array.isArray(items)) throw new Error("not a 1.0 bundle");
      if (!(pad instanceof Uint8Array) || pad.length > 7 || pad.some((b) => b !== 0)) throw new Error("bad pad");
      if (items.length !== directory.length) throw new Error("directory and items differ in length");
      const names = directory.map((e) => e[0]);
      const want = v.expected.tensors.map((t) => t.name);
      if (JSON.stringify(names) !== JSON.stringify(want)) throw new Error(`names ${names} != ${want}`);
      v.expected.tensors.forEach((t, i) => {
        const [, code, shape] = directory[i];
        if (Number(code) !== t.dtype_code || JSON.stringify(shape.map(Number)) !== JSON.stringify(t.shape))
          throw new Error(`directory entry ${t.name}: dtype or shape differs`);
        checkTensor(v.id, items[i], t);
      });
    }
    checked++;
  } catch (e) {
    failures++;
    console.log(`FAIL ${v.id}: ${e.message}`);
  }
}
console.log(`cbor-x checked ${checked} valid vectors, ${failures} failures`);
process.exit(failures ? 1 : 0);
