//! The bundle layout rule of format 1.0 (design D4), shared by the encoder and the strict decoder.
//!
//! Positions are relative to the data base B (the tensors array head, 8-aligned), so the padding of §4.3 and
//! every offset follow from the directory alone.

use crate::cbor::head_len;
use crate::dtype::DType;

/// Where one tensor item starting at relative position `start` puts its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemLayout {
    /// Length of the padding item (0: absent; else head plus `pad - 1` zero bytes).
    pub pad: usize,
    /// Relative offset of the element bytes (for `string`: of the string array).
    pub offset: u64,
    /// Relative position just after the item.
    pub end: u64,
}

/// The layout of an uncompressed item `[?pad, data]` at `start` whose content is `length` bytes long;
/// `None` if a position would pass 2^64 - 1 (no real document gets there: then no offset can match).
pub(crate) fn item_layout(start: u64, dtype: DType, length: u64) -> Option<ItemLayout> {
    let (offset, pad) = item_offset(start, dtype, length)?;
    Some(ItemLayout {
        pad,
        offset,
        end: offset.checked_add(length)?,
    })
}

/// Where the bytes an entry locates start (and the item's padding) for an item whose array head is at `start`;
/// `None` past 2^64 - 1.
pub(crate) fn item_offset(start: u64, dtype: DType, length: u64) -> Option<(u64, usize)> {
    if dtype == DType::String {
        return Some((start.checked_add(1)?, 0));
    }
    let tag_len = dtype.rfc8746_tag().map_or(0, head_len) as u64;
    let unpadded = start.checked_add(1 + tag_len + head_len(length) as u64)?;
    let align = dtype.align() as u64; // 1, 2, 4 or 8
    let pad = (align - unpadded % align) % align;
    // pad < 8 and unpadded % align + pad <= align: cannot overflow past 2^64
    Some((unpadded + pad, pad as usize))
}

/// The number of zero bytes of the bundle's pad item when it starts at `pos`: the tensors array head after
/// it is 8-aligned.
pub(crate) const fn base_pad(pos: usize) -> usize {
    (8 - (pos + 1) % 8) % 8
}

/// The data length of `n` elements of a non-`string` dtype: `ceil(n * bits / 8)`, or whole blocks for a block
/// type (`None` for `string`, or past 2^64 - 1, which no `n` within the 2^53 - 1 limit reaches).
///
/// Same rule as [`DType::data_len`], in 64-bit arithmetic with no panicking division: on wasm32 this keeps
/// 128-bit helpers and the divide-by-zero panic path out of a canister.
pub(crate) fn data_len(dtype: DType, n: u64) -> Option<u64> {
    if let Some((elems, bytes)) = dtype.block() {
        return (n / core::num::NonZeroU64::new(elems)?).checked_mul(bytes);
    }
    let bits = dtype.bits()? as u64;
    Some(n.checked_mul(bits)?.div_ceil(8))
}

/// The block rule of SPEC.md §4.6 (as [`DType::shape_ok`]): rank >= 1 and the last dimension a multiple
/// of the block size; always true for other dtypes.
pub(crate) fn shape_ok(dtype: DType, shape: &[u64]) -> bool {
    match dtype.block() {
        Some((elems, _)) => match (shape.last(), core::num::NonZeroU64::new(elems)) {
            (Some(&d), Some(e)) => d % e == 0,
            _ => false,
        },
        None => true,
    }
}
