/** The dtype table of SPEC.md §3 (generated from the Python reference) and the rules derived from it. */

import { DTYPE_ROWS, type DTypeRow } from "./generated.js";

export type { DTypeRow } from "./generated.js";
export { DTYPE_ROWS } from "./generated.js";

/** The largest product of the non-zero dimensions, 2^53 - 1 (SPEC.md §4.2). */
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;
/** The largest rank. */
export const MAX_RANK = 32;

const BY_CODE: ReadonlyMap<number, DTypeRow> = new Map(DTYPE_ROWS.map((r) => [r.code, r]));
const BY_NAME: ReadonlyMap<string, DTypeRow> = new Map(DTYPE_ROWS.map((r) => [r.name, r]));

/** The row of a wire code (undefined: UNKNOWN_DTYPE). */
export function dtypeByCode(code: number | bigint): DTypeRow | undefined {
  return typeof code === "number" ? BY_CODE.get(code) : undefined;
}

/** The row of a dtype name (`"float32"`, `"float8_e4m3fn"`, ...). */
export function dtypeByName(name: string): DTypeRow | undefined {
  return BY_NAME.get(name);
}

/** Whether elements are packed below one byte (2, 4 or 6 bits, SPEC.md §4.4). */
export function isPacked(d: DTypeRow): boolean {
  return d.bits > 0 && d.bits < 8;
}

/**
 * The data length of `n` elements (n <= 2^53 - 1): `ceil(n * bits / 8)`, or whole blocks for a block type.
 * A number when it is at most 2^53 - 1, else an exact bigint (up to 2^57).
 */
export function dataLength(d: DTypeRow, n: number): number | bigint {
  if (d.block) return exact(BigInt(Math.floor(n / d.block[0])) * BigInt(d.block[1]));
  if (d.bits % 8 === 0) {
    const len = n * (d.bits / 8);
    return Number.isSafeInteger(len) ? len : BigInt(n) * BigInt(d.bits / 8);
  }
  const bits = n * d.bits;
  return Number.isSafeInteger(bits) ? Math.ceil(bits / 8) : exact((BigInt(n) * BigInt(d.bits) + 7n) / 8n);
}

function exact(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** The block rule of SPEC.md §4.6: rank >= 1 and the last dimension a multiple of the block size. */
export function shapeOk(d: DTypeRow, shape: readonly number[]): boolean {
  if (!d.block) return true;
  return shape.length > 0 && shape[shape.length - 1]! % d.block[0] === 0;
}

/** The element count: 0 if a dimension is 0, else the product (1 for rank 0). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
