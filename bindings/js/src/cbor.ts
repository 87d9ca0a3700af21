/** CBOR heads (RFC 8949 §3) with the strict checks of SPEC.md §7.1, and the deterministic writer. */

import { fail } from "./errors.js";
import { invalidUtf8At, utf8Text } from "./utf8.js";

export const MAJOR_UINT = 0;
export const MAJOR_NINT = 1;
export const MAJOR_BYTES = 2;
export const MAJOR_TEXT = 3;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
export const MAJOR_TAG = 6;
export const MAJOR_SIMPLE = 7;

/** A head argument: a number when it is at most 2^53 - 1 (exact), else a bigint. Mixed comparisons are exact. */
export type Arg = number | bigint;

/** One head: major type, additional information, argument, where it started. */
export interface Head {
  major: number;
  ai: number;
  arg: Arg;
  start: number;
}

const TWO32 = 0x1_0000_0000;

/** A cursor over a document; every read is bounds-checked and failures are typed errors. */
export class Reader {
  readonly buf: Uint8Array;
  pos: number;

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.pos = Math.min(pos, buf.length);
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Read a head with the generic checks (TRUNCATED, MALFORMED, INDEFINITE_LENGTH, NON_SHORTEST_HEAD). */
  head(): Head {
    const b = this.buf;
    const start = this.pos;
    if (start >= b.length) fail("TRUNCATED", start, start + 1);
    const ib = b[start]!;
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai < 24) {
      this.pos = start + 1;
      return { major, ai, arg: ai, start };
    }
    if (ai > 27) fail(ai === 31 && major >= MAJOR_BYTES && major <= MAJOR_MAP ? "INDEFINITE_LENGTH" : "MALFORMED", start);
    const size = 1 << (ai - 24);
    if (b.length - start < 1 + size) fail("TRUNCATED", start, start + 1 + size);
    let arg: Arg;
    let min: number;
    if (ai === 24) {
      arg = b[start + 1]!;
      min = 24;
    } else if (ai === 25) {
      arg = (b[start + 1]! << 8) | b[start + 2]!;
      min = 0x100;
    } else if (ai === 26) {
      arg = ((b[start + 1]! << 24) >>> 0) + ((b[start + 2]! << 16) | (b[start + 3]! << 8) | b[start + 4]!);
      min = 0x1_0000;
    } else {
      const hi = ((b[start + 1]! << 24) >>> 0) + ((b[start + 2]! << 16) | (b[start + 3]! << 8) | b[start + 4]!);
      const lo = ((b[start + 5]! << 24) >>> 0) + ((b[start + 6]! << 16) | (b[start + 7]! << 8) | b[start + 8]!);
      arg = hi < 0x20_0000 ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
      min = TWO32;
    }
    this.pos = start + 1 + size;
    if (major === MAJOR_SIMPLE) {
      if (ai === 24 && (arg as number) < 32) fail("MALFORMED", start);
    } else if (arg < min) {
      fail("NON_SHORTEST_HEAD", start);
    }
    return { major, ai, arg, start };
  }

  /** Read a head and expect `major` (a tag is UNEXPECTED_TAG, another type UNEXPECTED_TYPE). */
  expect(major: number): Head {
    const h = this.head();
    if (h.major !== major) fail(h.major === MAJOR_TAG ? "UNEXPECTED_TAG" : "UNEXPECTED_TYPE", h.start);
    return h;
  }

  /** Take `len` content bytes: their start (TRUNCATED, at the first content byte, if they are not all present). */
  take(len: Arg): number {
    if (len > this.buf.length - this.pos) {
      fail("TRUNCATED", this.pos, typeof len === "number" ? this.pos + len : undefined);
    }
    const start = this.pos;
    this.pos += len as number;
    return start;
  }

  /** Validate the content of a text string whose head was just read; returns [start, end) (TRUNCATED, INVALID_UTF8). */
  textRange(h: Head): number {
    const start = this.take(h.arg);
    const bad = invalidUtf8At(this.buf, start, this.pos);
    if (bad >= 0) fail("INVALID_UTF8", bad);
    return start;
  }

  /** The content of a text string whose head was just read. */
  text(h: Head): string {
    const start = this.textRange(h);
    return utf8Text(this.buf, start, this.pos);
  }
}

/** Length of the shortest head for `arg`. */
export function headLen(arg: Arg): number {
  if (arg < 24) return 1;
  if (arg <= 0xff) return 2;
  if (arg <= 0xffff) return 3;
  if (arg <= 0xffff_ffff) return 5;
  return 9;
}

/** A growable byte buffer for the encoders. */
export class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  zeros(n: number): void {
    this.room(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }

  /** The shortest head for (major, argument). */
  head(major: number, arg: Arg): void {
    const mt = major << 5;
    this.room(9);
    const b = this.buf;
    if (typeof arg === "bigint") {
      if (arg < 0n || arg > 0xffff_ffff_ffff_ffffn) throw new RangeError("CBOR argument out of range");
      if (arg <= BigInt(Number.MAX_SAFE_INTEGER)) {
        this.head(major, Number(arg));
        return;
      }
      b[this.len++] = mt | 27;
      for (let s = 56n; s >= 0n; s -= 8n) b[this.len++] = Number((arg >> s) & 0xffn);
      return;
    }
    if (arg < 24) b[this.len++] = mt | arg;
    else if (arg <= 0xff) {
      b[this.len++] = mt | 24;
      b[this.len++] = arg;
    } else if (arg <= 0xffff) {
      b[this.len++] = mt | 25;
      b[this.len++] = arg >> 8;
      b[this.len++] = arg & 0xff;
    } else if (arg <= 0xffff_ffff) {
      b[this.len++] = mt | 26;
      b[this.len++] = (arg >>> 24) & 0xff;
      b[this.len++] = (arg >>> 16) & 0xff;
      b[this.len++] = (arg >>> 8) & 0xff;
      b[this.len++] = arg & 0xff;
    } else {
      const hi = Math.floor(arg / TWO32);
      const lo = arg - hi * TWO32;
      b[this.len++] = mt | 27;
      b[this.len++] = (hi >>> 24) & 0xff;
      b[this.len++] = (hi >>> 16) & 0xff;
      b[this.len++] = (hi >>> 8) & 0xff;
      b[this.len++] = hi & 0xff;
      b[this.len++] = (lo >>> 24) & 0xff;
      b[this.len++] = (lo >>> 16) & 0xff;
      b[this.len++] = (lo >>> 8) & 0xff;
      b[this.len++] = lo & 0xff;
    }
  }

  /** The bytes written (a view of the buffer, no copy). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

const F64 = new Float64Array(1);
const F64_U8 = new Uint8Array(F64.buffer);
const F32 = new Float32Array(1);
const F32_U32 = new Uint32Array(F32.buffer);
const F64_U32 = new Uint32Array(F64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** binary16 bits -> its exact value. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** The binary16 bits of `x` when binary16 holds it exactly (NaN excluded), else -1. */
export function numberToF16Exact(x: number): number {
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  if (x === Infinity) return 0x7c00;
  if (x === -Infinity) return 0xfc00;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a > 65504 || a < 2 ** -24) return -1;
  if (a < 2 ** -14) {
    const m = a * 2 ** 24; // subnormal: m * 2^-24
    return Number.isInteger(m) ? sign | m : -1;
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const m = a * 2 ** (10 - e); // in [1024, 2048)
  if (!Number.isInteger(m)) return -1;
  return sign | ((e + 15) << 10) | (m - 1024);
}

/** The one deterministic encoding of a metadata float (SPEC.md §6.2 rules 4-5). */
export function floatEncoding(x: number): Uint8Array {
  if (Number.isNaN(x)) return Uint8Array.of(0xf9, 0x7e, 0x00);
  const h = numberToF16Exact(x);
  if (h >= 0) return Uint8Array.of(0xf9, h >> 8, h & 0xff);
  if (Math.fround(x) === x) {
    F32[0] = x;
    const u = F32_U32[0]!;
    return Uint8Array.of(0xfa, u >>> 24, (u >>> 16) & 0xff, (u >>> 8) & 0xff, u & 0xff);
  }
  F64[0] = x;
  const out = new Uint8Array(9);
  out[0] = 0xfb;
  for (let i = 0; i < 8; i++) out[1 + i] = F64_U8[LITTLE ? 7 - i : i]!;
  return out;
}

/** The value of a float head (ai 25, 26, 27) whose argument bytes are at `b[at, at + size)`. */
export function floatValue(b: Uint8Array, ai: number, at: number): number {
  if (ai === 25) return f16ToNumber((b[at]! << 8) | b[at + 1]!);
  if (ai === 26) {
    F32_U32[0] = ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
    return F32[0]!;
  }
  const hi = ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  const lo = ((b[at + 4]! << 24) >>> 0) + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
  F64_U32[LITTLE ? 1 : 0] = hi;
  F64_U32[LITTLE ? 0 : 1] = lo;
  return F64[0]!;
}

/** Whether the host stores typed-array elements little endian (every mainstream engine does). */
export const HOST_LITTLE_ENDIAN = LITTLE;
