"""Error registry: stable codes and the typed exceptions that carry them.

SPEC.md's registry table is generated from ``REGISTRY`` and checked by a test.
Codes are part of the format: a conformance vector names the code its decoder
must report, in every language. Never rename one; add new ones at the end.
"""

from __future__ import annotations

import sys

__all__ = ["REGISTRY", "CODES", "FILE_REGISTRY", "FILE_CODES", "VIEW_REGISTRY", "VIEW_CODES", "TensorCBORError",
           "DecodeError", "EncodeError", "FileError", "markdown_table"]

# (code, when it applies). Order: the registry order in SPEC.md.
REGISTRY: tuple[tuple[str, str], ...] = (
    ("MALFORMED", "The input is not well-formed CBOR (RFC 8949 Appendix F): reserved additional "
                  "information 28-30, a break code outside an indefinite-length item, or a two-byte "
                  "simple value below 32."),
    ("TRUNCATED", "The input ends inside a data item, including a length that claims more bytes "
                  "than remain."),
    ("TRAILING_BYTES", "Bytes follow the end of the document."),
    ("BAD_MAGIC", "The document does not start with tag 55799 followed by a tensorcbor tag "
                  "(52084 tensor, 52066 bundle), or is of the other kind than the caller asked for."),
    ("UNSUPPORTED_VERSION", "The version field is not 1 (checked before the length of the top-level array, "
                            "so a future version is reported as such whatever its array length)."),
    ("UNEXPECTED_TYPE", "A data item has the wrong major type or an array has the wrong number of "
                        "elements for its position."),
    ("UNEXPECTED_TAG", "A tag appears where none is allowed, a required tag is missing, or the "
                       "data tag does not match the dtype's RFC 8746 tag."),
    ("UNKNOWN_DTYPE", "The dtype code is not in the dtype table."),
    ("RANK_TOO_LARGE", "The shape has more than 32 dimensions."),
    ("SIZE_OVERFLOW", "The product of the non-zero dimensions of a shape exceeds 2^53 - 1 (checked as "
                      "each dimension is read), or a stream's document length exceeds 2^63 - 1."),
    ("SHAPE_MISMATCH", "The element data length (or the number of strings) differs from what the "
                       "shape and dtype require: in the data item, in a bundle directory entry's length, or "
                       "in a compressed item's declared length; or a block type's shape is not whole blocks."),
    ("BAD_PADDING", "A padding item (of a tensor, or a bundle's pad before its tensors) is present when not "
                    "needed, absent when needed, has the wrong length, or holds a non-zero byte."),
    ("INVALID_ELEMENT", "An element value is not allowed: a bool byte other than 0x00/0x01, or "
                        "non-zero unused bits after the last packed sub-byte element."),
    ("INVALID_UTF8", "A text string is not valid UTF-8."),
    ("INVALID_NAME", "A tensor name is empty or longer than 4096 bytes."),
    ("DUPLICATE_NAME", "Two tensors in a bundle have the same name."),
    ("DUPLICATE_KEY", "A metadata map has the same key twice."),
    ("UNSORTED_KEYS", "Metadata map keys, or the tensor names of a bundle directory, are not in bytewise "
                      "lexicographic order of their encodings."),
    ("NON_SHORTEST_HEAD", "An integer, length or tag number is not encoded in its shortest form."),
    ("NON_CANONICAL_FLOAT", "A metadata float is not in the shortest width that preserves its value, "
                            "or is a NaN other than f97e00."),
    ("INDEFINITE_LENGTH", "An indefinite-length string, array or map appears."),
    ("UNSUPPORTED_VALUE", "Metadata holds a CBOR value outside the allowed data model: a tag, "
                          "undefined, a simple value other than false/true/null, or a non-text map key."),
    ("NESTING_TOO_DEEP", "Metadata arrays and maps nest deeper than 32 levels."),
    ("METADATA_TOO_LARGE", "The encoded metadata map is longer than 16 MiB (16777216 bytes); reported as soon "
                           "as a head inside the metadata (with a string's claimed content) reaches past the limit."),
    # Stream profile (SPEC.md §10): chunked streams.
    ("STREAM_DIGEST_MISMATCH", "The SHA-256 of a stream's manifest chunk is not the stream digest the receiver "
                               "expects."),
    ("WRONG_STREAM", "A data chunk's stream id is not the digest of this stream's manifest: the chunk belongs "
                     "to another stream."),
    ("CHUNK_OUT_OF_RANGE", "A data chunk's index is 0 or greater than the number of data chunks the manifest "
                           "lists."),
    ("DUPLICATE_CHUNK", "A data chunk arrives whose index has already been received."),
    ("CHUNK_OUT_OF_ORDER", "A data chunk arrives before a chunk with a lower index that a sequential receiver "
                           "needs first."),
    ("MISSING_CHUNK", "The stream ends before every data chunk the manifest lists has been received."),
    ("CHUNK_DIGEST_MISMATCH", "The SHA-256 of a data chunk's payload differs from the manifest's entry for "
                              "its index: the chunk was altered."),
    ("CHUNK_TOO_LARGE", "A chunk is longer than the stream's chunk size limit, or a manifest lists more "
                        "chunks than fit in one chunk."),
    ("STREAM_LENGTH_MISMATCH", "The payloads of a stream do not add up to the document length its manifest "
                               "declares."),
    ("DOCUMENT_DIGEST_MISMATCH", "The reassembled document's SHA-256 differs from the document digest in the "
                                 "manifest."),
    # Extended profile (SPEC.md §11): compressed tensor data.
    ("UNSUPPORTED_COMPRESSION", "The tensor data is compressed (tag 52090) and the decoder implements only "
                                "the Core profile, or the codec or filter number is unknown."),
    ("INVALID_COMPRESSION", "A compressed data item is malformed: wrong structure, a filter that does not "
                            "apply to the dtype, a padding item, a frame that is not valid zstd or needs a "
                            "window over 8 MiB; or a bundle directory entry of a string tensor has codec and "
                            "filter fields."),
    ("DECOMPRESSED_SIZE_MISMATCH", "Compressed data decompresses to more or fewer bytes than the tensor's "
                                   "data length; decoding stops as soon as the output would exceed it."),
    # Format 1.0 (issue #8).
    ("DIRECTORY_MISMATCH", "A bundle's directory disagrees with its tensor items: an offset other than the "
                           "layout rule gives, a different number of items, or an item whose form or length "
                           "differs from its entry."),
    ("INVALID_CHUNK_SIZE", "A stream manifest's max-size is outside 128 to 2^32 - 1 (checked at M6)."),
    ("QUOTA_EXCEEDED", "A receiver's quota on the declared document length is exceeded (checked right after "
                       "M11, before any data chunk is accepted)."),
    ("DECOMPRESSION_LIMIT", "The decoder's configured limit on the total decompressed bytes of one decode call "
                            "would be exceeded (checked at C5, before decompressing, by summing declared "
                            "lengths; the reference default is 1 GiB)."),
)

CODES: frozenset[str] = frozenset(code for code, _ in REGISTRY)

# Codes of the files and converters around the format: refusals of a file or of an environment, never of
# a document's bytes, so they are not part of the format's registry (SPEC.md §8) nor of conformance vectors.
FILE_REGISTRY: tuple[tuple[str, str], ...] = (
    ("NOT_A_REGULAR_FILE", "An input path names a FIFO, a device, a socket or a directory, not a regular file."),
    ("SAME_FILE", "A converter's output path names one of its input files."),
    ("UNSAFE_EXTERNAL_DATA", "An ONNX external-data location is absolute, contains '..' or a NUL byte, names the "
                             "model's directory itself, leads outside the model's directory through a symlink, "
                             "or is not a regular file."),
    ("UNSAFE_TORCH", "The installed torch has known bypasses of torch.load(weights_only=True); reading .pt "
                     "files needs a fixed version."),
    ("OUTPUT_EXISTS", "A converter would replace an existing file other than its output path: a shard or external "
                      "data file named after the output. Nothing was written; allow it with --force (force=True)."),
)

FILE_CODES: frozenset[str] = frozenset(code for code, _ in FILE_REGISTRY)

# Codes of a binding's typed element access (the Rust crate's `ViewError`, which a canister returns over Candid):
# refusals to view a valid tensor's elements as a native type, never of a document's bytes, so not in SPEC.md §8.
VIEW_REGISTRY: tuple[tuple[str, str], ...] = (
    ("DTYPE_MISMATCH", "A typed view, copy, widening or fill names another element type than the tensor's dtype "
                       "(or the tensor is a string tensor)."),
    ("UNALIGNED", "The element bytes are not at a multiple of the native type's alignment in memory: the document's "
                  "buffer does not start 8-aligned (copying routes still work)."),
    ("BIG_ENDIAN", "The machine is big-endian, so little-endian element bytes cannot be viewed in place."),
    ("LENGTH_MISMATCH", "A fill target's length is not the tensor's element count (or a hand-built view's bytes "
                        "are not whole elements)."),
)

VIEW_CODES: frozenset[str] = frozenset(code for code, _ in VIEW_REGISTRY)


class TensorCBORError(Exception):
    """Base class of all tensorcbor errors."""


class DecodeError(TensorCBORError, ValueError):
    """Input rejected by a decoder; ``code`` is a registry code, ``offset`` the byte position.

    For ``TRUNCATED``, ``needed`` (when known) is how many input bytes from the start of the
    document the reader needs at least: a prefix reader reads up to there and tries again.
    """

    def __init__(self, code: str, message: str, offset: int | None = None, needed: int | None = None) -> None:
        assert code in CODES, code
        self.code = code
        self.offset = offset
        self.needed = needed
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{code}{where}: {message}")


class FileError(TensorCBORError, OSError):
    """A file (or environment) refused before any document is read; ``code`` is a FILE_REGISTRY code."""

    def __init__(self, code: str, message: str, path: str | None = None) -> None:
        assert code in FILE_CODES, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


class EncodeError(TensorCBORError, ValueError):
    """Input that has no tensorcbor encoding; the message says what to do instead."""


def markdown_table() -> str:
    """The error registry exactly as SPEC.md carries it."""
    lines = ["| code | applies when |", "|---|---|"]
    lines += [f"| `{code}` | {text} |" for code, text in REGISTRY]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown_table())
