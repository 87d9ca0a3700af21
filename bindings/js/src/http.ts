/** Range reads of a remote bundle over HTTP (fetch + `Range: bytes=`), for browsers and Node alike. */

import { type Layout, type LayoutEntry, readLayout, tensorFromRange } from "./decode.js";
import { TensorCBORError } from "./errors.js";
import type { Tensor } from "./tensor.js";

/** A `fetch`-compatible function (the global one by default). */
export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{
  status: number;
  ok: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

export interface RangeOptions {
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: FetchLike;
  /** Bytes asked for first (default 64 KiB); a longer prefix is asked for as the directory needs. */
  initial?: number;
  /** Extra request headers (authorization, ...). */
  headers?: Record<string, string>;
}

async function getRange(url: string, start: number, end: number, o: RangeOptions): Promise<Uint8Array> {
  const f = o.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const res = await f(url, { headers: { ...o.headers, Range: `bytes=${start}-${end - 1}` } });
  if (!res.ok) throw new Error(`GET ${url} bytes ${start}-${end - 1}: HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status === 206) return body;
  // A server that ignores Range sends the whole file (200): take the part asked for.
  return body.subarray(start, Math.min(end, body.length));
}

/**
 * The layout of a remote bundle from its prefix alone: asks for the first `initial` bytes, then for a longer
 * prefix as long as the strict prefix reader says TRUNCATED (at least doubling, at least what it says it needs).
 * Usually one request.
 */
export async function fetchLayout(url: string, options: RangeOptions = {}): Promise<Layout> {
  let size = options.initial ?? 64 * 1024;
  let have = new Uint8Array(0);
  for (;;) {
    const more = await getRange(url, have.length, size, options);
    const next = new Uint8Array(have.length + more.length);
    next.set(have);
    next.set(more, have.length);
    const ended = next.length < size;
    have = next;
    try {
      return readLayout(have);
    } catch (e) {
      if (!(e instanceof TensorCBORError) || e.code !== "TRUNCATED" || ended) throw e;
      size = Math.max(size * 2, e.needed ?? 0);
    }
  }
}

/**
 * One tensor of a remote bundle: its bytes by one range request, checked as the decoder checks the
 * item's content (length, §7.2 element checks; for `string`, the string array). Views the fetched buffer.
 */
export async function fetchTensor(url: string, entry: LayoutEntry, options: RangeOptions = {}): Promise<Tensor> {
  if (entry.length === 0) return tensorFromRange(entry, new Uint8Array(0)); // an empty tensor: nothing to fetch
  const bytes = await getRange(url, entry.offset, entry.offset + entry.length, options);
  if (bytes.length !== entry.length) {
    throw new TensorCBORError("TRUNCATED", entry.offset + bytes.length, `the server sent ${bytes.length} of ${entry.length} bytes`);
  }
  return tensorFromRange(entry, bytes);
}

