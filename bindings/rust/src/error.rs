//! Errors: one code from the registry of SPEC.md §8, the byte offset where the check failed, and what exactly
//! was wrong ([`Detail`], worded as the Python reference's messages).

use crate::dtype::DType;
pub use crate::error_codes::ErrorCode;
#[cfg(feature = "messages")]
use alloc::boxed::Box;

impl ErrorCode {
    /// The code whose registry name is `name` (`"BAD_MAGIC"`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected document or chunk (or an encoder input that has no valid encoding).
///
/// `offset` is the byte position, from the document (or chunk) start, of the item whose check failed
/// (for encoder errors: 0). [`detail`](Error::detail) says what was found there; `Display` prints
/// `CODE at byte N: detail`, as the Python reference's `DecodeError` does.
///
/// The detail is boxed (allocated only when a check fails) so that `Result<T, Error>` stays small: every `?`
/// of the decoder moves it, and a canister's module pays for each move in code size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Error {
    pub code: ErrorCode,
    pub offset: usize,
    pub(crate) detail: DetailSlot,
}

/// Where an [`Error`] keeps its detail: boxed with feature `messages`; otherwise nothing (no allocation, no
/// drop code in a module that does not show messages).
#[cfg(feature = "messages")]
pub(crate) type DetailSlot = Option<Box<Detail>>;
#[cfg(not(feature = "messages"))]
pub(crate) type DetailSlot = NoDetail;
#[cfg(feature = "messages")]
const NO_DETAIL: DetailSlot = None;
#[cfg(not(feature = "messages"))]
const NO_DETAIL: DetailSlot = NoDetail;

/// The empty detail slot of a build without feature `messages`.
#[cfg(not(feature = "messages"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct NoDetail;

impl Error {
    /// An error with no detail beyond the registry sentence.
    pub(crate) const fn new(code: ErrorCode, offset: usize) -> Error {
        Error {
            code,
            offset,
            detail: NO_DETAIL,
        }
    }

    /// An error with its detail.
    #[cold]
    #[inline(always)]
    pub(crate) fn with(code: ErrorCode, offset: usize, detail: Detail) -> Error {
        // Without feature `messages` the detail is dropped here, and the optimizer removes building it.
        #[cfg(feature = "messages")]
        let detail = Some(Box::new(detail));
        #[cfg(not(feature = "messages"))]
        let detail = {
            let _ = detail;
            NoDetail
        };
        Error {
            code,
            offset,
            detail,
        }
    }

    /// What exactly was wrong ([`Detail::None`] when only the code is known).
    pub fn detail(&self) -> &Detail {
        #[cfg(feature = "messages")]
        return self.detail.as_deref().unwrap_or(&Detail::None);
        #[cfg(not(feature = "messages"))]
        return &Detail::None;
    }

    /// The same error with `shape` in its detail (the data checks run where the shape is not at hand).
    pub(crate) fn with_shape(self, shape: &[u64]) -> Error {
        #[cfg(feature = "messages")]
        {
            let mut e = self;
            if let Some(
                Detail::DataLength { shape: s, .. } | Detail::StringCount { shape: s, .. },
            ) = e.detail.as_deref_mut()
            {
                *s = ShortShape::new(shape)
            }
            e
        }
        #[cfg(not(feature = "messages"))]
        {
            let _ = shape;
            self
        }
    }

    /// The same error naming the bundle tensor whose item failed.
    pub(crate) fn with_name(self, name: &str) -> Error {
        #[cfg(feature = "messages")]
        {
            let mut e = self;
            if let Some(Detail::ItemLength { name: n, .. } | Detail::ItemSize { name: n, .. }) =
                e.detail.as_deref_mut()
            {
                *n = ShortText::new(name)
            }
            e
        }
        #[cfg(not(feature = "messages"))]
        {
            let _ = name;
            self
        }
    }

    /// The registry code.
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The registry's sentence for the code (the general rule; `Display` gives the specific case).
    pub const fn message(&self) -> &'static str {
        self.code.message()
    }
}

impl core::fmt::Display for Error {
    /// `CODE at byte N: what was wrong`, the form of the Python reference's DecodeError (the registry sentence
    /// when there is no detail).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} at byte {}: ", self.code.as_str(), self.offset)?;
        match self.detail() {
            Detail::None => f.write_str(self.code.message()),
            d => d.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Up to 24 bytes of a tensor name or metadata key, for messages (cut at a character boundary).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortText {
    bytes: [u8; 24],
    len: u8,
    cut: bool,
}

impl ShortText {
    pub(crate) fn new(s: &str) -> ShortText {
        let mut text = ShortText {
            bytes: [0u8; 24],
            len: 0,
            cut: false,
        };
        // Without feature `messages` nothing reads it: kept empty, so that building it costs no code.
        if cfg!(feature = "messages") {
            let mut end = s.len().min(24);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            for (d, b) in text.bytes.iter_mut().zip(s.as_bytes().iter().take(end)) {
                *d = *b;
            }
            text.len = end as u8;
            text.cut = end < s.len();
        }
        text
    }

    /// The kept text (the whole text unless it was longer than 24 bytes).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl core::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for ShortText {
    /// Quoted, as Python's `repr` of a plain name: `'w'` (`'long...'` when cut).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let dots = if self.cut { "..." } else { "" };
        write!(f, "'{}{}'", self.as_str(), dots)
    }
}

/// A shape for messages: up to 4 dimensions kept (`[2, 3]`; longer shapes print their first 4 and the rank).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShortShape {
    dims: [u64; 4],
    rank: u8,
}

impl ShortShape {
    pub(crate) fn new(shape: &[u64]) -> ShortShape {
        let mut short = ShortShape::default();
        if cfg!(feature = "messages") {
            for (d, s) in short.dims.iter_mut().zip(shape) {
                *d = *s;
            }
            short.rank = shape.len().min(255) as u8;
        }
        short
    }

    /// The kept dimensions (all of them up to rank 4).
    pub fn dims(&self) -> &[u64] {
        &self.dims[..(self.rank as usize).min(4)]
    }

    /// The rank of the shape.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }
}

impl core::fmt::Debug for ShortShape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for ShortShape {
    /// As Python prints a list: `[2, 3]`, `[]`; past rank 4 `[2, 3, 4, 5, ...] (rank 6)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        if self.rank() > 4 {
            write!(f, ", ...] (rank {})", self.rank)
        } else {
            f.write_str("]")
        }
    }
}

/// The CBOR major types as the Python reference names them in messages.
const MAJOR_NAMES: [&str; 8] = [
    "an unsigned integer",
    "a negative integer",
    "a byte string",
    "a text string",
    "an array",
    "a map",
    "a tag",
    "a simple value or float",
];

pub(crate) fn major_name(major: u8) -> &'static str {
    MAJOR_NAMES[(major & 7) as usize]
}

/// Why a text string is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Utf8Reason {
    /// A byte that cannot start a character.
    Start,
    /// A byte that cannot continue the character begun before it.
    Continuation,
    /// The string ends inside a character.
    End,
}

/// What exactly an [`Error`] found, with its numbers; `Display` words it as the Python reference does.
/// Built only on the error path; the text is formatted only when displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detail {
    /// Only the code is known (the registry sentence is the message).
    None,
    Truncated {
        what: &'static str,
        need: u64,
        remain: u64,
    },
    TruncatedMagic,
    NotSelfDescribed,
    NotTensorcbor,
    WrongKind {
        found_bundle: bool,
    },
    Version {
        version: u64,
    },
    EmptyArray {
        what: &'static str,
    },
    /// `what` says what the array should hold ("a tensor array has 4 or 5 elements").
    ArrayLength {
        what: &'static str,
        found: u64,
    },
    TrailingBytes {
        count: u64,
    },
    Indefinite,
    InitialByte {
        byte: u8,
    },
    SimpleTwoByte {
        value: u8,
    },
    NonShortest {
        arg: u64,
        byte: u8,
    },
    /// A head of major type `found` (argument `arg`) where `wanted` was expected.
    Unexpected {
        found: u8,
        arg: u64,
        wanted: &'static str,
    },
    Utf8 {
        what: &'static str,
        reason: Utf8Reason,
    },
    UnknownDtype {
        code: u64,
    },
    Rank {
        rank: u64,
    },
    Size,
    Blocks {
        dtype: DType,
        last: Option<u64>,
    },
    DataLength {
        dtype: DType,
        shape: ShortShape,
        wanted: u64,
        found: u64,
    },
    StringCount {
        shape: ShortShape,
        wanted: u64,
        found: u64,
    },
    PaddingNotZero,
    StringPadding,
    Misaligned {
        at: u64,
        wanted: u8,
        align: u8,
        found: u64,
    },
    TypedTag {
        dtype: DType,
        tag: u64,
        found: Option<u64>,
    },
    NotByteString {
        dtype: DType,
    },
    Compressed,
    CompressedString {
        name: ShortText,
    },
    CompressedEntry {
        name: ShortText,
    },
    BundlePadNotZero,
    BundlePad {
        wanted: u64,
        found: u64,
    },
    DirectoryCount {
        listed: u64,
        found: u64,
    },
    NameLength {
        length: u64,
    },
    DuplicateName {
        name: ShortText,
    },
    UnsortedName {
        name: ShortText,
    },
    EntryLength {
        name: ShortText,
        dtype: DType,
        shape: ShortShape,
        wanted: u64,
        found: u64,
    },
    EntryOffset {
        name: ShortText,
        wanted: Option<u64>,
        found: u64,
    },
    ItemLength {
        name: ShortText,
        found: u64,
    },
    ItemSize {
        name: ShortText,
        at: u64,
        found: u64,
        wanted: u64,
    },
    Bool {
        index: u64,
        byte: u8,
    },
    TailBits {
        dtype: DType,
    },
    MetadataTooLarge,
    MetadataNotMap,
    MetadataTag {
        tag: u64,
    },
    Nesting,
    KeyType {
        major: u8,
    },
    DuplicateKey {
        key: ShortText,
    },
    UnsortedKey {
        key: ShortText,
    },
    MetadataSimple {
        value: u64,
    },
    NanForm,
    /// The float's IEEE 754 binary64 bits.
    FloatWidth {
        bits: u64,
    },
    /// Encoder: the data does not fit this machine's memory.
    DataTooLarge {
        length: u64,
    },
}

impl core::fmt::Display for Detail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use Detail::*;
        match *self {
            None => Ok(()),
            Truncated { what, need, remain } => {
                write!(f, "{what} needs {need} bytes but only {remain} remain")
            }
            TruncatedMagic => f.write_str("the input ends inside the self-described CBOR tag"),
            NotSelfDescribed => f.write_str(
                "not a tensorcbor document: it must start with d9d9f7 (self-described CBOR, tag 55799)",
            ),
            NotTensorcbor => f.write_str(
                "not a tensorcbor document: expected tag 52084 (tensor) or 52066 (bundle) after the \
                 self-described CBOR tag",
            ),
            WrongKind { found_bundle: true } => f.write_str(
                "this is a bundle document, not a tensor; read it with decode_bundle",
            ),
            WrongKind { found_bundle: false } => f.write_str(
                "this is a tensor document, not a bundle; read it with decode_tensor",
            ),
            Version { version } => write!(
                f,
                "format version {version} is not supported (this decoder reads version 1)"
            ),
            EmptyArray { what } => write!(f, "{what} is empty; it starts with the version"),
            ArrayLength { what, found } => write!(f, "{what}, found {found}"),
            TrailingBytes { count } => write!(f, "{count} bytes follow the end of the document"),
            Indefinite => f.write_str(
                "indefinite-length items are not allowed; encode strings, arrays and maps with a \
                 definite length",
            ),
            InitialByte { byte } => write!(f, "initial byte 0x{byte:02x} is not well-formed CBOR"),
            SimpleTwoByte { value } => {
                write!(f, "simple value {value} must use the one-byte form")
            }
            NonShortest { arg, byte } => write!(
                f,
                "argument {arg} is not in its shortest form (initial byte 0x{byte:02x})"
            ),
            Unexpected { found: 6, arg, wanted } => {
                write!(f, "tag {arg} where {wanted} was expected")
            }
            Unexpected { found, wanted, .. } => {
                write!(f, "{} where {wanted} was expected", major_name(found))
            }
            Utf8 { what, reason } => {
                let reason = match reason {
                    Utf8Reason::Start => "invalid start byte",
                    Utf8Reason::Continuation => "invalid continuation byte",
                    Utf8Reason::End => "unexpected end of data",
                };
                write!(f, "{what} is not valid UTF-8 ({reason})")
            }
            UnknownDtype { code } => {
                write!(f, "dtype code {code} is not in the dtype table (SPEC.md §3)")
            }
            Rank { rank } => write!(f, "rank {rank} exceeds the limit of 32"),
            Size => f.write_str("the product of the non-zero dimensions exceeds 2^53-1"),
            Blocks { dtype, last } => {
                let per = dtype.block().map_or(0, |b| b.0);
                match last {
                    Some(d) => write!(
                        f,
                        "the last dimension of a {dtype} tensor must be a multiple of {per}, found {d}"
                    ),
                    Option::None => write!(
                        f,
                        "a {dtype} tensor needs rank >= 1 (its last dimension is cut into blocks of {per})"
                    ),
                }
            }
            DataLength {
                dtype,
                shape,
                wanted,
                found,
            } => write!(
                f,
                "shape {shape} of {dtype} needs {wanted} data bytes, found {found}"
            ),
            StringCount {
                shape,
                wanted,
                found,
            } => write!(f, "shape {shape} needs {wanted} strings, found {found}"),
            PaddingNotZero => f.write_str("padding bytes must be zero"),
            StringPadding => f.write_str("string tensors never carry padding"),
            Misaligned {
                at,
                wanted,
                align,
                found,
            } => write!(
                f,
                "element data at offset {at} needs {wanted} padding bytes for {align}-byte alignment, \
                 found {found}"
            ),
            TypedTag { dtype, tag, found } => {
                write!(f, "{dtype} data must be wrapped in RFC 8746 tag {tag}, found ")?;
                match found {
                    Some(t) => write!(f, "tag {t}"),
                    Option::None => f.write_str("no tag"),
                }
            }
            NotByteString { dtype } => write!(f, "{dtype} element data must be a byte string"),
            Compressed => f.write_str(
                "this decoder implements the Core profile only; the tensor data is compressed \
                 (tag 52090, Extended profile)",
            ),
            CompressedString { name } => {
                write!(f, "tensor {name}: string tensors are never compressed")
            }
            CompressedEntry { name } => write!(
                f,
                "tensor {name} is compressed (Extended profile); this decoder implements the Core \
                 profile only"
            ),
            BundlePadNotZero => f.write_str("the pad before the tensors must be zero bytes"),
            BundlePad { wanted, found } => write!(
                f,
                "the pad must be {wanted} zero bytes, so that the tensors start at a multiple of 8; \
                 found {found}"
            ),
            DirectoryCount { listed, found } => write!(
                f,
                "the directory lists {listed} tensors, the tensors array has {found}"
            ),
            NameLength { length } => write!(
                f,
                "tensor names are 1 to 4096 UTF-8 bytes, found {length}"
            ),
            DuplicateName { name } => write!(f, "tensor {name} appears twice"),
            UnsortedName { name } => write!(
                f,
                "tensor {name} is out of order; names must be sorted bytewise by their encoding"
            ),
            EntryLength {
                name,
                dtype,
                shape,
                wanted,
                found,
            } => write!(
                f,
                "tensor {name}: shape {shape} of {dtype} needs {wanted} data bytes, the directory \
                 says {found}"
            ),
            EntryOffset { name, wanted, found } => {
                write!(f, "tensor {name}: the layout rule puts its bytes at ")?;
                match wanted {
                    Some(w) => write!(f, "offset {w} from B")?,
                    Option::None => f.write_str("an offset past 2^64-1")?,
                }
                write!(f, ", the directory says {found}")
            }
            ItemLength { name, found } => write!(
                f,
                "tensor {name}: an item has 1 or 2 elements, found {found}"
            ),
            ItemSize {
                name,
                at,
                found,
                wanted,
            } => write!(
                f,
                "tensor {name}: the item's bytes are at {at} ({found} bytes), the directory says \
                 {at} ({wanted} bytes)"
            ),
            Bool { index, byte } => write!(
                f,
                "bool element {index} is 0x{byte:02x}; only 0x00 and 0x01 are allowed"
            ),
            TailBits { dtype } => write!(
                f,
                "unused bits after the last {dtype} element must be zero"
            ),
            MetadataTooLarge => f.write_str(
                "the metadata reaches past the 16777216-byte limit at this item",
            ),
            MetadataNotMap => f.write_str("the metadata must be a map"),
            MetadataTag { tag } => write!(f, "tag {tag} is not allowed in metadata"),
            Nesting => f.write_str("metadata nests deeper than 32 levels"),
            KeyType { major } => write!(
                f,
                "map key of type {}; metadata keys must be text",
                major_name(major)
            ),
            DuplicateKey { key } => write!(f, "map key {key} appears twice"),
            UnsortedKey { key } => write!(
                f,
                "map key {key} is out of order; keys must be sorted bytewise by their encoding"
            ),
            MetadataSimple { value } => {
                write!(f, "simple value {value} is not allowed in metadata")
            }
            NanForm => f.write_str("a NaN in metadata must be encoded as f97e00"),
            FloatWidth { bits } => {
                // Python's repr: the shortest round-trip digits, exponents as e-08 / e+16.
                let text = alloc::format!("{:?}", f64::from_bits(bits));
                match text.split_once('e') {
                    Some((mantissa, exp)) => {
                        let (sign, digits) = match exp.strip_prefix('-') {
                            Some(d) => ('-', d),
                            Option::None => ('+', exp),
                        };
                        write!(f, "float {mantissa}e{sign}{digits:0>2}")?;
                    }
                    Option::None => write!(f, "float {text}")?,
                }
                f.write_str(" must use its shortest exact width")
            }
            DataTooLarge { length } => write!(
                f,
                "{length} data bytes do not fit this machine's memory"
            ),
        }
    }
}
