//! Errors: one code from the registry of SPEC.md §8, plus the byte offset where the check failed.

/// A code of the error registry (SPEC.md §8), in registry order.
///
/// The Core decoder of this crate reports the Core codes and `UnsupportedCompression`; the stream and
/// Extended codes are listed so that the enum is the whole registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The input is not well-formed CBOR (RFC 8949 Appendix F): reserved additional information 28-30, a break code outside an indefinite-length item, or a two-byte simple value below 32.
    Malformed,
    /// The input ends inside a data item, including a length that claims more bytes than remain.
    Truncated,
    /// Bytes follow the end of the document.
    TrailingBytes,
    /// The document does not start with tag 55799 followed by a tensorcbor tag (52084 tensor, 52066 bundle), or is of the other kind than the caller asked for.
    BadMagic,
    /// The version field is not 1.
    UnsupportedVersion,
    /// A data item has the wrong major type or an array has the wrong number of elements for its position.
    UnexpectedType,
    /// A tag appears where none is allowed, a required tag is missing, or the data tag does not match the dtype's RFC 8746 tag.
    UnexpectedTag,
    /// The dtype code is not in the dtype table.
    UnknownDtype,
    /// The shape has more than 32 dimensions.
    RankTooLarge,
    /// The product of the non-zero dimensions, or the element data length it implies, exceeds 2^63 - 1.
    SizeOverflow,
    /// The element data length (or the number of strings) differs from what the shape and dtype require.
    ShapeMismatch,
    /// The padding item is present when not needed, absent when needed, has the wrong length, or holds a non-zero byte.
    BadPadding,
    /// An element value is not allowed: a bool byte other than 0x00/0x01, or non-zero unused bits after the last packed sub-byte element.
    InvalidElement,
    /// A text string is not valid UTF-8.
    InvalidUtf8,
    /// A tensor name is empty or longer than 4096 bytes.
    InvalidName,
    /// Two tensors in a bundle have the same name.
    DuplicateName,
    /// A metadata map has the same key twice.
    DuplicateKey,
    /// Map keys are not in bytewise lexicographic order of their encodings.
    UnsortedKeys,
    /// An integer, length or tag number is not encoded in its shortest form.
    NonShortestHead,
    /// A metadata float is not in the shortest width that preserves its value, or is a NaN other than f97e00.
    NonCanonicalFloat,
    /// An indefinite-length string, array or map appears.
    IndefiniteLength,
    /// Metadata holds a CBOR value outside the allowed data model: a tag, undefined, a simple value other than false/true/null, or a non-text map key.
    UnsupportedValue,
    /// Metadata arrays and maps nest deeper than 32 levels.
    NestingTooDeep,
    /// The encoded metadata map is longer than 16 MiB (16777216 bytes).
    MetadataTooLarge,
    /// The SHA-256 of a stream's manifest chunk is not the stream digest the receiver expects.
    StreamDigestMismatch,
    /// A data chunk's stream id is not the digest of this stream's manifest: the chunk belongs to another stream.
    WrongStream,
    /// A data chunk's index is 0 or greater than the number of data chunks the manifest lists.
    ChunkOutOfRange,
    /// A data chunk arrives whose index has already been received.
    DuplicateChunk,
    /// A data chunk arrives before a chunk with a lower index that a sequential receiver needs first.
    ChunkOutOfOrder,
    /// The stream ends before every data chunk the manifest lists has been received.
    MissingChunk,
    /// The SHA-256 of a data chunk's payload differs from the manifest's entry for its index: the chunk was altered.
    ChunkDigestMismatch,
    /// A chunk is longer than the stream's chunk size limit, or a manifest lists more chunks than fit in one chunk.
    ChunkTooLarge,
    /// The payloads of a stream do not add up to the document length its manifest declares.
    StreamLengthMismatch,
    /// The reassembled document's SHA-256 differs from the document digest in the manifest.
    DocumentDigestMismatch,
    /// The tensor data is compressed (tag 52090) and the decoder implements only the Core profile, or the codec or filter number is unknown.
    UnsupportedCompression,
    /// A compressed data item is malformed: wrong structure, a filter that does not apply to the dtype, a padding item, a frame that is not valid zstd or needs a window over 8 MiB.
    InvalidCompression,
    /// Compressed data decompresses to more or fewer bytes than the tensor's data length; decoding stops as soon as the output would exceed it.
    DecompressedSizeMismatch,
}

impl ErrorCode {
    /// Every code, in registry order.
    pub const ALL: [ErrorCode; 37] = [
        ErrorCode::Malformed,
        ErrorCode::Truncated,
        ErrorCode::TrailingBytes,
        ErrorCode::BadMagic,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnexpectedType,
        ErrorCode::UnexpectedTag,
        ErrorCode::UnknownDtype,
        ErrorCode::RankTooLarge,
        ErrorCode::SizeOverflow,
        ErrorCode::ShapeMismatch,
        ErrorCode::BadPadding,
        ErrorCode::InvalidElement,
        ErrorCode::InvalidUtf8,
        ErrorCode::InvalidName,
        ErrorCode::DuplicateName,
        ErrorCode::DuplicateKey,
        ErrorCode::UnsortedKeys,
        ErrorCode::NonShortestHead,
        ErrorCode::NonCanonicalFloat,
        ErrorCode::IndefiniteLength,
        ErrorCode::UnsupportedValue,
        ErrorCode::NestingTooDeep,
        ErrorCode::MetadataTooLarge,
        ErrorCode::StreamDigestMismatch,
        ErrorCode::WrongStream,
        ErrorCode::ChunkOutOfRange,
        ErrorCode::DuplicateChunk,
        ErrorCode::ChunkOutOfOrder,
        ErrorCode::MissingChunk,
        ErrorCode::ChunkDigestMismatch,
        ErrorCode::ChunkTooLarge,
        ErrorCode::StreamLengthMismatch,
        ErrorCode::DocumentDigestMismatch,
        ErrorCode::UnsupportedCompression,
        ErrorCode::InvalidCompression,
        ErrorCode::DecompressedSizeMismatch,
    ];

    /// The code whose registry name is `name` (`"BAD_MAGIC"`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The registry name, exactly as in SPEC.md §8 (`"BAD_MAGIC"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "MALFORMED",
            ErrorCode::Truncated => "TRUNCATED",
            ErrorCode::TrailingBytes => "TRAILING_BYTES",
            ErrorCode::BadMagic => "BAD_MAGIC",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::UnexpectedType => "UNEXPECTED_TYPE",
            ErrorCode::UnexpectedTag => "UNEXPECTED_TAG",
            ErrorCode::UnknownDtype => "UNKNOWN_DTYPE",
            ErrorCode::RankTooLarge => "RANK_TOO_LARGE",
            ErrorCode::SizeOverflow => "SIZE_OVERFLOW",
            ErrorCode::ShapeMismatch => "SHAPE_MISMATCH",
            ErrorCode::BadPadding => "BAD_PADDING",
            ErrorCode::InvalidElement => "INVALID_ELEMENT",
            ErrorCode::InvalidUtf8 => "INVALID_UTF8",
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::DuplicateName => "DUPLICATE_NAME",
            ErrorCode::DuplicateKey => "DUPLICATE_KEY",
            ErrorCode::UnsortedKeys => "UNSORTED_KEYS",
            ErrorCode::NonShortestHead => "NON_SHORTEST_HEAD",
            ErrorCode::NonCanonicalFloat => "NON_CANONICAL_FLOAT",
            ErrorCode::IndefiniteLength => "INDEFINITE_LENGTH",
            ErrorCode::UnsupportedValue => "UNSUPPORTED_VALUE",
            ErrorCode::NestingTooDeep => "NESTING_TOO_DEEP",
            ErrorCode::MetadataTooLarge => "METADATA_TOO_LARGE",
            ErrorCode::StreamDigestMismatch => "STREAM_DIGEST_MISMATCH",
            ErrorCode::WrongStream => "WRONG_STREAM",
            ErrorCode::ChunkOutOfRange => "CHUNK_OUT_OF_RANGE",
            ErrorCode::DuplicateChunk => "DUPLICATE_CHUNK",
            ErrorCode::ChunkOutOfOrder => "CHUNK_OUT_OF_ORDER",
            ErrorCode::MissingChunk => "MISSING_CHUNK",
            ErrorCode::ChunkDigestMismatch => "CHUNK_DIGEST_MISMATCH",
            ErrorCode::ChunkTooLarge => "CHUNK_TOO_LARGE",
            ErrorCode::StreamLengthMismatch => "STREAM_LENGTH_MISMATCH",
            ErrorCode::DocumentDigestMismatch => "DOCUMENT_DIGEST_MISMATCH",
            ErrorCode::UnsupportedCompression => "UNSUPPORTED_COMPRESSION",
            ErrorCode::InvalidCompression => "INVALID_COMPRESSION",
            ErrorCode::DecompressedSizeMismatch => "DECOMPRESSED_SIZE_MISMATCH",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected document (or an encoder input that has no valid encoding).
///
/// `offset` is the byte position, from the document start, of the item whose check failed
/// (for encoder errors: 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    pub code: ErrorCode,
    pub offset: usize,
}

impl Error {
    pub(crate) const fn new(code: ErrorCode, offset: usize) -> Error {
        Error { code, offset }
    }

    /// The registry code.
    pub const fn code(&self) -> ErrorCode {
        self.code
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} at byte {}", self.code.as_str(), self.offset)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::ErrorCode;
    use std::vec::Vec;

    /// The enum is the registry of SPEC.md §8: same names, same order.
    #[test]
    fn codes_match_spec() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../SPEC.md"))
            .expect("SPEC.md two directories up");
        let start = spec
            .find("<!-- BEGIN GENERATED: errors -->")
            .expect("begin marker");
        let end = spec
            .find("<!-- END GENERATED: errors -->")
            .expect("end marker");
        let names: Vec<&str> = spec[start..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let mine: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, mine);
    }
}
