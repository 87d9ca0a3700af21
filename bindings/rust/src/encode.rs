//! The deterministic encoder (SPEC.md §4, §5, §6.2): one valid encoding per input.

use crate::cbor::{
    head_len, write_head, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT,
};
use crate::decode::{
    element_error, Elements, TensorView, BUNDLE_TAG, MAX_NAME_BYTES, MAX_RANK, MAX_SIZE,
    SELF_DESCRIBE, TENSOR_TAG, VERSION,
};
use crate::dtype::DType;
use crate::error::{Detail, Error, ErrorCode, ShortShape, ShortText};
use crate::layout::{base_pad, data_len, item_layout, shape_ok};
use crate::value::{write_map, Metadata, Value, MAX_METADATA_BYTES};
use alloc::vec::Vec;

fn fail<T>(code: ErrorCode) -> Result<T, Error> {
    Err(Error::new(code, 0))
}

fn fail_with<T>(code: ErrorCode, detail: Detail) -> Result<T, Error> {
    Err(Error::with(code, 0, detail))
}

/// Encode a numeric tensor document. `data` is the wire form of the elements: little endian, sub-byte
/// types packed low bits first (SPEC.md §4.4). Use [`encode_view`] for `string` tensors.
///
/// Errors: `RANK_TOO_LARGE`, `SIZE_OVERFLOW`, `SHAPE_MISMATCH` (wrong data length, or `dtype` is
/// `string`), `INVALID_ELEMENT` (a bool byte above 1, non-zero unused tail bits).
pub fn encode_tensor(dtype: DType, shape: &[u64], data: &[u8]) -> Result<Vec<u8>, Error> {
    encode_view(&TensorView::new(dtype, shape, data))
}

/// A tensor document up to and including the head of its element byte string, for `length` data bytes of
/// `dtype` and `shape` (the caller appends exactly that many bytes): the buffer, with room reserved for the
/// header only, and `length`. `string` is `SHAPE_MISMATCH`.
pub(crate) fn tensor_prefix(dtype: DType, shape: &[u64]) -> Result<(Vec<u8>, u64), Error> {
    let t = TensorView::new(dtype, shape, &[]);
    let n = check_shape(&t)?;
    let Some(length) = data_len(dtype, n) else {
        return fail_with(ErrorCode::ShapeMismatch, Detail::NotByteString { dtype });
    };
    let mut out = Vec::with_capacity(32 + 9 * shape.len());
    out.extend_from_slice(&SELF_DESCRIBE);
    write_head(&mut out, MAJOR_TAG, TENSOR_TAG);
    let mut fields = Vec::with_capacity(16);
    fields.push(VERSION as u8);
    write_header(&mut fields, &t);
    write_bytes_head(&mut out, dtype, &fields, 4, length);
    Ok((out, length))
}

/// Encode any tensor (numeric or `string`) as a tensor document.
pub fn encode_view(t: &TensorView<'_>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(32 + t.data().map_or(0, <[u8]>::len));
    out.extend_from_slice(&SELF_DESCRIBE);
    write_head(&mut out, MAJOR_TAG, TENSOR_TAG);
    let n = check_shape(t)?;
    let mut fields = Vec::with_capacity(16);
    fields.push(VERSION as u8);
    write_header(&mut fields, t);
    write_array(&mut out, t, n, &fields, 4)?;
    Ok(out)
}

/// The bytes of a numeric tensor document that come before its element bytes: the document of a tensor of
/// `dtype` and `shape` is this head followed by its element bytes. A store that keeps element bytes elsewhere
/// (a canister's stable memory) serves documents without assembling them, and knows their length up front.
///
/// Errors: `RANK_TOO_LARGE`, `SIZE_OVERFLOW`, `SHAPE_MISMATCH` (a block type's last dimension, or `dtype`
/// is `string`, whose elements are not one byte range).
pub fn encode_tensor_head(dtype: DType, shape: &[u64]) -> Result<Vec<u8>, Error> {
    tensor_prefix(dtype, shape).map(|(head, _)| head)
}

/// Encode a bundle document: named tensors (any order; written sorted by encoded name) and a metadata
/// map (any order; written sorted by encoded key).
///
/// Errors: those of [`encode_tensor`], `INVALID_NAME`, `DUPLICATE_NAME`, `DUPLICATE_KEY`,
/// `NESTING_TOO_DEEP`, `METADATA_TOO_LARGE`, `UNSUPPORTED_VALUE` (an integer outside -2^64..2^64-1).
pub fn encode_bundle(
    tensors: &[(&str, TensorView<'_>)],
    metadata: &[(&str, Value<'_>)],
) -> Result<Vec<u8>, Error> {
    let mut meta = Vec::new();
    write_map(&mut meta, metadata, 1)?;
    bundle_with_metadata(tensors, &meta)
}

/// Encode a bundle whose metadata is a decoded [`Metadata`] (re-encoding a decoded bundle without building
/// a metadata tree).
pub fn encode_bundle_with(
    tensors: &[(&str, TensorView<'_>)],
    metadata: Metadata<'_>,
) -> Result<Vec<u8>, Error> {
    bundle_with_metadata(tensors, metadata.as_bytes())
}

/// `55799(52066([1, metadata, directory, pad, tensors]))` with the layout of design D4.
fn bundle_with_metadata(tensors: &[(&str, TensorView<'_>)], meta: &[u8]) -> Result<Vec<u8>, Error> {
    if meta.len() > MAX_METADATA_BYTES {
        return fail_with(ErrorCode::MetadataTooLarge, Detail::MetadataTooLarge);
    }
    let mut entries: Vec<(Vec<u8>, &TensorView<'_>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            let detail = Detail::NameLength {
                length: name.len() as u64,
            };
            return fail_with(ErrorCode::InvalidName, detail);
        }
        let mut key = Vec::with_capacity(name.len() + 3);
        write_head(&mut key, MAJOR_TEXT, name.len() as u64);
        key.extend_from_slice(name.as_bytes());
        entries.push((key, t));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        let name = core::str::from_utf8(&w[0].0[head_len(w[0].0.len() as u64)..]).unwrap_or("");
        let detail = Detail::DuplicateName {
            name: ShortText::new(name),
        };
        return fail_with(ErrorCode::DuplicateName, detail);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&SELF_DESCRIBE);
    write_head(&mut out, MAJOR_TAG, BUNDLE_TAG);
    out.extend_from_slice(&[0x85, VERSION as u8]);
    out.extend_from_slice(meta);
    // The directory; positions relative to the data base B.
    write_head(&mut out, MAJOR_ARRAY, entries.len() as u64);
    let mut pos = head_len(entries.len() as u64) as u64;
    let mut counts = Vec::with_capacity(entries.len());
    for (key, t) in &entries {
        let n = check_shape(t)?;
        let length = content_len(t, n)?;
        // The data is in memory, so positions fit in 64 bits; a failure would be a bug, reported not panicked.
        let Some(item) = item_layout(pos, t.dtype, length) else {
            return fail(ErrorCode::SizeOverflow);
        };
        out.push(0x85);
        out.extend_from_slice(key);
        write_header(&mut out, t);
        write_head(&mut out, MAJOR_UINT, item.offset);
        write_head(&mut out, MAJOR_UINT, length);
        pos = item.end;
        counts.push(n);
    }
    let k = base_pad(out.len());
    out.push(0x40 | k as u8);
    out.resize(out.len() + k, 0);
    let base = out.len();
    out.reserve(pos as usize);
    write_head(&mut out, MAJOR_ARRAY, entries.len() as u64);
    for ((_, t), n) in entries.iter().zip(counts) {
        write_array(&mut out, t, n, &[], 1)?;
    }
    debug_assert_eq!((out.len() - base) as u64, pos);
    Ok(out)
}

/// The product of the non-zero dimensions (checked against 2^53 - 1) and the element count.
fn check_shape(t: &TensorView<'_>) -> Result<u64, Error> {
    if t.shape.len() > MAX_RANK {
        let detail = Detail::Rank {
            rank: t.shape.len() as u64,
        };
        return fail_with(ErrorCode::RankTooLarge, detail);
    }
    let mut nonzero: u64 = 1;
    for &d in t.shape.iter().filter(|&&d| d != 0) {
        match nonzero.checked_mul(d) {
            Some(p) if p <= MAX_SIZE => nonzero = p,
            _ => return fail_with(ErrorCode::SizeOverflow, Detail::Size),
        }
    }
    if !shape_ok(t.dtype, &t.shape) {
        // block types, SPEC.md §4.6
        let detail = Detail::Blocks {
            dtype: t.dtype,
            last: t.shape.last().copied(),
        };
        return fail_with(ErrorCode::ShapeMismatch, detail);
    }
    Ok(if t.shape.contains(&0) { 0 } else { nonzero })
}

/// The directory `length`: element bytes, or the encoded string array; checks the elements.
fn content_len(t: &TensorView<'_>, n: u64) -> Result<u64, Error> {
    match (&t.elements, t.dtype) {
        (Elements::Strings(strings), DType::String) => {
            if strings.len() as u64 != n {
                let detail = Detail::StringCount {
                    shape: ShortShape::new(&t.shape),
                    wanted: n,
                    found: strings.len() as u64,
                };
                return fail_with(ErrorCode::ShapeMismatch, detail);
            }
            Ok(strings.iter().fold(head_len(n) as u64, |acc, s| {
                acc + (head_len(s.len() as u64) + s.len()) as u64
            }))
        }
        (Elements::Bytes(data), dtype) if dtype != DType::String => {
            if Some(data.len() as u64) != data_len(dtype, n) {
                let detail = Detail::DataLength {
                    dtype,
                    shape: ShortShape::new(&t.shape),
                    wanted: data_len(dtype, n).unwrap_or(0),
                    found: data.len() as u64,
                };
                return fail_with(ErrorCode::ShapeMismatch, detail);
            }
            if let Some((_, detail)) = element_error(dtype, n, data) {
                return fail_with(ErrorCode::InvalidElement, detail);
            }
            Ok(data.len() as u64)
        }
        (_, dtype) => fail_with(ErrorCode::ShapeMismatch, Detail::NotByteString { dtype }),
    }
}

/// `dtype, shape` heads.
fn write_header(out: &mut Vec<u8>, t: &TensorView<'_>) {
    write_head(out, MAJOR_UINT, t.dtype.code() as u64);
    write_head(out, MAJOR_ARRAY, t.shape.len() as u64);
    for &d in &t.shape {
        write_head(out, MAJOR_UINT, d);
    }
}

/// Append the array `[fields..., ?pad, data]`: `fields` are already-encoded items counted by `fixed` (data
/// included). The padding of §4.3 is relative to `out`'s start (a bundle's data base is 8-aligned, so this
/// is the layout rule of design D4 too).
fn write_array(
    out: &mut Vec<u8>,
    t: &TensorView<'_>,
    n: u64,
    fields: &[u8],
    fixed: u8,
) -> Result<(), Error> {
    let length = content_len(t, n)?;
    match &t.elements {
        Elements::Strings(strings) => {
            out.push(0x80 | fixed);
            out.extend_from_slice(fields);
            write_head(out, MAJOR_ARRAY, n);
            for s in strings {
                write_head(out, MAJOR_TEXT, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        }
        Elements::Bytes(data) => {
            write_bytes_head(out, t.dtype, fields, fixed, length);
            out.extend_from_slice(data);
        }
    }
    Ok(())
}

/// Append `[fields..., ?pad,` and the (tagged) head of `length` element bytes of `dtype`, padded so that the
/// bytes start at a multiple of `dtype.align()` relative to `out`'s start.
fn write_bytes_head(out: &mut Vec<u8>, dtype: DType, fields: &[u8], fixed: u8, length: u64) {
    let tag_len = dtype.rfc8746_tag().map_or(0, head_len);
    // The array head is one byte whether or not the pad item is there.
    let p = out.len() + 1 + fields.len() + tag_len + head_len(length);
    let align = dtype.align();
    let s = (align - p % align) % align;
    out.push(0x80 | (fixed + (s > 0) as u8));
    out.extend_from_slice(fields);
    if s > 0 {
        out.push(0x40 | (s as u8 - 1));
        out.resize(out.len() + s - 1, 0);
    }
    if let Some(tag) = dtype.rfc8746_tag() {
        write_head(out, MAJOR_TAG, tag);
    }
    write_head(out, MAJOR_BYTES, length);
}
