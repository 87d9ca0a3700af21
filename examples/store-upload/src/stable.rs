//! Stable-memory layout of a canister that stores an uploaded document, and the state that survives upgrades.
//!
//! ```text
//! [0, 64 KiB)          header: the canister's magic (8 bytes), its layout version (u32 LE), 4 zero bytes,
//!                      state offset (u64 LE), state length (u64 LE); written only by `save` (pre_upgrade)
//! [64 KiB, ...)        the uploaded document, byte for byte (chunk payloads written as they arrive), then
//!                      whatever the canister places after it
//! [state offset, +len) the canister's Candid-encoded state, written by `save` after the used bytes
//! ```

use candid::CandidType;
use serde::de::DeserializeOwned;

pub const PAGE: u64 = 65536;
/// Where the uploaded document starts.
pub const DATA_BASE: u64 = PAGE;

/// What identifies a canister's stable memory: `load` refuses a header of another magic or version.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub magic: [u8; 8],
    pub version: u32,
}

/// Grow stable memory so that `[0, end)` is addressable.
pub fn ensure(end: u64) -> Result<(), String> {
    let pages = end.div_ceil(PAGE);
    let have = ic_cdk::stable::stable_size();
    if pages > have && ic_cdk::api::stable_grow(pages - have) == u64::MAX {
        return Err(format!("stable memory cannot grow to {end} bytes"));
    }
    Ok(())
}

pub fn read(at: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len as usize];
    if len > 0 {
        ic_cdk::stable::stable_read(at, &mut buf);
    }
    buf
}

pub fn write(at: u64, data: &[u8]) -> Result<(), String> {
    ensure(at + data.len() as u64)?;
    ic_cdk::stable::stable_write(at, data);
    Ok(())
}

/// Stable memory in bytes.
pub fn size() -> u64 {
    ic_cdk::stable::stable_size() * PAGE
}

/// pre_upgrade: `state` written at `used` (the first byte past everything the canister keeps in stable
/// memory), then the header that finds it. Traps if it cannot (the upgrade is then refused).
pub fn save<T: CandidType>(layout: &Layout, used: u64, state: &T) {
    let bytes = candid::encode_one(state)
        .unwrap_or_else(|e| ic_cdk::trap(format!("cannot encode state: {e}")));
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(&layout.magic);
    header.extend_from_slice(&layout.version.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    header.extend_from_slice(&used.to_le_bytes());
    header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    if let Err(e) = write(used, &bytes).and_then(|()| write(0, &header)) {
        ic_cdk::trap(e);
    }
}

/// post_upgrade: the state `save` wrote, or `None` if stable memory holds no header of this magic. Traps on
/// another layout version of the same magic (the upgrade is then refused, stable memory untouched).
pub fn load<T: DeserializeOwned + CandidType>(layout: &Layout) -> Option<T> {
    if ic_cdk::stable::stable_size() == 0 {
        return None;
    }
    let header = read(0, 32);
    if header[..8] != layout.magic {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or([0; 8]));
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]));
    if version != layout.version {
        ic_cdk::trap(format!(
            "stable memory layout {version}; this canister reads layout {}",
            layout.version
        ));
    }
    let bytes = read(word(16), word(24));
    Some(
        candid::decode_one(&bytes)
            .unwrap_or_else(|e| ic_cdk::trap(format!("cannot decode saved state: {e}"))),
    )
}
