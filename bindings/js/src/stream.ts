/**
 * The Stream profile (SPEC.md §10): a document cut into message-sized chunks, each verified on arrival.
 *
 *     manifest chunk:  55799(52083([1, doc-length, max-size, doc-sha256, digests]))
 *     data chunk:      55799(52083([1, stream-id, index, payload]))
 *
 * `chunks` cuts a document exactly as §10.3 says (equal inputs, equal stream digests in every implementation).
 * `SequentialReceiver` takes data chunks in index order; `StoringReceiver` keeps verified chunks in any order.
 * Both apply M1-M12, D1-D11 and E1-E2 in order; a rejected chunk changes no receiver state.
 */

import { type Arg, headLen, MAJOR_BYTES, MAJOR_UINT, Reader, Writer } from "./cbor.js";
import {
  asBytes, type Bytes, closeDocument, decodeBundle, decodeTensor, openArray, openDocument, TENSOR_TAG,
} from "./decode.js";
import { encodeFail, fail } from "./errors.js";
import { type Hasher, sha256, sha256Hasher } from "./sha256.js";

export const STREAM_TAG = 52083;
export const MIN_MAX_SIZE = 128;
export const MAX_MAX_SIZE = 0xffff_ffff;
/** The default chunk size limit: an ICP ingress message (2 MiB) with room for its envelope (SPEC.md §10.3). */
export const DEFAULT_MAX_SIZE = 1_900_000;
/** The largest overhead of a data chunk: a payload holds `maxSize - 52` bytes. */
export const DATA_CHUNK_OVERHEAD = 52;
const MAX_DOC_LENGTH = (1n << 63n) - 1n;
const DIGEST = 32;
const MAGIC = Uint8Array.of(0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x73);

/** [start, first byte of its data range) of every tensor header, in document order (SPEC.md §10.3). */
function headerRegions(doc: Uint8Array): [number, number][] {
  if (doc[3] === 0xd9 && doc[4] === (TENSOR_TAG >> 8) && doc[5] === (TENSOR_TAG & 0xff)) {
    return [[0, decodeTensor(doc).offset]];
  }
  const b = decodeBundle(doc);
  const out: [number, number][] = [];
  let start = b.base + headLen(b.tensors.size);
  for (const t of b.tensors.values()) {
    out.push([start, t.offset]);
    start = t.offset + (t.strings ? itemEnd(doc, t.offset) - t.offset : t.bytes.length);
  }
  return out;
}

/** The end of the string array item starting at `at` (a decoded, valid document). */
function itemEnd(doc: Uint8Array, at: number): number {
  const r = new Reader(doc, at);
  const h = r.head();
  for (let i = 0; i < h.arg; i++) r.take(r.head().arg);
  return r.pos;
}

/** The canonical payload boundaries: greedy, never ending inside a tensor header that starts later. */
function boundaries(length: number, cap: number, regions: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let i = 0;
  while (start < length) {
    let end = Math.min(start + cap, length);
    while (i < regions.length && regions[i]![1] <= end) i++;
    if (i < regions.length) {
      const [h, d] = regions[i]!;
      if (h < end && end < d && h > start) end = h;
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}

/** A stream: its chunks (the manifest first) and its stream digest (the SHA-256 of the manifest chunk). */
export interface Stream {
  chunks: Uint8Array[];
  streamDigest: Uint8Array;
}

/**
 * Cut a valid document (tensor or bundle) into the chunks of SPEC.md §10.3 for the limit `maxSize` (128 to
 * 2^32 - 1 bytes, default 1,900,000). The result is a function of (document, maxSize) alone.
 */
export function chunks(document: Bytes, maxSize: number = DEFAULT_MAX_SIZE): Stream {
  if (!Number.isInteger(maxSize) || maxSize < MIN_MAX_SIZE || maxSize > MAX_MAX_SIZE) {
    encodeFail("INVALID_CHUNK_SIZE", `maxSize must be an integer from ${MIN_MAX_SIZE} to ${MAX_MAX_SIZE}, got ${maxSize}`);
  }
  const doc = asBytes(document);
  const bounds = boundaries(doc.length, maxSize - DATA_CHUNK_OVERHEAD, headerRegions(doc));
  const docHash = sha256Hasher();
  const digests = new Uint8Array(bounds.length * DIGEST);
  bounds.forEach(([s, e], k) => {
    const piece = doc.subarray(s, e);
    docHash.update(piece);
    digests.set(sha256(piece), k * DIGEST);
  });
  const m = new Writer(64 + digests.length);
  m.bytes(MAGIC);
  m.byte(0x85);
  m.byte(1);
  m.head(MAJOR_UINT, doc.length);
  m.head(MAJOR_UINT, maxSize);
  m.head(MAJOR_BYTES, DIGEST);
  m.bytes(docHash.digest());
  m.head(MAJOR_BYTES, digests.length);
  m.bytes(digests);
  const manifest = m.result();
  if (manifest.length > maxSize) {
    encodeFail("CHUNK_TOO_LARGE", `${bounds.length} chunks do not fit in one ${maxSize}-byte manifest; choose a larger maxSize`);
  }
  const sid = sha256(manifest);
  const out = [manifest];
  bounds.forEach(([s, e], k) => {
    const w = new Writer(e - s + DATA_CHUNK_OVERHEAD);
    w.bytes(MAGIC);
    w.byte(0x84);
    w.byte(1);
    w.head(MAJOR_BYTES, DIGEST);
    w.bytes(sid);
    w.head(MAJOR_UINT, k + 1);
    w.head(MAJOR_BYTES, e - s);
    w.bytes(doc.subarray(s, e));
    out.push(w.result());
  });
  return { chunks: out, streamDigest: sid };
}

/** A verified manifest chunk (M1-M12). */
export class Manifest {
  constructor(
    /** Length of the document in bytes (bigint above 2^53 - 1). */
    readonly docLength: Arg,
    readonly maxSize: number,
    readonly docSha256: Uint8Array,
    /** SHA-256 of the manifest chunk: the stream digest every data chunk names. */
    readonly streamDigest: Uint8Array,
    private readonly digests: Uint8Array,
  ) {}

  /** N, the number of data chunks. */
  get count(): number {
    return this.digests.length / DIGEST;
  }

  /** The SHA-256 of data chunk `index`'s payload (1-based). */
  digest(index: number): Uint8Array {
    return this.digests.subarray((index - 1) * DIGEST, index * DIGEST);
  }
}

function openChunk(r: Reader): void {
  openDocument(r, STREAM_TAG);
}

function digestField(r: Reader): Uint8Array {
  const h = r.expect(MAJOR_BYTES);
  const at = r.take(h.arg);
  if (h.arg !== DIGEST) fail("UNEXPECTED_TYPE", h.start);
  return r.buf.subarray(at, r.pos);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A quota on the declared document length, or none. */
export type Quota = number | bigint | null | undefined;

/** Check and parse a manifest chunk (M1-M12) against an expected stream digest and a quota. */
export function parseManifest(chunk: Uint8Array, expected?: Uint8Array | null, quota?: Quota): Manifest {
  const streamDigest = sha256(chunk);
  if (expected && !equal(expected, streamDigest)) fail("STREAM_DIGEST_MISMATCH", 0);
  const r = new Reader(chunk);
  openChunk(r);
  const h = openArray(r);
  if (h.arg !== 5) fail("UNEXPECTED_TYPE", h.start);
  const lh = r.expect(MAJOR_UINT);
  if (lh.arg > MAX_DOC_LENGTH) fail("SIZE_OVERFLOW", lh.start);
  const sh = r.expect(MAJOR_UINT);
  if (sh.arg < MIN_MAX_SIZE || sh.arg > MAX_MAX_SIZE) fail("INVALID_CHUNK_SIZE", sh.start);
  const docSha = digestField(r);
  const dh = r.expect(MAJOR_BYTES);
  const at = r.take(dh.arg);
  const digests = r.buf.subarray(at, r.pos);
  if (digests.length === 0 || digests.length % DIGEST !== 0) fail("UNEXPECTED_TYPE", dh.start);
  closeDocument(r);
  const maxSize = sh.arg as number;
  if (chunk.length > maxSize) fail("CHUNK_TOO_LARGE", 0);
  const count = BigInt(digests.length / DIGEST);
  const len = BigInt(lh.arg);
  if (!(count <= len && len <= count * BigInt(maxSize - DATA_CHUNK_OVERHEAD))) fail("STREAM_LENGTH_MISMATCH", 0);
  if (quota !== null && quota !== undefined && lh.arg > quota) fail("QUOTA_EXCEEDED", 0);
  return new Manifest(lh.arg, maxSize, docSha.slice(), streamDigest, digests.slice());
}

/** A data chunk that passed D1-D11: its index and payload (a view of the chunk). */
export interface DataChunk {
  index: number;
  payload: Uint8Array;
}

/** D1-D11 of one data chunk against `m`; touches no state. */
function checkData(m: Manifest, chunk: Uint8Array, have: (i: number) => boolean, count: number, bytes: number,
  sequential: boolean): DataChunk {
  if (chunk.length > m.maxSize) fail("CHUNK_TOO_LARGE", 0);
  const r = new Reader(chunk);
  openChunk(r);
  const h = openArray(r);
  if (h.arg !== 4) fail("UNEXPECTED_TYPE", h.start);
  const at = r.pos;
  if (!equal(digestField(r), m.streamDigest)) fail("WRONG_STREAM", at);
  const ih = r.expect(MAJOR_UINT);
  if (ih.arg === 0 || ih.arg > m.count) fail("CHUNK_OUT_OF_RANGE", ih.start);
  const index = ih.arg as number;
  if (have(index)) fail("DUPLICATE_CHUNK", ih.start);
  if (sequential && index !== count + 1) fail("CHUNK_OUT_OF_ORDER", ih.start);
  const ph = r.expect(MAJOR_BYTES);
  const begin = r.take(ph.arg);
  const payload = r.buf.subarray(begin, r.pos);
  closeDocument(r);
  if (!equal(m.digest(index), sha256(payload))) fail("CHUNK_DIGEST_MISMATCH", begin);
  const total = bytes + payload.length;
  if (payload.length === 0 || total > m.docLength || (count + 1 === m.count && total != m.docLength)) {
    fail("STREAM_LENGTH_MISMATCH", begin);
  }
  return { index, payload };
}

/** Options of a receiver: the stream digest got out of band (M1) and a quota on the document length (M12). */
export interface ReceiverOptions {
  expectedDigest?: Uint8Array | null;
  quota?: Quota;
}

/** A receiver that takes data chunks in index order and hashes the document as it arrives (SPEC.md §10.4). */
export class SequentialReceiver {
  private readonly expected: Uint8Array | null;
  private readonly quota: Quota;
  private m: Manifest | null = null;
  private received = 0;
  private bytes = 0;
  private readonly hash: Hasher = sha256Hasher();
  private final: Uint8Array | null = null;

  constructor(options: ReceiverOptions = {}) {
    this.expected = options.expectedDigest ?? null;
    this.quota = options.quota;
  }

  /** The accepted manifest, if any. */
  get manifest(): Manifest | null {
    return this.m;
  }

  /** Whether every data chunk is in. */
  get complete(): boolean {
    return this.m !== null && this.received === this.m.count;
  }

  /**
   * Take one chunk: until a manifest is accepted every chunk is checked as the manifest (returns null); then data
   * chunks, returned with their payload (a view of `chunk`). A chunk that fails a check throws and changes nothing.
   */
  accept(chunk: Bytes): DataChunk | null {
    const c = asBytes(chunk);
    if (!this.m) {
      this.m = parseManifest(c, this.expected, this.quota);
      return null;
    }
    const received = this.received;
    const d = checkData(this.m, c, (i) => i <= received, received, this.bytes, true);
    this.received++;
    this.bytes += d.payload.length;
    this.hash.update(d.payload);
    return d;
  }

  /** The end of the stream: E1 (MISSING_CHUNK), then E2 (DOCUMENT_DIGEST_MISMATCH). */
  finish(): void {
    if (!this.m || this.received < this.m.count) fail("MISSING_CHUNK", 0);
    this.final ??= this.hash.digest();
    if (!equal(this.final, this.m.docSha256)) fail("DOCUMENT_DIGEST_MISMATCH", 0);
  }
}

/** A receiver that keeps verified chunks in any order (never CHUNK_OUT_OF_ORDER) and assembles the document. */
export class StoringReceiver {
  private readonly expected: Uint8Array | null;
  private readonly quota: Quota;
  private m: Manifest | null = null;
  private payloads: (Uint8Array | undefined)[] = [];
  private received = 0;
  private bytes = 0;
  private contiguous = 0;
  private readonly hash: Hasher = sha256Hasher();
  private final: Uint8Array | null = null;

  constructor(options: ReceiverOptions = {}) {
    this.expected = options.expectedDigest ?? null;
    this.quota = options.quota;
  }

  get manifest(): Manifest | null {
    return this.m;
  }

  /** Whether data chunk `index` was accepted. */
  has(index: number): boolean {
    return this.payloads[index - 1] !== undefined;
  }

  get complete(): boolean {
    return this.m !== null && this.received === this.m.count;
  }

  /** Take one chunk (the first accepted is the manifest): the data chunk's index, null for the manifest. */
  accept(chunk: Bytes): number | null {
    const c = asBytes(chunk);
    if (!this.m) {
      this.m = parseManifest(c, this.expected, this.quota);
      return null;
    }
    const d = checkData(this.m, c, (i) => this.has(i), this.received, this.bytes, false);
    this.payloads[d.index - 1] = d.payload.slice();
    this.received++;
    this.bytes += d.payload.length;
    while (this.has(this.contiguous + 1)) {
      this.hash.update(this.payloads[this.contiguous]!);
      this.contiguous++;
    }
    return d.index;
  }

  /** The end of the stream: E1, then E2; returns the document (the payloads in index order). */
  finish(): Uint8Array {
    if (!this.m || this.received < this.m.count) fail("MISSING_CHUNK", 0);
    this.final ??= this.hash.digest();
    if (!equal(this.final, this.m.docSha256)) fail("DOCUMENT_DIGEST_MISMATCH", 0);
    const doc = new Uint8Array(this.bytes);
    let at = 0;
    for (const p of this.payloads) {
      doc.set(p!, at);
      at += p!.length;
    }
    return doc;
  }
}

