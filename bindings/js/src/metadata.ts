/**
 * Metadata (SPEC.md §6): strict validation, the decoded values, and the deterministic encoding.
 *
 * Integers are `bigint` (the full range -2^64 .. 2^64 - 1) and floats are `number`, so the two stay distinct as
 * §6.2 rule 6 requires; maps are `Map`s in wire order (no prototype keys such as `__proto__` can leak in).
 */

import {
  floatEncoding,
  floatValue,
  type Head,
  MAJOR_ARRAY,
  MAJOR_BYTES,
  MAJOR_MAP,
  MAJOR_NINT,
  MAJOR_TAG,
  MAJOR_TEXT,
  MAJOR_UINT,
  Reader,
  Writer,
} from "./cbor.js";
import { encodeFail, fail } from "./errors.js";
import { invalidUtf8At, utf8Bytes } from "./utf8.js";

/** A metadata value. */
export type MetaValue = bigint | number | string | Uint8Array | boolean | null | MetaValue[] | MetaMap;
/** A metadata map; keys are text. */
export type MetaMap = Map<string, MetaValue>;
/** What encoders accept for a map: a `Map` or a plain object (its own enumerable keys). */
export type MetaInput = MetaMap | { [key: string]: MetaValue | MetaInputObject };
interface MetaInputObject {
  [key: string]: MetaValue | MetaInputObject;
}

/** Arrays and maps nest at most this deep; the metadata map itself is level 1. */
export const MAX_NESTING = 32;
/** The encoded metadata map may be at most this long (16 MiB). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

const INT_MIN = -(1n << 64n);
const INT_MAX = (1n << 64n) - 1n;

/** Validate the metadata map whose head `mh` was just read (bundle step 6); returns [start, end) of its bytes. */
export function readMetadata(r: Reader, mh: Head): [number, number] {
  const m0 = mh.start;
  checkSize(r, mh, m0);
  if (mh.major !== MAJOR_MAP) fail(mh.major === MAJOR_TAG ? "UNEXPECTED_TAG" : "UNEXPECTED_TYPE", mh.start);
  checkMap(r, mh.arg, 1, m0);
  return [m0, r.pos];
}

/** METADATA_TOO_LARGE as soon as a head (plus a string's claimed content) reaches past 16 MiB from `m0`. */
function checkSize(r: Reader, h: Head, m0: number): void {
  const content = h.major === MAJOR_TEXT || h.major === MAJOR_BYTES ? h.arg : 0;
  if (content > MAX_METADATA_BYTES || r.pos - m0 + (content as number) > MAX_METADATA_BYTES) {
    fail("METADATA_TOO_LARGE", h.start);
  }
}

function compareBytes(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const d = b[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return la - lb;
}

function checkMap(r: Reader, count: number | bigint, depth: number, m0: number): void {
  let p0 = -1;
  let p1 = -1;
  for (let i = 0; i < count; i++) {
    const h = r.head();
    checkSize(r, h, m0);
    if (h.major !== MAJOR_TEXT) fail("UNSUPPORTED_VALUE", h.start);
    r.textRange(h);
    if (p0 >= 0) {
      const c = compareBytes(r.buf, p0, p1, h.start, r.pos);
      if (c === 0) fail("DUPLICATE_KEY", h.start);
      if (c > 0) fail("UNSORTED_KEYS", h.start);
    }
    p0 = h.start;
    p1 = r.pos;
    checkValue(r, depth + 1, m0);
  }
}

function checkValue(r: Reader, depth: number, m0: number): void {
  const h = r.head();
  checkSize(r, h, m0);
  switch (h.major) {
    case MAJOR_UINT:
    case MAJOR_NINT:
      return;
    case MAJOR_BYTES:
      r.take(h.arg);
      return;
    case MAJOR_TEXT:
      r.textRange(h);
      return;
    case MAJOR_ARRAY:
    case MAJOR_MAP:
      if (depth > MAX_NESTING) fail("NESTING_TOO_DEEP", h.start);
      if (h.major === MAJOR_MAP) {
        checkMap(r, h.arg, depth, m0);
        return;
      }
      for (let i = 0; i < h.arg; i++) checkValue(r, depth + 1, m0);
      return;
    case MAJOR_TAG:
      fail("UNSUPPORTED_VALUE", h.start);
    default:
      if (h.ai >= 20 && h.ai <= 22) return;
      if (h.ai >= 25 && h.ai <= 27) {
        const canon = floatEncoding(floatValue(r.buf, h.ai, h.start + 1));
        if (r.pos - h.start !== canon.length || !sameBytes(canon, r.buf, h.start)) {
          fail("NON_CANONICAL_FLOAT", h.start);
        }
        return;
      }
      fail("UNSUPPORTED_VALUE", h.start);
  }
}

function sameBytes(want: Uint8Array, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < want.length; i++) if (b[at + i] !== want[i]) return false;
  return true;
}

/** Build the values of validated metadata bytes `buf[start, end)` (a map). */
export function buildMetadata(buf: Uint8Array, start: number): MetaMap {
  const r = new Reader(buf, start);
  const h = r.head();
  return buildMap(r, h.arg as number);
}

function buildMap(r: Reader, count: number): MetaMap {
  const m: MetaMap = new Map();
  for (let i = 0; i < count; i++) {
    const key = r.text(r.head());
    m.set(key, buildValue(r));
  }
  return m;
}

function buildValue(r: Reader): MetaValue {
  const h = r.head();
  switch (h.major) {
    case MAJOR_UINT:
      return BigInt(h.arg);
    case MAJOR_NINT:
      return -1n - BigInt(h.arg);
    case MAJOR_BYTES: {
      const s = r.take(h.arg);
      return r.buf.slice(s, r.pos);
    }
    case MAJOR_TEXT:
      return r.text(h);
    case MAJOR_ARRAY: {
      const items: MetaValue[] = [];
      for (let i = 0; i < (h.arg as number); i++) items.push(buildValue(r));
      return items;
    }
    case MAJOR_MAP:
      return buildMap(r, h.arg as number);
    default:
      if (h.ai === 20) return false;
      if (h.ai === 21) return true;
      if (h.ai === 22) return null;
      return floatValue(r.buf, h.ai, h.start + 1);
  }
}

function isMetaMap(v: unknown): v is MetaMap {
  return v instanceof Map;
}

/** Entries of a metadata map input, in insertion order. */
function entriesOf(m: MetaInput): [string, MetaValue | MetaInputObject][] {
  if (isMetaMap(m)) return [...m.entries()];
  return Object.keys(m).map((k) => [k, (m as Record<string, MetaValue | MetaInputObject>)[k]!]);
}

/** Append the deterministic encoding of a metadata map (keys sorted bytewise by their encodings). */
export function writeMetadata(w: Writer, m: MetaInput, depth = 1): void {
  if (depth > MAX_NESTING) encodeFail("NESTING_TOO_DEEP", `metadata nests deeper than ${MAX_NESTING} levels`);
  const entries = entriesOf(m).map(([k, v]) => {
    if (typeof k !== "string") encodeFail("UNSUPPORTED_VALUE", "metadata keys must be text");
    const kw = new Writer(k.length + 9);
    writeText(kw, k);
    return { key: kw.result(), value: v, name: k };
  });
  entries.sort((a, b) => compareArrays(a.key, b.key));
  for (let i = 1; i < entries.length; i++) {
    if (compareArrays(entries[i - 1]!.key, entries[i]!.key) === 0) {
      encodeFail("DUPLICATE_KEY", `metadata key ${JSON.stringify(entries[i]!.name)} appears twice`);
    }
  }
  w.head(MAJOR_MAP, entries.length);
  for (const e of entries) {
    w.bytes(e.key);
    writeValue(w, e.value, depth + 1);
  }
}

export function compareArrays(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether a JS string is well-formed UTF-16 (no lone surrogates), so that it has a UTF-8 encoding. */
export function wellFormed(s: string): boolean {
  const f = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (f) return f.call(s);
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

export function writeText(w: Writer, s: string): void {
  if (!wellFormed(s)) encodeFail("INVALID_UTF8", `text ${JSON.stringify(s.slice(0, 40))} holds a lone surrogate`);
  const b = utf8Bytes(s);
  if (invalidUtf8At(b, 0, b.length) >= 0) encodeFail("INVALID_UTF8", "text is not valid UTF-8");
  w.head(MAJOR_TEXT, b.length);
  w.bytes(b);
}

function writeValue(w: Writer, v: MetaValue | MetaInputObject, depth: number): void {
  if (v === null) w.byte(0xf6);
  else if (v === true) w.byte(0xf5);
  else if (v === false) w.byte(0xf4);
  else if (typeof v === "bigint") {
    if (v < INT_MIN || v > INT_MAX) encodeFail("UNSUPPORTED_VALUE", `integer ${v} is outside -2^64 .. 2^64 - 1`);
    if (v >= 0n) w.head(MAJOR_UINT, v);
    else w.head(MAJOR_NINT, -1n - v);
  } else if (typeof v === "number") w.bytes(floatEncoding(v));
  else if (typeof v === "string") writeText(w, v);
  else if (v instanceof Uint8Array) {
    w.head(MAJOR_BYTES, v.length);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    if (depth > MAX_NESTING) encodeFail("NESTING_TOO_DEEP", `metadata nests deeper than ${MAX_NESTING} levels`);
    w.head(MAJOR_ARRAY, v.length);
    for (const x of v) writeValue(w, x, depth + 1);
  } else if (isMetaMap(v) || (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)) {
    writeMetadata(w, v as MetaInput, depth);
  } else {
    encodeFail("UNSUPPORTED_VALUE", `metadata cannot hold ${typeof v} values (integers are bigint, floats number)`);
  }
}

/** The deterministic encoding of a metadata map on its own. */
export function encodeMetadata(m: MetaInput): Uint8Array {
  const w = new Writer();
  writeMetadata(w, m);
  if (w.len > MAX_METADATA_BYTES) encodeFail("METADATA_TOO_LARGE", "the encoded metadata exceeds 16 MiB");
  return w.result();
}
