//! model-canister: a sentence-embedding BERT (the all-MiniLM-L6-v2 architecture, candle-transformers) whose
//! weights arrive as a tensorcbor bundle through the tensor-store upload protocol (`begin_upload`, `put_chunk`,
//! `finish`: SPEC.md §10 chunks verified on arrival by the tensorcbor crate's `SequentialReceiver` and written to
//! stable memory), and answers `embed(token ids)` with a tensorcbor float32 `[hidden]` document.
//! Tokenization happens off-chain (the caller sends WordPiece ids). Interface: model-canister.did.

mod bert;
mod stable;

use bert::Embedder;
use candid::{CandidType, Deserialize};
use serde_bytes::ByteBuf;
use stable::Header;
use std::cell::RefCell;
use tensorcbor::stream::SequentialReceiver;

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

impl From<tensorcbor::Error> for Error {
    fn from(e: tensorcbor::Error) -> Self {
        Error::Format {
            code: e.code().as_str().into(),
            message: e.to_string(),
        }
    }
}

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
pub struct UploadStatus {
    chunks: u64,
    received: u64,
    bytes: u64,
    doc_length: u64,
}

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

/// An upload in progress: the verifying receiver and how many document bytes are in stable memory.
struct Upload {
    rx: SequentialReceiver,
    received: u32,
    written: u64,
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

/// The largest document `begin_upload` accepts: 1 GiB (the document is read into the heap once by `finish`,
/// next to the model it becomes: 2 GiB of the 4 GiB wasm32 heap).
const QUOTA: u64 = 1 << 30;

#[cfg(target_arch = "wasm32")]
#[no_mangle]
unsafe extern "Rust" fn __getrandom_v03_custom(
    _dest: *mut u8,
    _len: usize,
) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}

fn require_controller() -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if ic_cdk::api::is_controller(&caller) {
        Ok(())
    } else {
        Err(Error::Unauthorized(format!("{caller} is not a controller")))
    }
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

/// The model is rebuilt from the verified document kept in stable memory (the heap does not survive).
#[ic_cdk::post_upgrade]
fn post_upgrade(settings: Option<Settings>) {
    configure();
    let Some(h) = stable::load_header() else {
        return set_settings(settings);
    };
    set_settings(settings.or(Some(Settings {
        num_attention_heads: h.heads,
        layer_norm_eps: h.layer_norm_eps,
    })));
    if h.doc_length > 0 {
        if let Err(e) = load(h.doc_length) {
            ic_cdk::trap(format!("reloading the stored model: {e:?}"));
        }
    }
}

fn status_of(u: &Upload) -> UploadStatus {
    let m = u.rx.manifest();
    UploadStatus {
        chunks: m.map_or(0, |m| m.count().into()),
        received: u.received.into(),
        bytes: u.written,
        doc_length: m.map_or(0, |m| m.doc_length),
    }
}

/// Chunk 0 and the stream digest the caller vouches for (checks M1-M12 and the quota).
#[ic_cdk::update]
fn begin_upload(manifest: ByteBuf, stream_digest: ByteBuf) -> Result<UploadStatus, Error> {
    require_controller()?;
    let digest: [u8; 32] = stream_digest.as_slice().try_into().map_err(|_| {
        Error::InvalidArgument(format!(
            "the stream digest is 32 bytes, got {}",
            stream_digest.len()
        ))
    })?;
    if MODEL.with(|m| m.borrow().is_some()) {
        return Err(Error::InvalidState(
            "a model is loaded; call clear() before uploading another".into(),
        ));
    }
    let mut rx = SequentialReceiver::new(Some(digest), Some(QUOTA));
    rx.accept(&manifest)?;
    let u = Upload {
        rx,
        received: 0,
        written: 0,
    };
    let status = status_of(&u);
    UPLOAD.with(|c| *c.borrow_mut() = Some(u));
    Ok(status)
}

/// Data chunks 1..N in index order (D1-D11); a rejected chunk changes nothing.
#[ic_cdk::update]
fn put_chunk(chunk: ByteBuf) -> Result<UploadStatus, Error> {
    require_controller()?;
    UPLOAD.with(|c| {
        let mut c = c.borrow_mut();
        let u = c.as_mut().ok_or_else(|| {
            Error::InvalidState("no upload in progress: call begin_upload first".into())
        })?;
        if let Some(d) = u.rx.accept(&chunk)? {
            stable::write(stable::DATA + u.written, d.payload).map_err(Error::InvalidState)?;
            u.written += d.payload.len() as u64;
            u.received += 1;
        }
        Ok(status_of(u))
    })
}

/// Read the verified document back from stable memory and build the model from it.
fn load(doc_length: u64) -> Result<ModelInfo, Error> {
    let (heads, eps) = SETTINGS.with(|s| {
        let s = s.borrow();
        (s.num_attention_heads, s.layer_norm_eps)
    });
    let doc = stable::read(stable::DATA, doc_length);
    let embedder = Embedder::load(&doc, heads, eps).map_err(Error::Model)?;
    drop(doc);
    let loaded = Loaded {
        embedder,
        doc_length,
    };
    let info = loaded.info();
    MODEL.with(|m| *m.borrow_mut() = Some(loaded));
    Ok(info)
}

/// E1 and E2 (the receiver hashed the document as it arrived), then the strict decode and the model build.
#[ic_cdk::update]
fn finish() -> Result<ModelInfo, Error> {
    require_controller()?;
    let doc_length = UPLOAD.with(|c| {
        let c = c.borrow();
        let u = c
            .as_ref()
            .ok_or_else(|| Error::InvalidState("no upload in progress".into()))?;
        u.rx.finish()?;
        Ok::<_, Error>(u.written)
    })?;
    let info = load(doc_length)?;
    UPLOAD.with(|c| *c.borrow_mut() = None);
    let s = SETTINGS.with(|s| *s.borrow());
    stable::save_header(&Header {
        doc_length,
        heads: s.num_attention_heads,
        layer_norm_eps: s.layer_norm_eps,
    })
    .map_err(Error::InvalidState)?;
    Ok(info)
}

/// Drop the model and any upload.
#[ic_cdk::update]
fn clear() -> Result<(), Error> {
    require_controller()?;
    MODEL.with(|m| *m.borrow_mut() = None);
    UPLOAD.with(|u| *u.borrow_mut() = None);
    let s = SETTINGS.with(|s| *s.borrow());
    stable::save_header(&Header {
        doc_length: 0,
        heads: s.num_attention_heads,
        layer_norm_eps: s.layer_norm_eps,
    })
    .map_err(Error::InvalidState)
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
    let upload = UPLOAD.with(|u| u.borrow().as_ref().map(status_of));
    let model = MODEL.with(|m| m.borrow().as_ref().map(Loaded::info));
    Status {
        upload,
        model,
        stable_bytes: stable::stable_bytes(),
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
