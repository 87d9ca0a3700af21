//! model-canister: a sentence-embedding BERT (the all-MiniLM-L6-v2 architecture, candle-transformers) whose
//! weights arrive as a tensorcbor bundle through the tensor-store upload protocol (`begin_upload`, `put_chunk`,
//! `finish`: the store-upload crate, shared with examples/rust-store: SPEC.md §10 chunks verified on arrival by
//! the tensorcbor crate's `SequentialReceiver` and written to stable memory), and answers `embed(token ids)`
//! with a tensorcbor float32 `[hidden]` document. Tokenization happens off-chain (the caller sends WordPiece
//! ids). Interface: model-canister.did.

mod bert;

use bert::{Embedder, Weights};
use candid::{CandidType, Deserialize};
use serde_bytes::ByteBuf;
use std::cell::RefCell;
use store_upload::stable::{self, Layout, DATA_BASE};
use store_upload::windows::{Progress, Windows};
use store_upload::{access, Upload, UploadState, UploadStatus};
use tensorcbor::stream::Event;

#[derive(CandidType, Deserialize, Debug, Clone, PartialEq)]
pub enum Error {
    Format {
        code: String,
        message: String,
    },
    Unauthorized(String),
    InvalidState(String),
    InvalidArgument(String),
    /// The verified bundle is not a model this canister can build (a missing tensor, a wrong shape).
    Model(String),
}

store_upload::impl_from_upload_error!(Error);

/// The install (and upgrade) argument: what config.json says that the weights do not show.
#[derive(CandidType, Deserialize, Debug, Clone, Copy)]
pub struct Settings {
    num_attention_heads: u32,
    layer_norm_eps: f64,
}

/// all-MiniLM-L6-v2's config.json.
const MINILM: Settings = Settings {
    num_attention_heads: 12,
    layer_norm_eps: 1e-12,
};

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct ModelInfo {
    doc_length: u64,
    vocab_size: u64,
    hidden_size: u64,
    layers: u64,
    heads: u64,
    max_tokens: u64,
}

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct Status {
    upload: Option<UploadStatus>,
    model: Option<ModelInfo>,
    stable_bytes: u64,
    /// wasm32 linear memory in bytes (the heap's high-water mark).
    heap_bytes: u64,
}

struct Loaded {
    embedder: Embedder,
    doc_length: u64,
}

impl Loaded {
    fn info(&self) -> ModelInfo {
        let c = &self.embedder.config;
        ModelInfo {
            doc_length: self.doc_length,
            vocab_size: c.vocab_size as u64,
            hidden_size: c.hidden_size as u64,
            layers: c.num_hidden_layers as u64,
            heads: c.num_attention_heads as u64,
            max_tokens: c.max_position_embeddings as u64,
        }
    }
}

thread_local! {
    static SETTINGS: RefCell<Settings> = const { RefCell::new(MINILM) };
    static UPLOAD: RefCell<Option<Upload>> = const { RefCell::new(None) };
    static MODEL: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

/// The largest document `begin_upload` accepts: 1 GiB (the model it becomes lives in the 4 GiB wasm32 heap,
/// next to the largest tensor item and one window of the decode).
const QUOTA: u64 = 1 << 30;

/// Stable memory: store_upload's layout (the document at `DATA_BASE`), with this canister's `Saved` state.
const LAYOUT: Layout = Layout {
    magic: *b"TCBMODEL",
    version: 2,
};

/// What pre_upgrade writes: the settings, the upload in progress, the length of the verified document the
/// model was built from (post_upgrade builds it again).
#[derive(CandidType, Deserialize)]
struct Saved {
    settings: Settings,
    upload: Option<UploadState>,
    model_doc_length: Option<u64>,
}

#[cfg(target_arch = "wasm32")]
#[no_mangle]
unsafe extern "Rust" fn __getrandom_v03_custom(
    _dest: *mut u8,
    _len: usize,
) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}

/// Uploads are for controllers only (no allow list).
fn require_controller() -> Result<(), Error> {
    Ok(access::require_controller()?)
}

/// Feature `scalar-gemm` (a benchmark baseline): switch gemm's wasm SIMD kernels off for this instance.
fn configure() {
    #[cfg(feature = "scalar-gemm")]
    gemm_common::set_wasm_simd128(false);
}

fn set_settings(s: Option<Settings>) {
    SETTINGS.with(|c| *c.borrow_mut() = s.unwrap_or(MINILM));
}

#[ic_cdk::init]
fn init(settings: Option<Settings>) {
    configure();
    set_settings(settings);
}

#[ic_cdk::pre_upgrade]
fn pre_upgrade() {
    let model_doc_length = MODEL.with(|m| m.borrow().as_ref().map(|l| l.doc_length));
    UPLOAD.with(|u| {
        let u = u.borrow();
        let used = match (model_doc_length, u.as_ref()) {
            (Some(len), _) => DATA_BASE + len,
            (None, Some(u)) => u.end(),
            (None, None) => DATA_BASE,
        };
        let saved = Saved {
            settings: SETTINGS.with(|s| *s.borrow()),
            upload: u.as_ref().map(|u| u.saved().clone()),
            model_doc_length,
        };
        stable::save(&LAYOUT, used, &saved);
    });
}

/// The model is rebuilt from the verified document kept in stable memory (the heap does not survive); an
/// upload in progress continues.
#[ic_cdk::post_upgrade]
fn post_upgrade(settings: Option<Settings>) {
    configure();
    let Some(saved) = stable::load::<Saved>(&LAYOUT) else {
        return set_settings(settings);
    };
    set_settings(settings.or(Some(saved.settings)));
    if let Some(doc_length) = saved.model_doc_length {
        if let Err(e) = load(doc_length) {
            ic_cdk::trap(format!("reloading the stored model: {e:?}"));
        }
    }
    let upload = saved.upload.map(|u| {
        Upload::resume(u).unwrap_or_else(|e| ic_cdk::trap(format!("resuming the upload: {e}")))
    });
    UPLOAD.with(|u| *u.borrow_mut() = upload);
}

/// Chunk 0 and the stream digest the caller vouches for (checks M1-M12 and the quota).
#[ic_cdk::update]
fn begin_upload(manifest: ByteBuf, stream_digest: ByteBuf) -> Result<UploadStatus, Error> {
    require_controller()?;
    let digest = store_upload::stream_digest(&stream_digest)?;
    if MODEL.with(|m| m.borrow().is_some()) {
        return Err(Error::InvalidState(
            "a model is loaded; call clear() before uploading another".into(),
        ));
    }
    let upload = Upload::begin(manifest, digest, QUOTA)?;
    let status = upload.status();
    UPLOAD.with(|c| *c.borrow_mut() = Some(upload));
    Ok(status)
}

/// Data chunks 1..N in index order (D1-D11); a rejected chunk changes nothing.
#[ic_cdk::update]
fn put_chunk(chunk: ByteBuf) -> Result<UploadStatus, Error> {
    require_controller()?;
    UPLOAD.with(|u| match u.borrow_mut().as_mut() {
        Some(u) => Ok(u.put_chunk(&chunk)?),
        None => Err(Error::InvalidState(
            "no upload in progress: call begin_upload first".into(),
        )),
    })
}

/// Decode the document in stable memory strictly, in windows (store_upload::windows: the heap holds the
/// tensor being read and one window, never the whole document), keep the weights as they come, and build the
/// model from them. One message: `finish` has no `Verifying` answer.
fn load(doc_length: u64) -> Result<ModelInfo, Error> {
    let (heads, eps) = SETTINGS.with(|s| {
        let s = s.borrow();
        (s.num_attention_heads, s.layer_norm_eps)
    });
    let mut weights = Weights::default();
    let progress = Windows::new(doc_length).run::<Error>(u64::MAX, &mut |event| match event {
        Event::Tensor { name, tensor, .. } => weights.add(name, &tensor).map_err(Error::Model),
        Event::Metadata(_) => Ok(()),
    })?;
    if progress != Progress::Done {
        return Err(Error::InvalidState(
            "the document was not decoded in one message".into(),
        ));
    }
    let embedder = Embedder::load(weights, heads, eps).map_err(Error::Model)?;
    let loaded = Loaded {
        embedder,
        doc_length,
    };
    let info = loaded.info();
    MODEL.with(|m| *m.borrow_mut() = Some(loaded));
    Ok(info)
}

/// E1 (every chunk arrived verified; E2 is skipped as store_upload explains), then the strict decode and the
/// model build, in one message. A bundle that is not a model leaves the upload in place (`clear` drops it).
#[ic_cdk::update]
fn finish() -> Result<ModelInfo, Error> {
    require_controller()?;
    let doc_length = UPLOAD.with(|u| match u.borrow().as_ref() {
        Some(u) => Ok(u.finish()?),
        None => Err(Error::InvalidState("no upload in progress".into())),
    })?;
    let info = load(doc_length)?;
    UPLOAD.with(|c| *c.borrow_mut() = None);
    Ok(info)
}

/// Drop the model and any upload.
#[ic_cdk::update]
fn clear() -> Result<(), Error> {
    require_controller()?;
    MODEL.with(|m| *m.borrow_mut() = None);
    UPLOAD.with(|u| *u.borrow_mut() = None);
    Ok(())
}

/// The sentence embedding of WordPiece token ids (with [CLS] and [SEP], as the tokenizer emits them): a
/// tensorcbor float32 `[hidden]` document, mean-pooled and L2-normalized.
#[ic_cdk::query]
fn embed(ids: Vec<u32>) -> Result<ByteBuf, Error> {
    MODEL.with(|m| {
        let m = m.borrow();
        let loaded = m
            .as_ref()
            .ok_or_else(|| Error::InvalidState("no model: upload one first".into()))?;
        loaded
            .embedder
            .check(&ids)
            .map_err(Error::InvalidArgument)?;
        let v = loaded.embedder.embed(&ids).map_err(Error::Model)?;
        Ok(ByteBuf::from(bert::to_document(&v)))
    })
}

#[ic_cdk::query]
fn status() -> Status {
    let upload = UPLOAD.with(|u| u.borrow().as_ref().map(Upload::status));
    let model = MODEL.with(|m| m.borrow().as_ref().map(Loaded::info));
    Status {
        upload,
        model,
        stable_bytes: stable::size(),
        heap_bytes: heap_bytes(),
    }
}

#[cfg(target_arch = "wasm32")]
fn heap_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 65536
}

#[cfg(not(target_arch = "wasm32"))]
fn heap_bytes() -> u64 {
    0
}

ic_cdk::export_candid!();
