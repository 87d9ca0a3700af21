//! The deterministic encoder (SPEC.md §4, §5, §6.2): one valid encoding per input.

use crate::cbor::{
    head_len, write_head, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT,
};
use crate::decode::{
    element_error, Elements, TensorView, BUNDLE_TAG, MAX_NAME_BYTES, MAX_RANK, MAX_SIZE,
    SELF_DESCRIBE, TENSOR_TAG, VERSION,
};
use crate::dtype::DType;
use crate::error::{Error, ErrorCode};
use crate::value::{write_map, Value, MAX_METADATA_BYTES};
use alloc::vec::Vec;

fn fail<T>(code: ErrorCode) -> Result<T, Error> {
    Err(Error::new(code, 0))
}

/// Encode a numeric tensor document. `data` is the wire form of the elements: little endian, sub-byte
/// types packed low bits first (SPEC.md §4.4). Use [`encode_view`] for `string` tensors.
///
/// Errors: `RANK_TOO_LARGE`, `SIZE_OVERFLOW`, `SHAPE_MISMATCH` (wrong data length, or `dtype` is
/// `string`), `INVALID_ELEMENT` (a bool byte above 1, non-zero unused tail bits).
pub fn encode_tensor(dtype: DType, shape: &[u64], data: &[u8]) -> Result<Vec<u8>, Error> {
    encode_view(&TensorView::new(dtype, shape, data))
}

/// Encode any tensor (numeric or `string`) as a tensor document.
pub fn encode_view(t: &TensorView<'_>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(32 + t.data().map_or(0, <[u8]>::len));
    out.extend_from_slice(&SELF_DESCRIBE);
    write_head(&mut out, MAJOR_TAG, TENSOR_TAG);
    write_item(&mut out, t, true)?;
    Ok(out)
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
    let mut entries: Vec<(Vec<u8>, &TensorView<'_>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return fail(ErrorCode::InvalidName);
        }
        let mut key = Vec::with_capacity(name.len() + 3);
        write_head(&mut key, MAJOR_TEXT, name.len() as u64);
        key.extend_from_slice(name.as_bytes());
        entries.push((key, t));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if entries.windows(2).any(|w| w[0].0 == w[1].0) {
        return fail(ErrorCode::DuplicateName);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&SELF_DESCRIBE);
    write_head(&mut out, MAJOR_TAG, BUNDLE_TAG);
    out.extend_from_slice(&[0x83, VERSION as u8]);
    let meta_start = out.len();
    write_map(&mut out, metadata, 1)?;
    if out.len() - meta_start > MAX_METADATA_BYTES {
        return fail(ErrorCode::MetadataTooLarge);
    }
    write_head(&mut out, MAJOR_MAP, entries.len() as u64);
    for (key, t) in entries {
        out.extend_from_slice(&key);
        write_item(&mut out, t, false)?;
    }
    Ok(out)
}

/// Append `[?version, dtype, shape, ?pad, data]` with the padding of §4.3 relative to `out`'s start.
fn write_item(out: &mut Vec<u8>, t: &TensorView<'_>, version: bool) -> Result<(), Error> {
    if t.shape.len() > MAX_RANK {
        return fail(ErrorCode::RankTooLarge);
    }
    let mut nonzero: u64 = 1;
    for &d in t.shape.iter().filter(|&&d| d != 0) {
        match nonzero.checked_mul(d) {
            Some(p) if p <= MAX_SIZE => nonzero = p,
            _ => return fail(ErrorCode::SizeOverflow),
        }
    }
    if !t.dtype.shape_ok(&t.shape) {
        return fail(ErrorCode::ShapeMismatch); // block types: rank >= 1, last dimension a multiple of the block
    }
    let n = if t.shape.contains(&0) { 0 } else { nonzero };
    let mut fields = Vec::with_capacity(16);
    if version {
        fields.push(VERSION as u8);
    }
    write_head(&mut fields, MAJOR_UINT, t.dtype.code() as u64);
    write_head(&mut fields, MAJOR_ARRAY, t.shape.len() as u64);
    for &d in &t.shape {
        write_head(&mut fields, MAJOR_UINT, d);
    }
    let base = if version { 4 } else { 3 };
    match (&t.elements, t.dtype) {
        (Elements::Strings(strings), DType::String) => {
            if strings.len() as u64 != n {
                return fail(ErrorCode::ShapeMismatch);
            }
            out.push(0x80 | base);
            out.extend_from_slice(&fields);
            write_head(out, MAJOR_ARRAY, n);
            for s in strings {
                write_head(out, MAJOR_TEXT, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        }
        (Elements::Bytes(data), dtype) if dtype != DType::String => {
            let expected = dtype.data_len(n).unwrap_or(0);
            if expected > MAX_SIZE as u128 {
                return fail(ErrorCode::SizeOverflow);
            }
            if data.len() as u128 != expected {
                return fail(ErrorCode::ShapeMismatch);
            }
            if element_error(dtype, n, data).is_some() {
                return fail(ErrorCode::InvalidElement);
            }
            let tag_len = dtype.rfc8746_tag().map_or(0, head_len);
            // The array head is one byte whether or not the pad item is there.
            let p = out.len() + 1 + fields.len() + tag_len + head_len(data.len() as u64);
            let align = dtype.align();
            let s = (align - p % align) % align;
            out.push(0x80 | (base + (s > 0) as u8));
            out.extend_from_slice(&fields);
            if s > 0 {
                out.push(0x40 | (s as u8 - 1));
                out.resize(out.len() + s - 1, 0);
            }
            if let Some(tag) = dtype.rfc8746_tag() {
                write_head(out, MAJOR_TAG, tag);
            }
            write_head(out, MAJOR_BYTES, data.len() as u64);
            out.extend_from_slice(data);
        }
        _ => return fail(ErrorCode::ShapeMismatch),
    }
    Ok(())
}
