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
    if dtype == DType::String {
        let offset = start.checked_add(1)?;
        return Some(ItemLayout {
            pad: 0,
            offset,
            end: offset.checked_add(length)?,
        });
    }
    let tag_len = dtype.rfc8746_tag().map_or(0, head_len) as u64;
    let unpadded = start.checked_add(1 + tag_len + head_len(length) as u64)?;
    let align = dtype.align() as u64; // 1, 2, 4 or 8
    let pad = (align - unpadded % align) % align;
    let offset = unpadded + pad; // pad < 8 and unpadded % align + pad <= align: cannot overflow past 2^64
    Some(ItemLayout {
        pad: pad as usize,
        offset,
        end: offset.checked_add(length)?,
    })
}

/// The number of zero bytes of the bundle's pad item when it starts at `pos`: the tensors array head after
/// it is 8-aligned.
pub(crate) const fn base_pad(pos: usize) -> usize {
    (8 - (pos + 1) % 8) % 8
}
