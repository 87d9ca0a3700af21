/**
 * Element access: zero-copy typed views where the format aligns the bytes, and bit-exact decoders for the
 * narrow float and packed integer types (SPEC.md §3, §4.4), as `ml_dtypes` defines them.
 */

import { HOST_LITTLE_ENDIAN } from "./cbor.js";
import type { Tensor } from "./tensor.js";

/** A typed view of a tensor's elements. */
export type ElementView =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ElementView;

/** The typed array class that views a dtype's elements in place (complex: interleaved real, imaginary). */
const VIEWS: Readonly<Record<string, [ViewCtor, number]>> = {
  float32: [Float32Array, 1],
  float64: [Float64Array, 1],
  uint8: [Uint8Array, 1],
  int8: [Int8Array, 1],
  uint16: [Uint16Array, 1],
  int16: [Int16Array, 1],
  int32: [Int32Array, 1],
  uint32: [Uint32Array, 1],
  int64: [BigInt64Array as unknown as ViewCtor, 1],
  uint64: [BigUint64Array as unknown as ViewCtor, 1],
  bool: [Uint8Array, 1],
  complex64: [Float32Array, 2],
  complex128: [Float64Array, 2],
  float16: [Uint16Array, 1],
  bfloat16: [Uint16Array, 1],
  complex32: [Uint16Array, 2],
};

/** `Float16Array` where the platform has it (browsers since 2025, Node 24), else undefined. */
export const Float16ArrayCtor: ViewCtor | undefined = (globalThis as { Float16Array?: ViewCtor }).Float16Array;

/**
 * The elements as a typed array over the document's bytes, without copying, when the element bytes are aligned
 * in memory (a document decoded from a buffer whose start is 8-byte aligned always is, SPEC.md §4.3); otherwise
 * over an aligned copy. float16 gives a Float16Array where the platform has one, else the raw Uint16Array bits
 * (use `toFloat32`); bfloat16 and complex32 give their Uint16Array bits; complex types interleave (re, im).
 * Packed, 8-bit float, block and string dtypes have no typed view: use `toFloat32` / `toInt8` / `bytes`.
 */
export function view(t: Tensor): ElementView {
  let spec = VIEWS[t.dtype];
  if (t.dtype === "float16" && Float16ArrayCtor) spec = [Float16ArrayCtor, 1];
  if (!spec) {
    throw new TypeError(`${t.dtype} has no typed view: use toFloat32(), toInt8() or the raw bytes`);
  }
  if (!HOST_LITTLE_ENDIAN && t.row.bits > 8) throw new TypeError("typed views need a little-endian host");
  const [Ctor, lanes] = spec;
  const width = t.row.bits / 8 / lanes;
  const b = t.bytes;
  const count = b.length / width;
  if (b.byteOffset % width === 0) return new Ctor(b.buffer, b.byteOffset, count);
  const copy = b.slice();
  return new Ctor(copy.buffer, 0, count);
}

/** Whether `view(t)` shares memory with the document (true for every aligned, viewable tensor). */
export function isZeroCopy(t: Tensor): boolean {
  const spec = VIEWS[t.dtype];
  return spec !== undefined && t.bytes.byteOffset % (t.row.bits / 8 / spec[1]) === 0;
}

// ---------------------------------------------------------------- bit-exact decoders to float32

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 bits of a small float format with `e` exponent and `m` mantissa bits. */
interface MiniFloat {
  e: number;
  m: number;
  bias: number;
  /** "ieee": all-ones exponent is inf/NaN; "fn": only all-ones is NaN (e4m3fn); "fnuz": 0x80 is the only NaN; "none": finite only. */
  special: "ieee" | "fn" | "fnuz" | "none";
}

const MINI: Readonly<Record<string, MiniFloat>> = {
  float8_e4m3fn: { e: 4, m: 3, bias: 7, special: "fn" },
  float8_e4m3fnuz: { e: 4, m: 3, bias: 8, special: "fnuz" },
  float8_e5m2: { e: 5, m: 2, bias: 15, special: "ieee" },
  float8_e5m2fnuz: { e: 5, m: 2, bias: 16, special: "fnuz" },
  float8_e4m3: { e: 4, m: 3, bias: 7, special: "ieee" },
  float8_e3m4: { e: 3, m: 4, bias: 3, special: "ieee" },
  float8_e4m3b11fnuz: { e: 4, m: 3, bias: 11, special: "fnuz" },
  float6_e2m3fn: { e: 2, m: 3, bias: 1, special: "none" },
  float6_e3m2fn: { e: 3, m: 2, bias: 3, special: "none" },
  float4_e2m1fn: { e: 2, m: 1, bias: 1, special: "none" },
};

const QNAN = 0x7fc00000;
/** The NaN ml_dtypes gives for the single NaN (0x80) of the fnuz formats: negative quiet NaN. */
const FNUZ_NAN = 0xffc00000;

/** float32 bits of one code of a small float format (exact: every such value is a float32). */
function miniBits(f: MiniFloat, code: number): number {
  const width = 1 + f.e + f.m;
  const signBit = 1 << (width - 1);
  const sign = code & signBit ? 0x80000000 : 0;
  const exp = (code >> f.m) & ((1 << f.e) - 1);
  const mant = code & ((1 << f.m) - 1);
  const emax = (1 << f.e) - 1;
  if (f.special === "fnuz" && code === signBit) return FNUZ_NAN;
  if (f.special === "ieee" && exp === emax) return (sign | (mant ? QNAN : 0x7f800000)) >>> 0;
  if (f.special === "fn" && exp === emax && mant === (1 << f.m) - 1) return (sign | QNAN) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign;
    F32[0] = mant * 2 ** (1 - f.bias - f.m);
    return (U32[0]! | sign) >>> 0;
  }
  return (sign | ((exp - f.bias + 127) << 23) | (mant << (23 - f.m))) >>> 0;
}

const TABLES = new Map<string, Uint32Array>();

/** All codes of a small float format as float32 bits (built once). */
function table(name: string): Uint32Array | undefined {
  let t = TABLES.get(name);
  if (!t) {
    const f = MINI[name];
    if (f === undefined) {
      if (name !== "float8_e8m0fnu") return undefined;
      t = new Uint32Array(256);
      for (let c = 0; c < 256; c++) t[c] = c === 255 ? QNAN : c === 0 ? 0x00400000 : c << 23; // 2^(c - 127)
    } else {
      const size = 1 << (1 + f.e + f.m);
      t = new Uint32Array(size);
      for (let c = 0; c < size; c++) t[c] = miniBits(f, c);
    }
    TABLES.set(name, t);
  }
  return t;
}

/** binary16 bits -> binary32 bits, exactly (NaN payloads kept in the top mantissa bits). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    let e = -14;
    let m = mant;
    while ((m & 0x400) === 0) {
      m <<= 1;
      e--;
    }
    return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
}

function u16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

/**
 * The elements as float32 values, with the float32 bits `ml_dtypes` gives (`astype(np.float32)`), NaNs included:
 * exact where float32 holds them (every float16, bfloat16, float8, float6 and
 * float4 value; NaN payloads of float16 and bfloat16 kept). complex32 gives interleaved (re, im). float32 is a copy
 * of the elements; float64 is rounded. Integer types convert by value.
 */
export function toFloat32(t: Tensor): Float32Array {
  const b = t.bytes;
  const n = t.size;
  const name = t.dtype;
  if (name === "float16" || name === "complex32" || name === "bfloat16") {
    const count = b.length / 2;
    const out = new Float32Array(count);
    const bits = new Uint32Array(out.buffer);
    if (name === "bfloat16") for (let i = 0; i < count; i++) bits[i] = u16(b, 2 * i) << 16 >>> 0;
    else for (let i = 0; i < count; i++) bits[i] = f16BitsToF32Bits(u16(b, 2 * i));
    return out;
  }
  const tab = table(name);
  if (tab) {
    const out = new Float32Array(n);
    const bits = new Uint32Array(out.buffer);
    const w = t.row.bits;
    if (w === 8) for (let i = 0; i < n; i++) bits[i] = tab[b[i]!]!;
    else unpack(b, w, n, (i, c) => (bits[i] = tab[c]!));
    return out;
  }
  if (name === "float32") return new Float32Array(view(t) as Float32Array);
  const v = view(t);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!);
  return out;
}

/** Call `each(i, code)` for the n codes of a packed bit stream of `bits`-bit elements (SPEC.md §4.4). */
function unpack(b: Uint8Array, bits: number, n: number, each: (i: number, code: number) => void): void {
  const mask = (1 << bits) - 1;
  for (let i = 0; i < n; i++) {
    const k = i * bits;
    const byte = k >> 3;
    const shift = k & 7;
    const word = b[byte]! | ((b[byte + 1] ?? 0) << 8);
    each(i, (word >> shift) & mask);
  }
}

/** int4 / int2 elements as Int8Array (sign-extended), uint4 / uint2 as Uint8Array; int8 / uint8 views. */
export function toInt8(t: Tensor): Int8Array | Uint8Array {
  const name = t.dtype;
  if (name === "int8" || name === "uint8") return view(t) as Int8Array | Uint8Array;
  const bits = t.row.bits;
  if (!(name === "int4" || name === "uint4" || name === "int2" || name === "uint2")) {
    throw new TypeError(`${name} is not a packed integer type`);
  }
  const n = t.size;
  if (name.startsWith("u")) {
    const out = new Uint8Array(n);
    unpack(t.bytes, bits, n, (i, c) => (out[i] = c));
    return out;
  }
  const out = new Int8Array(n);
  const top = 1 << (bits - 1);
  unpack(t.bytes, bits, n, (i, c) => (out[i] = c >= top ? c - 2 * top : c));
  return out;
}

/** Pack small codes (each below 2^bits) into the bit stream of SPEC.md §4.4: the wire bytes of a packed tensor. */
export function packBits(codes: ArrayLike<number>, bits: 2 | 4 | 6): Uint8Array {
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  const mask = (1 << bits) - 1;
  for (let i = 0; i < codes.length; i++) {
    const k = i * bits;
    const v = (codes[i]! & mask) << (k & 7);
    out[k >> 3]! |= v & 0xff;
    if (v > 0xff) out[(k >> 3) + 1]! |= v >> 8;
  }
  return out;
}
