/** The strict decoder of SPEC.md §7.1 and §7.2: every check in order, first failure reported with its offset. */

import { type Arg, type Head, headLen, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT, Reader } from "./cbor.js";
import { dataLength, dtypeByCode, isPacked, MAX_RANK, MAX_SIZE, shapeOk } from "./dtypes.js";
import { fail } from "./errors.js";
import { type DTypeRow, FORMAT_VERSION } from "./generated.js";
import { buildMetadata, type MetaMap, readMetadata } from "./metadata.js";
import { Tensor } from "./tensor.js";

export const TENSOR_TAG = 52084;
export const BUNDLE_TAG = 52066;
export const COMPRESSED_TAG = 52090;
export const VERSION = FORMAT_VERSION;
/** Tensor names are 1 to this many bytes of UTF-8. */
export const MAX_NAME_BYTES = 4096;

/** Anything holding document bytes; the result views the same memory. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;

export function asBytes(data: Bytes): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Decode a tensor document strictly (SPEC.md §5.1, §7.1, §7.2). The element bytes are a view, not a copy. */
export function decodeTensor(data: Bytes): Tensor {
  const r = new Reader(asBytes(data));
  openDocument(r, TENSOR_TAG);
  const h = openArray(r);
  if (h.arg !== 4 && h.arg !== 5) fail("UNEXPECTED_TYPE", h.start);
  const [row, shape, n] = readHeader(r);
  const t = readBody(r, row, shape, n, h.arg === 5);
  checkElements(t, n);
  closeDocument(r);
  return t;
}

/** A decoded bundle: metadata and named tensors, both in wire order (tensors sorted by encoded name). */
export class Bundle {
  /** B, the offset of the tensors array head (a multiple of 8); directory offsets count from it. */
  readonly base: number;
  /** The tensors in wire order. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  private readonly buf: Uint8Array;
  private readonly metaStart: number;
  private meta: MetaMap | null = null;

  constructor(buf: Uint8Array, metaStart: number, base: number, tensors: Map<string, Tensor>) {
    this.buf = buf;
    this.metaStart = metaStart;
    this.base = base;
    this.tensors = tensors;
  }

  /** The metadata map, built on first access (integers bigint, floats number). */
  get metadata(): MetaMap {
    this.meta ??= buildMetadata(this.buf, this.metaStart);
    return this.meta;
  }

  /** The tensor called `name`. */
  get(name: string): Tensor | undefined {
    return this.tensors.get(name);
  }

  /** Tensor names in wire order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }
}

/** Decode a bundle document strictly (SPEC.md §5.2, §7.1, §7.2); element bytes are views of `data`. */
export function decodeBundle(data: Bytes): Bundle {
  const r = new Reader(asBytes(data));
  const p = readBundlePrefix(r);
  const base = r.pos - headLen(p.entries.length);
  const tensors = new Map<string, Tensor>();
  for (const e of p.entries) {
    const t = readItem(r, e);
    checkElements(t, e.n);
    tensors.set(e.name, t);
  }
  closeDocument(r);
  return new Bundle(r.buf, p.metaStart, base, tensors);
}

/** One directory entry, as `readLayout` reports it: absolute byte range of the tensor's data. */
export interface LayoutEntry {
  name: string;
  dtype: string;
  row: DTypeRow;
  shape: readonly number[];
  /** Offset of the element bytes (for `string`: of the encoded string array) from the document start. */
  offset: number;
  /** Their length in bytes. */
  length: number;
}

/** A bundle's layout from its prefix [0, B). */
export interface Layout {
  /** B: the data base, a multiple of 8; the prefix a reader needs is exactly [0, B + 1 + ...) up to it. */
  base: number;
  /** The number of bytes of the prefix that were read: B plus the tensors array head. */
  prefixLength: number;
  metadata: MetaMap;
  entries: LayoutEntry[];
}

/**
 * The layout of a bundle from a prefix of it (SPEC.md §5.2 "Reading the layout alone"): every check up to the
 * tensors array head, then each entry's absolute byte range. Nothing past the data base is read. A prefix that is
 * too short fails with `TRUNCATED` whose `needed` (when known) is how many bytes to supply at least.
 */
export function readLayout(prefix: Bytes): Layout {
  const r = new Reader(asBytes(prefix));
  const p = readBundlePrefix(r);
  const base = r.pos - headLen(p.entries.length);
  const entries: LayoutEntry[] = [];
  for (const e of p.entries) {
    const end = add(add(base, e.offset), e.length);
    if (typeof end !== "number") fail("SIZE_OVERFLOW", 0); // a range past 2^53 - 1 bytes: no real file
    entries.push({ name: e.name, dtype: e.row.name, row: e.row, shape: e.shape, offset: base + (e.offset as number),
      length: e.length as number });
  }
  return { base, prefixLength: r.pos, metadata: buildMetadata(r.buf, p.metaStart), entries };
}

/** A directory entry: name, dtype, shape, element count and the layout (relative to B). */
export interface Entry {
  name: string;
  row: DTypeRow;
  shape: number[];
  n: number;
  /** Relative to B (exact; a bigint only past 2^53 - 1). */
  offset: Arg;
  length: Arg;
}

export interface BundlePrefix {
  metaStart: number;
  entries: Entry[];
}

/** Magic, version, metadata, directory, pad and the tensors array head (bundle steps 1-8 and 9's head). */
export function readBundlePrefix(r: Reader): BundlePrefix {
  openDocument(r, BUNDLE_TAG);
  const h = openArray(r);
  if (h.arg !== 5) fail("UNEXPECTED_TYPE", h.start);
  const mh = r.head();
  const [metaStart] = readMetadata(r, mh);
  const entries = readDirectory(r);
  const ph = r.expect(MAJOR_BYTES);
  const body = r.take(ph.arg);
  for (let i = body; i < r.pos; i++) if (r.buf[i] !== 0) fail("BAD_PADDING", ph.start);
  if (ph.arg !== basePad(ph.start)) fail("BAD_PADDING", ph.start);
  const th = r.expect(MAJOR_ARRAY);
  if (th.arg !== entries.length) fail("DIRECTORY_MISMATCH", th.start);
  return { metaStart, entries };
}

/** The number of zero bytes of the bundle's pad item when its head is at `pos`. */
export function basePad(pos: number): number {
  return (8 - ((pos + 1) % 8)) % 8;
}

/**
 * Where the bytes an entry locates start, for an item whose array head is at relative position `start` (exact:
 * numbers while every value stays below 2^53, bigints beyond).
 */
export function itemOffset(start: Arg, row: DTypeRow, length: Arg): Arg {
  const heads = row.kind === "string" ? 1 : 1 + (row.tag === null ? 0 : headLen(row.tag)) + headLen(length);
  const align = row.kind === "string" ? 1 : row.align;
  if (typeof start === "number") {
    const unpadded = start + heads;
    const offset = unpadded + ((align - (unpadded % align)) % align);
    if (Number.isSafeInteger(offset)) return offset;
  }
  const unpadded = BigInt(start) + BigInt(heads);
  const a = BigInt(align);
  return unpadded + ((a - (unpadded % a)) % a);
}

/** a + b, exactly. */
function add(a: Arg, b: Arg): Arg {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  return BigInt(a) + BigInt(b);
}

function readDirectory(r: Reader): Entry[] {
  const dh = r.expect(MAJOR_ARRAY);
  const entries: Entry[] = [];
  let prevStart = -1;
  let prevEnd = -1;
  let pos: Arg = headLen(dh.arg);
  for (let i = 0; i < dh.arg; i++) {
    const eh = r.expect(MAJOR_ARRAY);
    if (eh.arg !== 5 && eh.arg !== 7) fail("UNEXPECTED_TYPE", eh.start);
    const nh = r.expect(MAJOR_TEXT);
    const name = r.text(nh);
    if (nh.arg === 0 || nh.arg > MAX_NAME_BYTES) fail("INVALID_NAME", nh.start);
    if (prevStart >= 0) {
      const c = compareRange(r.buf, prevStart, prevEnd, nh.start, r.pos);
      if (c === 0) fail("DUPLICATE_NAME", nh.start);
      if (c > 0) fail("UNSORTED_KEYS", nh.start);
    }
    prevStart = nh.start;
    prevEnd = r.pos;
    const [row, shape, n] = readHeader(r);
    const oh = r.expect(MAJOR_UINT);
    const lh = r.expect(MAJOR_UINT);
    if (eh.arg === 7) fail(row.kind === "string" ? "INVALID_COMPRESSION" : "UNSUPPORTED_COMPRESSION", r.pos);
    if (row.kind !== "string" && lh.arg != dataLength(row, n)) fail("SHAPE_MISMATCH", lh.start);
    const offset = itemOffset(pos, row, lh.arg);
    if (offset != oh.arg) fail("DIRECTORY_MISMATCH", oh.start);
    pos = add(oh.arg, lh.arg);
    entries.push({ name, row, shape, n, offset: oh.arg, length: lh.arg });
  }
  return entries;
}

function compareRange(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const d = b[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return la - lb;
}

/** Steps 1-2: the self-described CBOR tag, then the document tag. */
export function openDocument(r: Reader, want: number): void {
  const b = r.buf;
  if (b.length < 3 && (b.length === 0 || b[0] === 0xd9) && (b.length < 2 || b[1] === 0xd9)) fail("TRUNCATED", 0, 3);
  if (b[0] !== 0xd9 || b[1] !== 0xd9 || b[2] !== 0xf7) fail("BAD_MAGIC", 0);
  r.pos = 3;
  const h = r.head();
  if (h.major !== MAJOR_TAG || h.arg !== want) fail("BAD_MAGIC", h.start);
}

/** Steps 3-4: a non-empty array, then version 1 (the caller judges the length after the version). */
export function openArray(r: Reader): Head {
  const h = r.expect(MAJOR_ARRAY);
  if (h.arg === 0) fail("UNEXPECTED_TYPE", h.start);
  const v = r.expect(MAJOR_UINT);
  if (v.arg !== VERSION) fail("UNSUPPORTED_VERSION", v.start);
  return h;
}

export function closeDocument(r: Reader): void {
  if (r.remaining() !== 0) fail("TRAILING_BYTES", r.pos);
}

/** F1-F2: dtype and shape; returns them and the element count n. */
export function readHeader(r: Reader): [DTypeRow, number[], number] {
  const dh = r.expect(MAJOR_UINT);
  const row = dtypeByCode(dh.arg);
  if (!row) fail("UNKNOWN_DTYPE", dh.start);
  const sh = r.expect(MAJOR_ARRAY);
  if (sh.arg > MAX_RANK) fail("RANK_TOO_LARGE", sh.start);
  const rank = sh.arg as number;
  const shape: number[] = [];
  let nonzero = 1;
  let zero = false;
  for (let i = 0; i < rank; i++) {
    const d = r.expect(MAJOR_UINT);
    if (d.arg === 0) zero = true;
    else {
      if (typeof d.arg !== "number") fail("SIZE_OVERFLOW", d.start);
      const p = nonzero * d.arg; // exact while the true product is at most 2^53 - 1
      if (p > MAX_SIZE) fail("SIZE_OVERFLOW", d.start);
      nonzero = p;
    }
    shape.push(d.arg as number);
  }
  if (!shapeOk(row, shape)) fail("SHAPE_MISMATCH", sh.start);
  return [row, shape, zero ? 0 : nonzero];
}

/** F3-F6 for n elements: optional padding, then the data (or the string array). */
function readBody(r: Reader, row: DTypeRow, shape: number[], n: number, padded: boolean): Tensor {
  let padLen = 0;
  if (padded) {
    const ph = r.expect(MAJOR_BYTES);
    const body = r.take(ph.arg);
    for (let i = body; i < r.pos; i++) if (r.buf[i] !== 0) fail("BAD_PADDING", ph.start);
    padLen = r.pos - ph.start;
  }
  if (row.kind === "string") {
    if (padded) fail("BAD_PADDING", r.pos - padLen);
    const ah = r.expect(MAJOR_ARRAY);
    if (ah.arg !== n) fail("SHAPE_MISMATCH", ah.start);
    const strings: string[] = [];
    for (let i = 0; i < n; i++) strings.push(r.text(r.expect(MAJOR_TEXT)));
    return new Tensor(row, shape, r.buf.subarray(ah.start, ah.start), strings, ah.start);
  }
  const dataStart = r.pos;
  let h = r.head();
  if (h.major === MAJOR_TAG && h.arg === COMPRESSED_TAG) fail("UNSUPPORTED_COMPRESSION", h.start);
  if (row.tag !== null) {
    if (h.major !== MAJOR_TAG || h.arg !== row.tag) fail("UNEXPECTED_TAG", dataStart);
    h = r.head();
  }
  if (h.major !== MAJOR_BYTES) fail(h.major === MAJOR_TAG ? "UNEXPECTED_TAG" : "UNEXPECTED_TYPE", dataStart);
  const align = row.align;
  const unpadded = r.pos - padLen;
  if (padLen !== (align - (unpadded % align)) % align) fail("BAD_PADDING", dataStart);
  if (h.arg != dataLength(row, n)) fail("SHAPE_MISMATCH", dataStart);
  const at = r.take(h.arg);
  return new Tensor(row, shape, r.buf.subarray(at, r.pos), null, at);
}

/** One bundle item `[?pad, data]` for a directory entry (F3-F6, then agreement with the entry). */
export function readItem(r: Reader, e: Entry): Tensor {
  const ih = r.expect(MAJOR_ARRAY);
  if (ih.arg !== 1 && ih.arg !== 2) fail("UNEXPECTED_TYPE", ih.start);
  const t = readBody(r, e.row, e.shape, e.n, ih.arg === 2);
  if (e.row.kind === "string" && r.pos - t.offset !== e.length) fail("DIRECTORY_MISMATCH", ih.start);
  return t;
}

/** §7.2: bool bytes are 0 or 1; unused bits after the last packed element are zero. */
export function checkElements(t: Tensor, n: number): void {
  const b = t.bytes;
  if (t.row.kind === "bool") {
    for (let i = 0; i < b.length; i++) if (b[i]! > 1) fail("INVALID_ELEMENT", t.offset + i);
  } else if (isPacked(t.row) && b.length > 0) {
    const used = ((n % 8) * t.row.bits) % 8;
    if (used !== 0 && b[b.length - 1]! >> used !== 0) fail("INVALID_ELEMENT", t.offset + b.length - 1);
  }
}

/**
 * A tensor from the bytes a directory entry locates (fetched by range from a bundle whose prefix passed
 * `readLayout`): checks their length, the element rules of §7.2 and, for `string`, the string array.
 */
export function tensorFromRange(entry: LayoutEntry, data: Bytes): Tensor {
  const bytes = asBytes(data);
  if (bytes.length !== entry.length) fail("SHAPE_MISMATCH", entry.offset);
  const n = entry.shape.reduce((a, d) => a * d, 1);
  if (entry.row.kind === "string") {
    const r = new Reader(bytes);
    const ah = r.expect(MAJOR_ARRAY);
    if (ah.arg !== n) fail("SHAPE_MISMATCH", entry.offset);
    const strings: string[] = [];
    for (let i = 0; i < n; i++) strings.push(r.text(r.expect(MAJOR_TEXT)));
    if (r.remaining() !== 0) fail("DIRECTORY_MISMATCH", entry.offset);
    return new Tensor(entry.row, entry.shape, bytes.subarray(0, 0), strings, entry.offset);
  }
  const t = new Tensor(entry.row, entry.shape, bytes, null, entry.offset);
  checkElements(t, t.size);
  return t;
}
