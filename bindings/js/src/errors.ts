/** Typed rejections: every error carries a registry code (SPEC.md §8) and, for decoders, a byte offset. */

import { ERROR_REGISTRY, type ErrorCode } from "./generated.js";

export type { ErrorCode } from "./generated.js";

const MESSAGES: ReadonlyMap<string, string> = new Map(ERROR_REGISTRY.map(([c, m]) => [c, m]));

/** Every registry code, in registry order. */
export const ERROR_CODES: readonly ErrorCode[] = ERROR_REGISTRY.map(([c]) => c);

/** The registry's sentence saying when `code` applies. */
export function errorMessage(code: ErrorCode): string {
  return MESSAGES.get(code) ?? code;
}

/**
 * A rejected document, chunk or encoder input. `code` is a registry code; `offset` is the byte position (from
 * the document or chunk start) of the item whose check failed (0 for encoder errors). For `TRUNCATED` from a
 * prefix reader, `needed` is how many bytes from the start the reader needs at least.
 */
export class TensorCBORError extends Error {
  readonly code: ErrorCode;
  readonly offset: number;
  readonly needed: number | undefined;

  constructor(code: ErrorCode, offset: number, detail?: string, needed?: number) {
    super(`${code} at byte ${offset}: ${detail ?? errorMessage(code)}`);
    this.name = "TensorCBORError";
    this.code = code;
    this.offset = offset;
    this.needed = needed;
  }
}

/** Throw a decoder error. */
export function fail(code: ErrorCode, offset: number, needed?: number): never {
  throw new TensorCBORError(code, offset, undefined, needed);
}

/** Throw an encoder error (offset 0) with a message saying what to do instead. */
export function encodeFail(code: ErrorCode, detail: string): never {
  throw new TensorCBORError(code, 0, detail);
}
