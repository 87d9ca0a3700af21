/**
 * tensorcbor for JavaScript and TypeScript (SPEC.md 1.0, Core and Stream profiles).
 *
 * - `decodeTensor` / `decodeBundle`: strict decoding (SPEC.md §7.1, §7.2), first failure as a `TensorCBORError`
 *   with its registry code and byte offset; element bytes are views of the input, never copies.
 * - `view`, `toFloat32`, `toInt8`: typed zero-copy views and bit-exact decoders of the narrow types.
 * - `encodeTensor` / `encodeBundle`: the one deterministic encoding, byte-identical to the Python reference.
 * - `readLayout` / `fetchLayout` / `fetchTensor`: a bundle's directory from its prefix, over HTTP Range requests.
 * - `chunks`, `SequentialReceiver`, `StoringReceiver`: chunked streams (SPEC.md §10).
 */

export { FORMAT_VERSION, SPEC_VERSION } from "./generated.js";
export { ERROR_CODES, errorMessage, TensorCBORError, type ErrorCode } from "./errors.js";
export { DTYPE_ROWS, dtypeByCode, dtypeByName, type DTypeRow, MAX_RANK, MAX_SIZE } from "./dtypes.js";
export {
  Bundle, type Bytes, decodeBundle, decodeTensor, type Layout, type LayoutEntry, MAX_NAME_BYTES, readLayout,
  tensorFromRange,
} from "./decode.js";
export { Tensor } from "./tensor.js";
export { encodeBundle, encodeTensor, type TensorInput, type TensorsInput } from "./encode.js";
export { encodeMetadata, MAX_METADATA_BYTES, MAX_NESTING, type MetaInput, type MetaMap, type MetaValue } from "./metadata.js";
export { type ElementView, f16BitsToF32Bits, Float16ArrayCtor, isZeroCopy, packBits, toFloat32, toInt8, view } from "./elements.js";
export { fetchLayout, fetchTensor, type FetchLike, type RangeOptions } from "./http.js";
export {
  chunks, DATA_CHUNK_OVERHEAD, type DataChunk, DEFAULT_MAX_SIZE, Manifest, MAX_MAX_SIZE, MIN_MAX_SIZE, parseManifest,
  type Quota, type ReceiverOptions, SequentialReceiver, StoringReceiver, type Stream, STREAM_TAG,
} from "./stream.js";
export { StreamDecoder, type StreamEvent } from "./stream_decode.js";
export { type Hasher, NATIVE_SHA256, PortableSha256, sha256, sha256Hasher } from "./sha256.js";
