//! The strict decoder of SPEC.md §7.1 and §7.2: zero-copy views into the input.

use crate::cbor::{
    head_len, Head, Reader, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT,
};
use crate::dtype::DType;
use crate::error::{Detail, Error, ErrorCode, ShortShape, ShortText};
use crate::layout::{base_pad, data_len, item_layout, item_offset, shape_ok};
use crate::value::{read_metadata, Metadata, Value};
use alloc::vec::Vec;

pub(crate) const SELF_DESCRIBE: [u8; 3] = [0xd9, 0xd9, 0xf7];
pub(crate) const TENSOR_TAG: u64 = 52084;
pub(crate) const BUNDLE_TAG: u64 = 52066;
pub(crate) const COMPRESSED_TAG: u64 = 52090;
pub(crate) const VERSION: u64 = 1;
/// The largest rank (SPEC.md §4.1).
pub const MAX_RANK: usize = 32;
/// The largest product of the non-zero dimensions, 2^53 - 1 (format 1.0, design D3): every data length is
/// then below 2^57 and fits a u64, a JS number and a numpy index.
pub const MAX_SIZE: u64 = (1 << 53) - 1;
/// Tensor names are 1 to this many bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 4096;

/// The elements of a tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elements<'a> {
    /// Element bytes exactly as on the wire: little endian, sub-byte types packed (SPEC.md §4.4).
    /// When decoded, a slice of the input at an offset aligned to `dtype.align()`.
    Bytes(&'a [u8]),
    /// The elements of a `string` tensor, row-major.
    Strings(Vec<&'a str>),
}

/// A tensor: dtype, shape and elements borrowed from the document (or from the caller, to encode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorView<'a> {
    pub dtype: DType,
    /// Dimensions, outermost first; empty for a scalar.
    pub shape: Vec<u64>,
    pub elements: Elements<'a>,
}

impl<'a> TensorView<'a> {
    /// A numeric (non-`string`) tensor; `data` is the wire form (little endian, packed sub-byte types).
    /// Checked when encoded.
    pub fn new(dtype: DType, shape: &[u64], data: &'a [u8]) -> Self {
        TensorView {
            dtype,
            shape: shape.to_vec(),
            elements: Elements::Bytes(data),
        }
    }

    /// A `string` tensor.
    pub fn strings(shape: &[u64], strings: Vec<&'a str>) -> Self {
        TensorView {
            dtype: DType::String,
            shape: shape.to_vec(),
            elements: Elements::Strings(strings),
        }
    }

    /// The element bytes (`None` for a `string` tensor).
    pub fn data(&self) -> Option<&'a [u8]> {
        match self.elements {
            Elements::Bytes(b) => Some(b),
            Elements::Strings(_) => None,
        }
    }

    /// The string elements (`None` unless the dtype is `string`).
    pub fn string_elements(&self) -> Option<&[&'a str]> {
        match &self.elements {
            Elements::Strings(s) => Some(s),
            Elements::Bytes(_) => None,
        }
    }

    /// The element count `n`, the product of the dimensions (1 for rank 0).
    pub fn len(&self) -> u64 {
        self.shape.iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }

    /// The element count `n`: 0 if a dimension is 0, else the product.
    pub(crate) fn element_count(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.len()
        }
    }

    /// Whether the tensor has no elements (a zero dimension).
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }
}

/// A decoded bundle: metadata and tensors, both in wire order (tensors sorted by encoded name).
#[derive(Debug, Clone, PartialEq)]
pub struct BundleView<'a> {
    /// The validated metadata map, kept as its encoding (values are built on demand).
    pub metadata: Metadata<'a>,
    pub tensors: Vec<(&'a str, TensorView<'a>)>,
}

impl<'a> BundleView<'a> {
    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorView<'a>> {
        self.tensors
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    /// The metadata value of `key`, built on demand.
    pub fn meta(&self, key: &str) -> Option<Value<'a>> {
        self.metadata.get(key)
    }
}

/// Decode a tensor document strictly (SPEC.md §5.1, §7.1, §7.2). The element bytes are not copied.
pub fn decode_tensor(buf: &[u8]) -> Result<TensorView<'_>, Error> {
    let mut r = Reader::new(buf);
    open_document(&mut r, TENSOR_TAG)?;
    let h = open_array_as(&mut r, "the tensor array")?;
    if h.arg != 4 && h.arg != 5 {
        let detail = Detail::ArrayLength {
            what: "a tensor array has 4 or 5 elements",
            found: h.arg,
        };
        return r.fail_with(ErrorCode::UnexpectedType, h.start, detail);
    }
    let (dtype, shape, n) = read_header(&mut r)?;
    let (elements, at) =
        read_body(&mut r, dtype, n, h.arg == 5).map_err(|e| e.with_shape(&shape))?;
    let t = TensorView {
        dtype,
        shape,
        elements,
    };
    check_tensor_elements(&t, at)?;
    close_document(&r)?;
    Ok(t)
}

/// Decode a bundle document strictly (SPEC.md §5.2, §7.1, §7.2; format 1.0 directory). Element bytes are
/// not copied; the metadata is validated and kept as a slice.
pub fn decode_bundle(buf: &[u8]) -> Result<BundleView<'_>, Error> {
    let BundleIndex {
        metadata, tensors, ..
    } = index_bundle(buf, true)?;
    Ok(BundleView { metadata, tensors })
}

/// A whole bundle checked by [`index_bundle`], with the data base `B` a range reader needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleIndex<'a> {
    /// The validated metadata map, kept as its encoding.
    pub metadata: Metadata<'a>,
    /// `B`: the offset of the tensors array head, a multiple of 8; directory offsets are relative to it.
    pub base: usize,
    /// The tensors in wire order; element bytes are slices of the input.
    pub tensors: Vec<(&'a str, TensorView<'a>)>,
}

/// Every check of SPEC.md §7.1 on a whole bundle, in order; the element checks of §7.2 too when
/// `check_elements`, else they are the caller's before it reads a tensor's values (a lazy reader, such as one
/// over a memory-mapped file, may defer them to first access). With `check_elements` this is
/// [`decode_bundle`] plus `B`.
pub fn index_bundle(buf: &[u8], check_elements: bool) -> Result<BundleIndex<'_>, Error> {
    let mut r = Reader::new(buf);
    let BundlePrefix {
        metadata,
        mut tensors,
        lengths,
    } = read_bundle_prefix(&mut r)?;
    let base = r.pos - head_len(tensors.len() as u64);
    for ((name, t), &length) in tensors.iter_mut().zip(&lengths) {
        let (elements, at) = read_item(&mut r, t.dtype, t.element_count(), length)
            .map_err(|e| e.with_shape(&t.shape).with_name(name))?;
        t.elements = elements;
        if check_elements {
            check_tensor_elements(t, at)?;
        }
    }
    close_document(&r)?;
    Ok(BundleIndex {
        metadata,
        base,
        tensors,
    })
}

/// Where a range reader finds one tensor of a bundle (from the directory alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEntry<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// Absolute offset (from the document start) of the element bytes; for `string`, of the string array.
    pub offset: u64,
    /// Their length in bytes.
    pub length: u64,
}

/// The layout of a bundle from a prefix of it: every check up to the tensors array head (design D4), then
/// each entry's absolute byte range. Reads nothing past the data base, so a canister can list a stored
/// bundle, or fetch one tensor's bytes, from the first bytes alone. `TRUNCATED` means: read a longer prefix.
pub fn read_layout(prefix: &[u8]) -> Result<Vec<LayoutEntry<'_>>, Error> {
    let mut r = Reader::new(prefix);
    let p = read_bundle_prefix(&mut r)?;
    let base = r.pos - head_len(p.tensors.len() as u64);
    layout_entries(p, base)
}

/// As [`read_layout`], but from the prefix `[0, B)` alone: every check up to and including the pad, not the
/// tensors array head at `B` (the Python reference's `read_layout`, which its compiled reader must match).
/// Returns the layout and `B`.
pub fn read_layout_to_base(prefix: &[u8]) -> Result<(Vec<LayoutEntry<'_>>, usize), Error> {
    let mut r = Reader::new(prefix);
    let p = read_prefix_to_base(&mut r)?;
    let base = r.pos;
    Ok((layout_entries(p, base)?, base))
}

fn layout_entries(p: BundlePrefix<'_>, base: usize) -> Result<Vec<LayoutEntry<'_>>, Error> {
    let base = base as u64;
    let mut pos = head_len(p.tensors.len() as u64) as u64;
    let mut out = Vec::with_capacity(p.tensors.len());
    for ((name, t), length) in p.tensors.into_iter().zip(p.lengths) {
        // The prefix passed the directory checks, so every position fits (it matched a u64 offset).
        let Some(item) = item_layout(pos, t.dtype, length) else {
            return Err(Error::new(ErrorCode::DirectoryMismatch, 0));
        };
        pos = item.end;
        out.push(LayoutEntry {
            name,
            dtype: t.dtype,
            shape: t.shape,
            offset: base.saturating_add(item.offset),
            length,
        });
    }
    Ok(out)
}

/// A bundle up to and including the tensors array head: metadata, the directory as tensors whose elements
/// are still empty, and each entry's `length`.
pub(crate) struct BundlePrefix<'a> {
    pub metadata: Metadata<'a>,
    pub tensors: Vec<(&'a str, TensorView<'a>)>,
    pub lengths: Vec<u64>,
}

/// Magic, version, metadata, directory, pad and the tensors array head (design D4's strict order).
pub(crate) fn read_bundle_prefix<'a>(r: &mut Reader<'a>) -> Result<BundlePrefix<'a>, Error> {
    let p = read_prefix_to_base(r)?;
    let th = r.expect_as(MAJOR_ARRAY, "the tensors array")?;
    if th.arg != p.tensors.len() as u64 {
        let detail = Detail::DirectoryCount {
            listed: p.tensors.len() as u64,
            found: th.arg,
        };
        return r.fail_with(ErrorCode::DirectoryMismatch, th.start, detail);
    }
    Ok(p)
}

/// Magic, version, metadata, directory and pad: the prefix `[0, B)`, leaving `r` at `B`.
fn read_prefix_to_base<'a>(r: &mut Reader<'a>) -> Result<BundlePrefix<'a>, Error> {
    open_document(r, BUNDLE_TAG)?;
    let h = open_array_as(r, "the bundle array")?;
    if h.arg != 5 {
        let detail = Detail::ArrayLength {
            what: "a bundle array has exactly 5 elements",
            found: h.arg,
        };
        return r.fail_with(ErrorCode::UnexpectedType, h.start, detail);
    }
    // The metadata limit is judged before the head's type (SPEC.md §7.1 bundle step 6).
    let mh = r.head()?;
    let metadata = read_metadata(r, mh)?;
    let (tensors, lengths) = read_directory(r)?;
    // The pad item: k zero bytes putting the tensors array head on a multiple of 8.
    let ph = r.expect_as(MAJOR_BYTES, "the pad (a byte string)")?;
    let body = r.take_as(ph.arg, "the pad")?;
    if body.iter().any(|&b| b != 0) {
        return r.fail_with(ErrorCode::BadPadding, ph.start, Detail::BundlePadNotZero);
    }
    if ph.arg as usize != base_pad(ph.start) {
        let detail = Detail::BundlePad {
            wanted: base_pad(ph.start) as u64,
            found: ph.arg,
        };
        return r.fail_with(ErrorCode::BadPadding, ph.start, detail);
    }
    Ok(BundlePrefix {
        metadata,
        tensors,
        lengths,
    })
}

/// One tensor item `[?pad, data]` for a directory entry (F3-F6, then the agreement with the entry).
/// Element checks are the caller's (right after, design D5).
pub(crate) fn read_item<'a>(
    r: &mut Reader<'a>,
    dtype: DType,
    n: u64,
    length: u64,
) -> Result<(Elements<'a>, usize), Error> {
    let ih = r.expect_as(MAJOR_ARRAY, "the item of a tensor (an array)")?;
    if ih.arg != 1 && ih.arg != 2 {
        let detail = Detail::ItemLength {
            name: ShortText::new(""),
            found: ih.arg,
        };
        return r.fail_with(ErrorCode::UnexpectedType, ih.start, detail);
    }
    let (elements, at) = read_body(r, dtype, n, ih.arg == 2)?;
    if dtype == DType::String && (r.pos - at) as u64 != length {
        // Reported at the item, as the reference decoder does (the item disagrees with its entry).
        let detail = Detail::ItemSize {
            name: ShortText::new(""),
            at: at as u64,
            found: (r.pos - at) as u64,
            wanted: length,
        };
        return r.fail_with(ErrorCode::DirectoryMismatch, ih.start, detail);
    }
    Ok((elements, at))
}

/// The directory: `[* [name, dtype, shape, offset, length ?, codec, filter]]`, each offset checked against
/// the layout rule.
#[allow(clippy::type_complexity)]
fn read_directory<'a>(
    r: &mut Reader<'a>,
) -> Result<(Vec<(&'a str, TensorView<'a>)>, Vec<u64>), Error> {
    let dh = r.expect_as(MAJOR_ARRAY, "the directory (an array)")?;
    // Each entry takes at least 7 input bytes, so this reserve is bounded by the input, never by the claim.
    let room = usize::try_from(dh.arg).map_or(0, |n| n.min(r.remaining() / 7));
    let mut entries: Vec<(&'a str, TensorView<'a>)> = Vec::with_capacity(room);
    let mut lengths: Vec<u64> = Vec::with_capacity(room);
    let mut prev: Option<&[u8]> = None;
    // Relative to the data base: the first item's start; None once the layout passes 2^64 - 1.
    let mut pos = Some(head_len(dh.arg) as u64);
    for _ in 0..dh.arg {
        let eh = r.expect_as(MAJOR_ARRAY, "a directory entry (an array)")?;
        if eh.arg != 5 && eh.arg != 7 {
            let detail = Detail::ArrayLength {
                what: "a directory entry has 5 or 7 elements",
                found: eh.arg,
            };
            return r.fail_with(ErrorCode::UnexpectedType, eh.start, detail);
        }
        let nh = r.expect_as(MAJOR_TEXT, "a tensor name (text)")?;
        let name = r.text_as(nh, "a tensor name")?;
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            let detail = Detail::NameLength { length: nh.arg };
            return r.fail_with(ErrorCode::InvalidName, nh.start, detail);
        }
        let encoded = &r.buf[nh.start..r.pos];
        if let Some(p) = prev {
            let name = ShortText::new(name);
            if encoded == p {
                let detail = Detail::DuplicateName { name };
                return r.fail_with(ErrorCode::DuplicateName, nh.start, detail);
            }
            if encoded < p {
                let detail = Detail::UnsortedName { name };
                return r.fail_with(ErrorCode::UnsortedKeys, nh.start, detail);
            }
        }
        prev = Some(encoded);
        let (dtype, shape, n) = read_header(r)?;
        let oh = r.expect_as(MAJOR_UINT, "the offset (unsigned integer)")?;
        let lh = r.expect_as(MAJOR_UINT, "the length (unsigned integer)")?;
        if eh.arg == 7 {
            // A Core decoder stops before the codec, without reading its head (SPEC.md §7.1 bundle step 7;
            // a string tensor is never compressed).
            let at = r.pos;
            let name = ShortText::new(name);
            if dtype == DType::String {
                let detail = Detail::CompressedString { name };
                return r.fail_with(ErrorCode::InvalidCompression, at, detail);
            }
            let detail = Detail::CompressedEntry { name };
            return r.fail_with(ErrorCode::UnsupportedCompression, at, detail);
        }
        if dtype != DType::String && Some(lh.arg) != data_len(dtype, n) {
            let detail = Detail::EntryLength {
                name: ShortText::new(name),
                dtype,
                shape: ShortShape::new(&shape),
                wanted: data_len(dtype, n).unwrap_or(0),
                found: lh.arg,
            };
            return r.fail_with(ErrorCode::ShapeMismatch, lh.start, detail);
        }
        // The offset the layout rule gives; once the layout has passed 2^64 - 1 (a huge claimed length), no
        // later entry's offset can match it, which the reference reports at that later entry.
        let wanted = pos
            .and_then(|p| item_offset(p, dtype, lh.arg))
            .map(|(o, _)| o);
        if wanted != Some(oh.arg) {
            let detail = Detail::EntryOffset {
                name: ShortText::new(name),
                wanted,
                found: oh.arg,
            };
            return r.fail_with(ErrorCode::DirectoryMismatch, oh.start, detail);
        }
        pos = oh.arg.checked_add(lh.arg);
        let t = TensorView {
            dtype,
            shape,
            elements: Elements::Bytes(&[]),
        };
        entries.push((name, t));
        lengths.push(lh.arg);
    }
    Ok((entries, lengths))
}

/// §7.1 steps 1-2: the self-described CBOR tag, then the document tag.
pub(crate) fn open_document(r: &mut Reader<'_>, want: u64) -> Result<(), Error> {
    let buf = r.buf;
    if buf.len() < 3 && SELF_DESCRIBE.starts_with(buf) {
        return r.fail_with(ErrorCode::Truncated, 0, Detail::TruncatedMagic);
    }
    if !buf.starts_with(&SELF_DESCRIBE) {
        return r.fail_with(ErrorCode::BadMagic, 0, Detail::NotSelfDescribed);
    }
    r.pos = 3;
    let h = r.head()?;
    if h.major != MAJOR_TAG || h.arg != want {
        // Stream chunks (other tags) keep the registry sentence.
        let document = want == TENSOR_TAG || want == BUNDLE_TAG;
        let detail = match (h.major, h.arg) {
            _ if !document => Detail::None,
            (MAJOR_TAG, TENSOR_TAG | BUNDLE_TAG) => Detail::WrongKind {
                found_bundle: h.arg == BUNDLE_TAG,
            },
            _ => Detail::NotTensorcbor,
        };
        return r.fail_with(ErrorCode::BadMagic, h.start, detail);
    }
    Ok(())
}

/// Design D1: expect a non-empty array, then the version 1; the caller checks the array length after that,
/// so a future version is UNSUPPORTED_VERSION whatever its length. Returns the array head.
#[cfg_attr(not(feature = "stream"), allow(dead_code))]
pub(crate) fn open_array(r: &mut Reader<'_>) -> Result<Head, Error> {
    open_array_as(r, "the top-level array")
}

/// [`open_array`], naming the array in error details.
pub(crate) fn open_array_as(r: &mut Reader<'_>, what: &'static str) -> Result<Head, Error> {
    let h = r.expect_as(MAJOR_ARRAY, what)?;
    if h.arg == 0 {
        let detail = Detail::EmptyArray { what };
        return r.fail_with(ErrorCode::UnexpectedType, h.start, detail);
    }
    let v = r.expect_as(MAJOR_UINT, "the version (unsigned integer)")?;
    if v.arg != VERSION {
        let detail = Detail::Version { version: v.arg };
        return r.fail_with(ErrorCode::UnsupportedVersion, v.start, detail);
    }
    Ok(h)
}

pub(crate) fn close_document(r: &Reader<'_>) -> Result<(), Error> {
    if r.remaining() != 0 {
        let detail = Detail::TrailingBytes {
            count: r.remaining() as u64,
        };
        return r.fail_with(ErrorCode::TrailingBytes, r.pos, detail);
    }
    Ok(())
}

/// F1-F2: dtype and shape. Returns them and the element count `n`.
pub(crate) fn read_header(r: &mut Reader<'_>) -> Result<(DType, Vec<u64>, u64), Error> {
    let dh = r.expect_as(MAJOR_UINT, "the dtype (unsigned integer)")?;
    let Some(dtype) = DType::from_code(dh.arg) else {
        let detail = Detail::UnknownDtype { code: dh.arg };
        return r.fail_with(ErrorCode::UnknownDtype, dh.start, detail);
    };
    let sh = r.expect_as(MAJOR_ARRAY, "the shape array")?;
    if sh.arg > MAX_RANK as u64 {
        let detail = Detail::Rank { rank: sh.arg };
        return r.fail_with(ErrorCode::RankTooLarge, sh.start, detail);
    }
    let mut shape = Vec::with_capacity(sh.arg as usize); // at most 32
    let mut nonzero: u64 = 1;
    for _ in 0..sh.arg {
        let d = r.expect_as(MAJOR_UINT, "a dimension (unsigned integer)")?;
        if d.arg != 0 {
            match nonzero.checked_mul(d.arg) {
                Some(p) if p <= MAX_SIZE => nonzero = p,
                _ => return r.fail_with(ErrorCode::SizeOverflow, d.start, Detail::Size),
            }
        }
        shape.push(d.arg);
    }
    // Block types (design D2, SPEC.md §4.6): rank >= 1 and the last dimension cut into whole blocks.
    if !shape_ok(dtype, &shape) {
        let detail = Detail::Blocks {
            dtype,
            last: shape.last().copied(),
        };
        return r.fail_with(ErrorCode::ShapeMismatch, sh.start, detail);
    }
    let n = if shape.contains(&0) { 0 } else { nonzero };
    Ok((dtype, shape, n))
}

/// F3-F6 for `n` elements of `dtype`: optional padding, then the data. Returns the elements and the offset
/// of the element bytes (for `string`: of the string array).
fn read_body<'a>(
    r: &mut Reader<'a>,
    dtype: DType,
    n: u64,
    padded: bool,
) -> Result<(Elements<'a>, usize), Error> {
    // F3
    let mut pad_len = 0usize;
    if padded {
        let ph = r.expect_as(MAJOR_BYTES, "the padding byte string")?;
        let body = r.take_as(ph.arg, "the padding")?;
        if body.iter().any(|&b| b != 0) {
            return r.fail_with(ErrorCode::BadPadding, ph.start, Detail::PaddingNotZero);
        }
        pad_len = r.pos - ph.start;
    }
    // F4
    if dtype == DType::String {
        if padded {
            return r.fail_with(
                ErrorCode::BadPadding,
                r.pos - pad_len,
                Detail::StringPadding,
            );
        }
        let ah = r.expect_as(MAJOR_ARRAY, "the string array")?;
        if ah.arg != n {
            let detail = Detail::StringCount {
                shape: ShortShape::default(),
                wanted: n,
                found: ah.arg,
            };
            return r.fail_with(ErrorCode::ShapeMismatch, ah.start, detail);
        }
        let mut strings = Vec::new(); // each element needs at least one input byte
        for _ in 0..n {
            let h = r.expect_as(MAJOR_TEXT, "a string element")?;
            strings.push(r.text_as(h, "a string element")?);
        }
        return Ok((Elements::Strings(strings), ah.start));
    }
    // F5
    let data_start = r.pos;
    let mut h = r.head()?;
    if h.major == MAJOR_TAG && h.arg == COMPRESSED_TAG {
        return r.fail_with(
            ErrorCode::UnsupportedCompression,
            h.start,
            Detail::Compressed,
        );
    }
    if let Some(tag) = dtype.rfc8746_tag() {
        if h.major != MAJOR_TAG || h.arg != tag {
            let detail = Detail::TypedTag {
                dtype,
                tag,
                found: (h.major == MAJOR_TAG).then_some(h.arg),
            };
            return r.fail_with(ErrorCode::UnexpectedTag, data_start, detail);
        }
        h = r.head()?;
    }
    if h.major != MAJOR_BYTES {
        let code = if h.major == MAJOR_TAG {
            ErrorCode::UnexpectedTag
        } else {
            ErrorCode::UnexpectedType
        };
        return r.fail_with(code, data_start, Detail::NotByteString { dtype });
    }
    // F6 (n <= 2^53 - 1, so the data length is below 2^57 and cannot overflow)
    let align = dtype.align();
    let unpadded = r.pos - pad_len;
    let needed = (align - unpadded % align) % align;
    if pad_len != needed {
        let detail = Detail::Misaligned {
            at: unpadded as u64,
            wanted: needed as u8,
            align: align as u8,
            found: pad_len as u64,
        };
        return r.fail_with(ErrorCode::BadPadding, data_start, detail);
    }
    if Some(h.arg) != data_len(dtype, n) {
        let detail = Detail::DataLength {
            dtype,
            shape: ShortShape::default(),
            wanted: data_len(dtype, n).unwrap_or(0),
            found: h.arg,
        };
        return r.fail_with(ErrorCode::ShapeMismatch, data_start, detail);
    }
    let at = r.pos;
    let data = r.take_as(h.arg, "the element data")?;
    Ok((Elements::Bytes(data), at))
}

/// §7.2: bool bytes are 0 or 1; unused bits after the last packed element are zero. The failing byte's
/// index and what is wrong with it.
pub(crate) fn element_error(dtype: DType, n: u64, data: &[u8]) -> Option<(usize, Detail)> {
    if dtype == DType::Bool {
        let i = data.iter().position(|&b| b > 1)?;
        let detail = Detail::Bool {
            index: i as u64,
            byte: data[i],
        };
        return Some((i, detail));
    }
    if dtype.is_packed() {
        let bits = (dtype.bits().unwrap_or(8) as u64).wrapping_mul(n); // n <= 2^53 - 1, bits <= 6
        let used = (bits % 8) as u32;
        if used != 0 {
            if let Some(&last) = data.last() {
                if last >> used != 0 {
                    return Some((data.len() - 1, Detail::TailBits { dtype }));
                }
            }
        }
    }
    None
}

/// The first element that breaks SPEC.md §7.2 in a decoded (or [`index_bundle`]d) tensor, as an
/// `INVALID_ELEMENT` error whose offset is `data_offset` (where the element bytes start in the document) plus
/// the failing byte's index. Whole-document decoders run it right after each tensor's fields (design D5); a
/// lazy reader runs it before handing out a tensor's values.
pub fn check_tensor_elements(t: &TensorView<'_>, data_offset: usize) -> Result<(), Error> {
    if let Elements::Bytes(data) = t.elements {
        if let Some((i, detail)) = element_error(t.dtype, t.element_count(), data) {
            return Err(Error::with(
                ErrorCode::InvalidElement,
                data_offset + i,
                detail,
            ));
        }
    }
    Ok(())
}
