//! The canister state that survives upgrades, in the stable-memory layout of `store_upload::stable`:
//!
//! ```text
//! [0, 64 KiB)        header: b"TCBSTORE", layout version 1 (`store_upload::stable::save`)
//! [64 KiB, ...)      the uploaded document, byte for byte (chunk payloads written as they arrive), then the
//!                    re-encoded documents of `string` tensors
//! [state offset, +len) the Candid-encoded `Saved`, written by pre_upgrade after the used bytes
//! ```
//! Between messages the heap holds `State` (per tensor its name, dtype, shape, the head bytes of its tensor
//! document and where its bytes are) and the upload in progress (its manifest chunk): the tensors themselves
//! stay in stable memory.

use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;
use store_upload::stable::{self, Layout, DATA_BASE};
use store_upload::{Upload, UploadState};

const LAYOUT: Layout = Layout {
    magic: *b"TCBSTORE",
    version: 1,
};

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

#[derive(Clone, Debug)]
pub struct State {
    pub quota: u64,
    pub allowed: Vec<Principal>,
    pub model: Option<Model>,
}

impl Default for State {
    fn default() -> Self {
        State {
            quota: DEFAULT_QUOTA,
            allowed: Vec::new(),
            model: None,
        }
    }
}

/// What pre_upgrade writes: `State` and the upload in progress.
#[derive(CandidType, Deserialize)]
struct Saved {
    quota: u64,
    allowed: Vec<Principal>,
    upload: Option<UploadState>,
    model: Option<Model>,
}

/// Default quota on a declared document length: 1 GiB. `finish` verifies the document from stable memory
/// in windows (the heap holds at most the largest tensor item and one window), so the quota may exceed the
/// 4 GiB wasm32 heap: `MAX_QUOTA` leaves room under the IC's 500 GiB of stable memory.
pub const DEFAULT_QUOTA: u64 = 1 << 30;
pub const MAX_QUOTA: u64 = 480 << 30;

/// pre_upgrade: the state after the used bytes, and the header that finds it.
pub fn save(state: &State, upload: Option<&Upload>) {
    let used = match (&state.model, upload) {
        (Some(m), _) => m.end,
        (None, Some(u)) => u.end(),
        (None, None) => DATA_BASE,
    };
    let saved = Saved {
        quota: state.quota,
        allowed: state.allowed.clone(),
        upload: upload.map(|u| u.saved().clone()),
        model: state.model.clone(),
    };
    stable::save(&LAYOUT, used, &saved);
}

/// post_upgrade: the saved state and upload, or a fresh state if stable memory holds none.
pub fn load() -> (State, Option<UploadState>) {
    match stable::load::<Saved>(&LAYOUT) {
        None => (State::default(), None),
        Some(s) => (
            State {
                quota: s.quota,
                allowed: s.allowed,
                model: s.model,
            },
            s.upload,
        ),
    }
}
