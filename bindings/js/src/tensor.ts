/** A decoded tensor: dtype, shape, and its element bytes as a view of the document (never copied). */

import type { DTypeRow } from "./generated.js";
import { elementCount } from "./dtypes.js";

export class Tensor {
  /** The dtype's row of SPEC.md §3. */
  readonly row: DTypeRow;
  /** Dimensions, outermost first; empty for a scalar. Every dimension is at most 2^53 - 1. */
  readonly shape: readonly number[];
  /** Element bytes exactly as on the wire (little endian, sub-byte types packed): a view of the document. */
  readonly bytes: Uint8Array;
  /** The elements of a `string` tensor (row-major), else null. */
  readonly strings: readonly string[] | null;
  /** Offset of the element bytes (for `string`: of the string array) from the document start. */
  readonly offset: number;

  constructor(row: DTypeRow, shape: readonly number[], bytes: Uint8Array, strings: readonly string[] | null,
    offset: number) {
    this.row = row;
    this.shape = shape;
    this.bytes = bytes;
    this.strings = strings;
    this.offset = offset;
  }

  /** The dtype name (`"float32"`). */
  get dtype(): string {
    return this.row.name;
  }

  /** The wire code of the dtype. */
  get dtypeCode(): number {
    return this.row.code;
  }

  /** The element count (product of the dimensions, 1 for rank 0). */
  get size(): number {
    return elementCount(this.shape);
  }
}
