//! Stable memory: a 64-byte header, then the uploaded document. The header names a complete document only after
//! `finish` verified it, so `post_upgrade` can load the model again without a new upload.
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `TCBMODEL` |
//! | 8..16 | length of the verified document (0: none) |
//! | 16..20 | attention heads (u32 LE) |
//! | 24..32 | layer-norm epsilon (f64 LE) |

const PAGE: u64 = 65536;
const MAGIC: &[u8; 8] = b"TCBMODEL";
/// Where the document starts.
pub const DATA: u64 = 64;

/// Grow stable memory so that `[0, end)` is addressable.
fn reserve(end: u64) -> Result<(), String> {
    let pages = end.div_ceil(PAGE);
    let have = ic_cdk::stable::stable_size();
    if pages > have && ic_cdk::api::stable_grow(pages - have) == u64::MAX {
        return Err(format!("stable memory cannot grow to {end} bytes"));
    }
    Ok(())
}

pub fn write(at: u64, data: &[u8]) -> Result<(), String> {
    reserve(at + data.len() as u64)?;
    ic_cdk::stable::stable_write(at, data);
    Ok(())
}

pub fn read(at: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0; len as usize];
    ic_cdk::stable::stable_read(at, &mut buf);
    buf
}

/// What the header records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub doc_length: u64,
    pub heads: u32,
    pub layer_norm_eps: f64,
}

pub fn save_header(h: &Header) -> Result<(), String> {
    let mut b = [0u8; DATA as usize];
    b[..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&h.doc_length.to_le_bytes());
    b[16..20].copy_from_slice(&h.heads.to_le_bytes());
    b[24..32].copy_from_slice(&h.layer_norm_eps.to_le_bytes());
    write(0, &b)
}

/// The header, if stable memory holds one.
pub fn load_header() -> Option<Header> {
    if ic_cdk::stable::stable_size() == 0 {
        return None;
    }
    let b = read(0, DATA);
    if &b[..8] != MAGIC {
        return None;
    }
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    Some(Header {
        doc_length: u64_at(8),
        heads: u32::from_le_bytes(b[16..20].try_into().unwrap_or([0; 4])),
        layer_norm_eps: f64::from_bits(u64_at(24)),
    })
}

pub fn stable_bytes() -> u64 {
    ic_cdk::stable::stable_size() * PAGE
}
