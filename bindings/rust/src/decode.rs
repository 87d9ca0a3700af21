//! The strict decoder of SPEC.md §7.1 and §7.2: zero-copy views into the input.

use crate::cbor::{Reader, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT};
use crate::dtype::DType;
use crate::error::{Error, ErrorCode};
use crate::value::{read_map, Value, MAX_METADATA_BYTES};
use alloc::vec::Vec;

pub(crate) const SELF_DESCRIBE: [u8; 3] = [0xd9, 0xd9, 0xf7];
pub(crate) const TENSOR_TAG: u64 = 52084;
pub(crate) const BUNDLE_TAG: u64 = 52066;
pub(crate) const COMPRESSED_TAG: u64 = 52090;
pub(crate) const VERSION: u64 = 1;
/// The largest rank (SPEC.md §4.1).
pub const MAX_RANK: usize = 32;
/// The largest element count and data length, 2^63 - 1 (SPEC.md §4.2).
pub const MAX_SIZE: u64 = (1 << 63) - 1;
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

    /// Whether the tensor has no elements (a zero dimension).
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }
}

/// A decoded bundle: metadata and tensors, both in wire order.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleView<'a> {
    pub metadata: Vec<(&'a str, Value<'a>)>,
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

    /// The metadata value of `key`.
    pub fn meta(&self, key: &str) -> Option<&Value<'a>> {
        self.metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Decode a tensor document strictly (SPEC.md §5.1, §7.1, §7.2). The element bytes are not copied.
pub fn decode_tensor(buf: &[u8]) -> Result<TensorView<'_>, Error> {
    let mut r = Reader::new(buf);
    open_document(&mut r, TENSOR_TAG)?;
    let h = r.expect(MAJOR_ARRAY)?;
    if h.arg != 4 && h.arg != 5 {
        return r.fail(ErrorCode::UnexpectedType, h.start);
    }
    read_version(&mut r)?;
    let (t, at) = read_fields(&mut r, h.arg == 5)?;
    close_document(&r)?;
    check_elements(&t, at)?;
    Ok(t)
}

/// Decode a bundle document strictly (SPEC.md §5.2, §7.1, §7.2). Element bytes are not copied.
pub fn decode_bundle(buf: &[u8]) -> Result<BundleView<'_>, Error> {
    let mut r = Reader::new(buf);
    open_document(&mut r, BUNDLE_TAG)?;
    let h = r.expect(MAJOR_ARRAY)?;
    if h.arg != 3 {
        return r.fail(ErrorCode::UnexpectedType, h.start);
    }
    read_version(&mut r)?;
    let mh = r.expect(MAJOR_MAP)?;
    let metadata = read_map(&mut r, mh.arg, 1)?;
    if r.pos - mh.start > MAX_METADATA_BYTES {
        return r.fail(ErrorCode::MetadataTooLarge, mh.start);
    }
    let th = r.expect(MAJOR_MAP)?;
    let mut tensors: Vec<(&str, TensorView<'_>)> = Vec::new();
    let mut offsets = Vec::new();
    let mut prev: Option<&[u8]> = None;
    for _ in 0..th.arg {
        let nh = r.expect(MAJOR_TEXT)?;
        let name = r.text(nh)?;
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return r.fail(ErrorCode::InvalidName, nh.start);
        }
        let encoded = &buf[nh.start..r.pos];
        if let Some(p) = prev {
            if encoded == p {
                return r.fail(ErrorCode::DuplicateName, nh.start);
            }
            if encoded < p {
                return r.fail(ErrorCode::UnsortedKeys, nh.start);
            }
        }
        prev = Some(encoded);
        let ah = r.expect(MAJOR_ARRAY)?;
        if ah.arg != 3 && ah.arg != 4 {
            return r.fail(ErrorCode::UnexpectedType, ah.start);
        }
        let (t, at) = read_fields(&mut r, ah.arg == 4)?;
        tensors.push((name, t));
        offsets.push(at);
    }
    close_document(&r)?;
    for ((_, t), at) in tensors.iter().zip(offsets) {
        check_elements(t, at)?;
    }
    Ok(BundleView { metadata, tensors })
}

/// §7.1 steps 1-2: the self-described CBOR tag, then the document tag.
fn open_document(r: &mut Reader<'_>, want: u64) -> Result<(), Error> {
    let buf = r.buf;
    if buf.len() < 3 && SELF_DESCRIBE.starts_with(buf) {
        return r.fail(ErrorCode::Truncated, 0);
    }
    if !buf.starts_with(&SELF_DESCRIBE) {
        return r.fail(ErrorCode::BadMagic, 0);
    }
    r.pos = 3;
    let h = r.head()?;
    if h.major != MAJOR_TAG || h.arg != want {
        return r.fail(ErrorCode::BadMagic, h.start);
    }
    Ok(())
}

fn read_version(r: &mut Reader<'_>) -> Result<(), Error> {
    let h = r.expect(MAJOR_UINT)?;
    if h.arg != VERSION {
        return r.fail(ErrorCode::UnsupportedVersion, h.start);
    }
    Ok(())
}

fn close_document(r: &Reader<'_>) -> Result<(), Error> {
    if r.remaining() != 0 {
        return r.fail(ErrorCode::TrailingBytes, r.pos);
    }
    Ok(())
}

/// Steps F1-F6: dtype, shape, optional padding, data. Returns the tensor and the offset of its elements.
fn read_fields<'a>(r: &mut Reader<'a>, padded: bool) -> Result<(TensorView<'a>, usize), Error> {
    // F1
    let fields_start = r.pos;
    let dh = r.expect(MAJOR_UINT)?;
    let Some(dtype) = DType::from_code(dh.arg) else {
        return r.fail(ErrorCode::UnknownDtype, dh.start);
    };
    // F2
    let sh = r.expect(MAJOR_ARRAY)?;
    if sh.arg > MAX_RANK as u64 {
        return r.fail(ErrorCode::RankTooLarge, sh.start);
    }
    let mut shape = Vec::with_capacity(sh.arg as usize); // at most 32
    let mut nonzero: u64 = 1;
    for _ in 0..sh.arg {
        let d = r.expect(MAJOR_UINT)?;
        if d.arg != 0 {
            match nonzero.checked_mul(d.arg) {
                Some(p) if p <= MAX_SIZE => nonzero = p,
                _ => return r.fail(ErrorCode::SizeOverflow, d.start),
            }
        }
        shape.push(d.arg);
    }
    if !dtype.shape_ok(&shape) {
        return r.fail(ErrorCode::ShapeMismatch, sh.start); // block types, SPEC.md §4.6
    }
    let n = if shape.contains(&0) { 0 } else { nonzero };
    // F3
    let mut pad_len = 0usize;
    if padded {
        let ph = r.expect(MAJOR_BYTES)?;
        let body = r.take(ph.arg)?;
        if body.iter().any(|&b| b != 0) {
            return r.fail(ErrorCode::BadPadding, ph.start);
        }
        pad_len = r.pos - ph.start;
    }
    // F4
    if dtype == DType::String {
        if padded {
            return r.fail(ErrorCode::BadPadding, r.pos - pad_len);
        }
        let ah = r.expect(MAJOR_ARRAY)?;
        if ah.arg != n {
            return r.fail(ErrorCode::ShapeMismatch, ah.start);
        }
        let mut strings = Vec::new(); // each element needs at least one input byte
        for _ in 0..n {
            let h = r.expect(MAJOR_TEXT)?;
            strings.push(r.text(h)?);
        }
        let t = TensorView {
            dtype,
            shape,
            elements: Elements::Strings(strings),
        };
        return Ok((t, ah.start));
    }
    // F5
    let data_start = r.pos;
    let mut h = r.head()?;
    if h.major == MAJOR_TAG && h.arg == COMPRESSED_TAG {
        return r.fail(ErrorCode::UnsupportedCompression, h.start);
    }
    if let Some(tag) = dtype.rfc8746_tag() {
        if h.major != MAJOR_TAG || h.arg != tag {
            return r.fail(ErrorCode::UnexpectedTag, data_start);
        }
        h = r.head()?;
    }
    if h.major != MAJOR_BYTES {
        let code = if h.major == MAJOR_TAG {
            ErrorCode::UnexpectedTag
        } else {
            ErrorCode::UnexpectedType
        };
        return r.fail(code, data_start);
    }
    // F6
    let align = dtype.align();
    let unpadded = r.pos - pad_len;
    let needed = (align - unpadded % align) % align;
    if pad_len != needed {
        return r.fail(ErrorCode::BadPadding, data_start);
    }
    let expected = dtype.data_len(n).unwrap_or(0);
    if expected > MAX_SIZE as u128 {
        return r.fail(ErrorCode::SizeOverflow, fields_start);
    }
    if h.arg as u128 != expected {
        return r.fail(ErrorCode::ShapeMismatch, data_start);
    }
    let at = r.pos;
    let data = r.take(h.arg)?;
    Ok((
        TensorView {
            dtype,
            shape,
            elements: Elements::Bytes(data),
        },
        at,
    ))
}

/// §7.2: bool bytes are 0 or 1; unused bits after the last packed element are zero.
pub(crate) fn element_error(dtype: DType, n: u64, data: &[u8]) -> Option<usize> {
    if dtype == DType::Bool {
        return data.iter().position(|&b| b > 1);
    }
    if dtype.is_packed() {
        let bits = dtype.bits().unwrap_or(8) as u128 * n as u128;
        let used = (bits % 8) as u32;
        if used != 0 {
            if let Some(&last) = data.last() {
                if last >> used != 0 {
                    return Some(data.len() - 1);
                }
            }
        }
    }
    None
}

fn check_elements(t: &TensorView<'_>, at: usize) -> Result<(), Error> {
    if let Elements::Bytes(data) = t.elements {
        let n = if t.is_empty() { 0 } else { t.len() };
        if let Some(i) = element_error(t.dtype, n, data) {
            return Err(Error::new(ErrorCode::InvalidElement, at + i));
        }
    }
    Ok(())
}
