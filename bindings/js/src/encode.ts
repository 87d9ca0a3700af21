/** The deterministic encoder (SPEC.md §4, §5, §6.2): one valid encoding per input, byte-identical to Python's. */

import { headLen, HOST_LITTLE_ENDIAN, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT, Writer } from "./cbor.js";
import { basePad, BUNDLE_TAG, MAX_NAME_BYTES, TENSOR_TAG, VERSION } from "./decode.js";
import { dataLength, dtypeByCode, dtypeByName, isPacked, MAX_RANK, MAX_SIZE, shapeOk } from "./dtypes.js";
import { encodeFail } from "./errors.js";
import type { DTypeRow } from "./generated.js";
import { compareArrays, MAX_METADATA_BYTES, type MetaInput, wellFormed, writeMetadata } from "./metadata.js";
import { utf8Bytes } from "./utf8.js";

/**
 * A tensor to encode. `data` is the element bytes in wire form (little endian, sub-byte types packed low bits
 * first, SPEC.md §4.4): a Uint8Array, or any typed array whose elements already have the dtype's width (a
 * Float32Array for float32, ...). `strings` holds the elements of a `string` tensor.
 */
export interface TensorInput {
  dtype: string | number;
  shape: readonly number[];
  data?: ArrayBufferView | ArrayBuffer;
  strings?: readonly string[];
}

/** Anything that names tensors: a Map, an array of [name, tensor] pairs, or a plain object. */
export type TensorsInput =
  | ReadonlyMap<string, TensorInput>
  | readonly (readonly [string, TensorInput])[]
  | { readonly [name: string]: TensorInput };

interface Prepared {
  row: DTypeRow;
  shape: readonly number[];
  n: number;
  bytes: Uint8Array | null;
  strings: Uint8Array[] | null;
  length: number;
}

function rowOf(dtype: string | number): DTypeRow {
  const row = typeof dtype === "number" ? dtypeByCode(dtype) : dtypeByName(dtype);
  if (!row) encodeFail("UNKNOWN_DTYPE", `unknown dtype ${JSON.stringify(dtype)}: use a name or code of SPEC.md §3`);
  return row;
}

function wireBytes(data: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (!(data instanceof Uint8Array) && !(data instanceof Int8Array) && !(data instanceof Uint8ClampedArray)
    && !HOST_LITTLE_ENDIAN) {
    encodeFail("SHAPE_MISMATCH", "this host is big endian: pass the little-endian element bytes as a Uint8Array");
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Check a tensor input and compute what its encoding needs. */
function prepare(t: TensorInput): Prepared {
  const row = rowOf(t.dtype);
  const shape = t.shape;
  if (shape.length > MAX_RANK) encodeFail("RANK_TOO_LARGE", `rank ${shape.length} exceeds ${MAX_RANK}`);
  let nonzero = 1;
  let zero = false;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) encodeFail("SIZE_OVERFLOW", `dimension ${d} is not an integer 0 .. 2^53 - 1`);
    if (d === 0) zero = true;
    else {
      nonzero *= d;
      if (nonzero > MAX_SIZE) encodeFail("SIZE_OVERFLOW", "the non-zero dimensions multiply to more than 2^53 - 1");
    }
  }
  if (!shapeOk(row, shape)) {
    encodeFail("SHAPE_MISMATCH", `${row.name} needs rank >= 1 and a last dimension that is a multiple of ${row.block?.[0]}`);
  }
  const n = zero ? 0 : nonzero;
  if (row.kind === "string") {
    const strings = t.strings;
    if (!strings || t.data !== undefined) encodeFail("SHAPE_MISMATCH", "a string tensor takes `strings`, not `data`");
    if (strings.length !== n) encodeFail("SHAPE_MISMATCH", `shape [${shape}] needs ${n} strings, got ${strings.length}`);
    const encoded = strings.map((s) => {
      if (typeof s !== "string" || !wellFormed(s)) encodeFail("INVALID_UTF8", "a string element is not well-formed text");
      return utf8Bytes(s);
    });
    let length = headLen(n);
    for (const s of encoded) length += headLen(s.length) + s.length;
    return { row, shape, n, bytes: null, strings: encoded, length };
  }
  if (t.data === undefined || t.strings !== undefined) encodeFail("SHAPE_MISMATCH", `a ${row.name} tensor takes \`data\``);
  const bytes = wireBytes(t.data);
  const want = dataLength(row, n);
  if (bytes.length !== want) {
    encodeFail("SHAPE_MISMATCH", `shape [${shape}] of ${row.name} needs ${want} bytes of data, got ${bytes.length}`);
  }
  if (row.kind === "bool") {
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 1) encodeFail("INVALID_ELEMENT", `bool element ${i} is byte ${bytes[i]}, not 0 or 1`);
    }
  } else if (isPacked(row) && bytes.length > 0) {
    const used = ((n % 8) * row.bits) % 8;
    if (used !== 0 && bytes[bytes.length - 1]! >> used !== 0) {
      encodeFail("INVALID_ELEMENT", "the unused high bits of the last packed byte must be zero");
    }
  }
  return { row, shape, n, bytes, strings: null, length: bytes.length };
}

function writeHeader(w: Writer, p: Prepared): void {
  w.head(MAJOR_UINT, p.row.code);
  w.head(MAJOR_ARRAY, p.shape.length);
  for (const d of p.shape) w.head(MAJOR_UINT, d);
}

/** Append `[fields..., ?pad, data]` (`fixed` items counted, data included); padding relative to the buffer start. */
function writeArray(w: Writer, p: Prepared, fields: Uint8Array, fixed: number): void {
  if (p.strings) {
    w.byte(0x80 | fixed);
    w.bytes(fields);
    w.head(MAJOR_ARRAY, p.n);
    for (const s of p.strings) {
      w.head(MAJOR_TEXT, s.length);
      w.bytes(s);
    }
    return;
  }
  const tagLen = p.row.tag === null ? 0 : headLen(p.row.tag);
  const pos = w.len + 1 + fields.length + tagLen + headLen(p.length);
  const align = p.row.align;
  const s = (align - (pos % align)) % align;
  w.byte(0x80 | (fixed + (s > 0 ? 1 : 0)));
  w.bytes(fields);
  if (s > 0) {
    w.byte(0x40 | (s - 1));
    w.zeros(s - 1);
  }
  if (p.row.tag !== null) w.head(MAJOR_TAG, p.row.tag);
  w.head(MAJOR_BYTES, p.length);
  w.bytes(p.bytes!);
}

const MAGIC = Uint8Array.of(0xd9, 0xd9, 0xf7);

/** Encode one tensor as a tensor document (SPEC.md §5.1). */
export function encodeTensor(t: TensorInput): Uint8Array {
  const p = prepare(t);
  const fw = new Writer(16 + p.shape.length * 9);
  fw.byte(VERSION);
  writeHeader(fw, p);
  const w = new Writer(32 + p.length);
  w.bytes(MAGIC);
  w.head(MAJOR_TAG, TENSOR_TAG);
  writeArray(w, p, fw.result(), 4);
  return w.result();
}

function namedTensors(tensors: TensorsInput): [string, TensorInput][] {
  if (tensors instanceof Map) return [...tensors.entries()];
  if (Array.isArray(tensors)) return tensors.map(([n, t]) => [n, t]);
  return Object.keys(tensors).map((k) => [k, (tensors as { [name: string]: TensorInput })[k]!]);
}

/**
 * Encode a bundle document (SPEC.md §5.2): tensors in any order (written sorted by encoded name) and a metadata
 * map (integers as bigint, floats as number; written sorted by encoded key).
 */
export function encodeBundle(tensors: TensorsInput, metadata: MetaInput = new Map()): Uint8Array {
  const mw = new Writer();
  writeMetadata(mw, metadata);
  if (mw.len > MAX_METADATA_BYTES) encodeFail("METADATA_TOO_LARGE", "the encoded metadata exceeds 16 MiB (16777216 bytes)");
  const entries = namedTensors(tensors).map(([name, t]) => {
    if (typeof name !== "string" || !wellFormed(name)) encodeFail("INVALID_UTF8", "a tensor name is not well-formed text");
    const nb = utf8Bytes(name);
    if (nb.length === 0 || nb.length > MAX_NAME_BYTES) {
      encodeFail("INVALID_NAME", `tensor names are 1 to ${MAX_NAME_BYTES} bytes of UTF-8, got ${nb.length}`);
    }
    const kw = new Writer(nb.length + 9);
    kw.head(MAJOR_TEXT, nb.length);
    kw.bytes(nb);
    return { key: kw.result(), name, t };
  });
  entries.sort((a, b) => compareArrays(a.key, b.key));
  for (let i = 1; i < entries.length; i++) {
    if (compareArrays(entries[i - 1]!.key, entries[i]!.key) === 0) {
      encodeFail("DUPLICATE_NAME", `tensor name ${JSON.stringify(entries[i]!.name)} appears twice`);
    }
  }
  const prepared = entries.map((e) => prepare(e.t));
  let total = 0;
  for (const p of prepared) total += p.length + 32;
  const w = new Writer(64 + mw.len + entries.length * 48 + total);
  w.bytes(MAGIC);
  w.head(MAJOR_TAG, BUNDLE_TAG);
  w.byte(0x85);
  w.byte(VERSION);
  w.bytes(mw.result());
  w.head(MAJOR_ARRAY, entries.length);
  let pos = headLen(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const p = prepared[i]!;
    let offset: number;
    if (p.row.kind === "string") offset = pos + 1;
    else {
      const tagLen = p.row.tag === null ? 0 : headLen(p.row.tag);
      const unpadded = pos + 1 + tagLen + headLen(p.length);
      offset = unpadded + ((p.row.align - (unpadded % p.row.align)) % p.row.align);
    }
    w.byte(0x85);
    w.bytes(entries[i]!.key);
    writeHeader(w, p);
    w.head(MAJOR_UINT, offset);
    w.head(MAJOR_UINT, p.length);
    pos = offset + p.length;
  }
  const k = basePad(w.len);
  w.byte(0x40 | k);
  w.zeros(k);
  w.head(MAJOR_ARRAY, entries.length);
  const empty = new Uint8Array(0);
  for (const p of prepared) writeArray(w, p, empty, 1);
  return w.result();
}
