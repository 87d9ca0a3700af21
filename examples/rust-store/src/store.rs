//! Stable-memory layout and the canister state that survives upgrades.
//!
//! ```text
//! [0, 64 KiB)        header: b"TCBSTORE", layout version (u32 LE), 4 zero bytes, state offset (u64 LE),
//!                    state length (u64 LE); written only by pre_upgrade
//! [64 KiB, ...)      the uploaded document, byte for byte (chunk payloads written as they arrive), then the
//!                    re-encoded documents of `string` tensors
//! [state offset, +len) the Candid-encoded `State`, written by pre_upgrade after the used bytes
//! ```
//! Between messages the heap holds `State` (the manifest chunk of an unfinished upload, and per tensor its
//! name, dtype, shape, the head bytes of its tensor document and where its bytes are): the tensors
//! themselves stay in stable memory.

use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;

pub const PAGE: u64 = 65536;
pub const DATA_BASE: u64 = PAGE;
const MAGIC: &[u8; 8] = b"TCBSTORE";
const LAYOUT_VERSION: u32 = 1;

/// An upload in progress: the verified manifest chunk and how far the stream has come (what
/// `SequentialReceiver::resume` needs after an upgrade).
#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct UploadState {
    pub manifest: ByteBuf,
    pub stream_digest: ByteBuf,
    /// The next data chunk expected (1..=N+1).
    pub next: u64,
    /// Payload bytes written so far, at DATA_BASE.
    pub received: u64,
}

/// A stored tensor: its served tensor document is `header` followed by stable bytes
/// `[body_at, body_at + body_len)` (for a numeric tensor the element bytes inside the uploaded document; for a
/// `string` tensor `header` is empty and the body is its whole re-encoded document).
#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub size: u64,
    pub header: ByteBuf,
    pub body_at: u64,
    pub body_len: u64,
}

impl Entry {
    pub fn doc_size(&self) -> u64 {
        self.header.len() as u64 + self.body_len
    }
}

#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct Model {
    pub doc_length: u64,
    pub entries: Vec<Entry>,
    /// First stable byte past everything the model uses.
    pub end: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct State {
    pub quota: u64,
    pub allowed: Vec<Principal>,
    pub upload: Option<UploadState>,
    pub model: Option<Model>,
}

impl Default for State {
    fn default() -> Self {
        State {
            quota: DEFAULT_QUOTA,
            allowed: Vec::new(),
            upload: None,
            model: None,
        }
    }
}

/// Default quota on a declared document length: 1 GiB. `finish` verifies the document from stable memory
/// in windows (the heap holds at most the largest tensor item and one window), so the quota may exceed the
/// 4 GiB wasm32 heap: `MAX_QUOTA` leaves room under the IC's 500 GiB of stable memory.
pub const DEFAULT_QUOTA: u64 = 1 << 30;
pub const MAX_QUOTA: u64 = 480 << 30;

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

/// pre_upgrade: the state after the used bytes, and the header that finds it.
pub fn save(state: &State) {
    let used = match (&state.model, &state.upload) {
        (Some(m), _) => m.end,
        (None, Some(u)) => DATA_BASE + u.received,
        (None, None) => DATA_BASE,
    };
    let bytes = candid::encode_one(state)
        .unwrap_or_else(|e| ic_cdk::trap(format!("cannot encode state: {e}")));
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    header.extend_from_slice(&used.to_le_bytes());
    header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    if let Err(e) = write(used, &bytes).and_then(|()| write(0, &header)) {
        ic_cdk::trap(e);
    }
}

/// post_upgrade: the saved state, or a fresh one if stable memory holds none.
pub fn load() -> State {
    if ic_cdk::stable::stable_size() == 0 {
        return State::default();
    }
    let header = read(0, 32);
    if &header[..8] != MAGIC {
        return State::default();
    }
    let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or([0; 8]));
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]));
    if version != LAYOUT_VERSION {
        ic_cdk::trap(format!(
            "stable memory layout {version}; this canister reads layout {LAYOUT_VERSION}"
        ));
    }
    let bytes = read(word(16), word(24));
    candid::decode_one(&bytes)
        .unwrap_or_else(|e| ic_cdk::trap(format!("cannot decode saved state: {e}")))
}
