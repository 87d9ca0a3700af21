/**
 * Decoding a document as its bytes arrive (SPEC.md §10.5): the payloads a `SequentialReceiver` accepts, in order.
 * The metadata and each tensor are handed out as soon as their last byte is in, after every check of §7.1 and
 * §7.2 in the strict order; a document error is reported as soon as the bytes that show it have arrived, with the
 * same code and offset as decoding the whole document (by its magic: tensor or bundle).
 *
 * Memory: the bytes from the start of the unit being read (the bundle prefix, or one tensor item) to the end of
 * the last payload; each tensor handed out owns a copy of its element bytes (so its views stay valid).
 */

import { Reader } from "./cbor.js";
import { checkElements, decodeTensor, type Entry, readBundlePrefix, readItem } from "./decode.js";
import { TensorCBORError } from "./errors.js";
import { buildMetadata, type MetaMap } from "./metadata.js";
import { Tensor } from "./tensor.js";

/** What a push completes: a bundle's metadata (once, first), then tensors in document order. */
export type StreamEvent =
  | { kind: "metadata"; metadata: MetaMap }
  | { kind: "tensor"; index: number; name: string; tensor: Tensor };

type State = "start" | "tensor" | "prefix" | "items" | "done" | "failed";

const BUNDLE_MAGIC = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62];

export class StreamDecoder {
  private buf = new Uint8Array(1024);
  private len = 0;
  /** Document offset of buf[0]; always a multiple of 8, so alignment checks see the document's alignment. */
  private start = 0;
  private nextAt = 0;
  private state: State = "start";
  private error: TensorCBORError | null = null;
  private entries: Entry[] = [];
  private nextEntry = 0;

  /** Bytes currently held. */
  get buffered(): number {
    return this.len;
  }

  /**
   * Take the next bytes of the document; returns what they complete. `last`: these are the final bytes (a
   * TRUNCATED is then final). After an error every call throws it again.
   */
  push(payload: Uint8Array, last = false): StreamEvent[] {
    if (this.error) throw this.error;
    const at = this.start + this.len;
    this.append(payload);
    const events: StreamEvent[] = [];
    try {
      this.advance(last, at, events);
    } catch (e) {
      if (!(e instanceof TensorCBORError)) throw e;
      this.error = e;
      this.state = "failed";
      this.buf = new Uint8Array(0);
      this.len = 0;
      throw e;
    }
    this.dropBefore(this.nextAt);
    return events;
  }

  /** After the last payload: returns if the whole document was decoded, else throws its error (TRUNCATED if short). */
  finish(): void {
    if (this.error) throw this.error;
    if (this.state !== "done") throw new TensorCBORError("TRUNCATED", this.start + this.len);
  }

  private append(p: Uint8Array): void {
    if (this.len + p.length > this.buf.length) {
      let cap = Math.max(this.buf.length, 1024);
      while (cap < this.len + p.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(p, this.len);
    this.len += p.length;
  }

  /** Drop buffered bytes before document offset `at` (kept 8-aligned). */
  private dropBefore(at: number): void {
    const keep = at - (at % 8);
    if (keep > this.start) {
      const n = Math.min(keep - this.start, this.len);
      this.buf.copyWithin(0, n, this.len);
      this.len -= n;
      this.start += n;
    }
  }

  private view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** A buffer-relative error as a document error. */
  private shift(e: unknown): TensorCBORError {
    if (!(e instanceof TensorCBORError)) throw e;
    return this.start === 0 ? e : new TensorCBORError(e.code, e.offset + this.start);
  }

  /** True to wait for more bytes (TRUNCATED, not last); else throws the error. */
  private settle(e: TensorCBORError, last: boolean): true {
    if (e.code === "TRUNCATED" && !last) return true;
    throw e;
  }

  /** An owned copy of a tensor read from the buffer, with its document offset. */
  private own(t: Tensor): Tensor {
    return new Tensor(t.row, t.shape, t.bytes.slice(), t.strings, t.offset + this.start);
  }

  private advance(last: boolean, at: number, events: StreamEvent[]): void {
    for (;;) {
      switch (this.state) {
        case "done":
          if (this.start + this.len > this.nextAt) {
            throw new TensorCBORError("TRAILING_BYTES", Math.max(this.nextAt, at));
          }
          return;
        case "start": {
          const b = this.view();
          if (b.length >= 6 && BUNDLE_MAGIC.every((x, i) => b[i] === x)) this.state = "prefix";
          else if (b.length >= 6 || last) this.state = "tensor";
          else {
            try {
              decodeTensor(b);
            } catch (e) {
              const err = this.shift(e);
              const bundleStart = b.length > 3 && [...b.subarray(3)].every((x, i) => x === BUNDLE_MAGIC[3 + i]);
              if (err.code !== "TRUNCATED" && !bundleStart) throw err;
            }
            return;
          }
          break;
        }
        case "tensor": {
          let t: Tensor;
          try {
            t = decodeTensor(this.view());
          } catch (e) {
            this.settle(this.shift(e), last);
            return;
          }
          events.push({ kind: "tensor", index: 0, name: "", tensor: this.own(t) });
          this.nextAt = this.start + this.len;
          this.state = "done";
          break;
        }
        case "prefix": {
          const r = new Reader(this.view());
          let p;
          try {
            p = readBundlePrefix(r);
          } catch (e) {
            this.settle(this.shift(e), last);
            return;
          }
          events.push({ kind: "metadata", metadata: buildMetadata(r.buf, p.metaStart) });
          this.entries = p.entries;
          this.nextAt = this.start + r.pos;
          this.state = "items";
          break;
        }
        case "items": {
          const e = this.entries[this.nextEntry];
          if (!e) {
            this.state = "done";
            break;
          }
          const r = new Reader(this.view(), this.nextAt - this.start);
          let t: Tensor;
          try {
            t = readItem(r, e);
          } catch (x) {
            this.settle(this.shift(x), last);
            return;
          }
          try {
            checkElements(t, e.n);
          } catch (x) {
            throw this.shift(x);
          }
          events.push({ kind: "tensor", index: this.nextEntry, name: e.name, tensor: this.own(t) });
          this.nextAt = this.start + r.pos;
          this.nextEntry++;
          break;
        }
        case "failed":
          throw this.error!;
      }
    }
  }
}
