//! tensor-store: a canister that takes a tensorcbor bundle as a verified chunked stream (SPEC.md §10) into
//! stable memory, serves its tensors as tensorcbor documents and runs a dense layer on stored weights.
//! Interface: ../tensor-store.did.

mod chunk;
mod dense;
mod store;

use candid::{CandidType, Deserialize, Principal};
use chunk::{Manifest, Reject};
use serde_bytes::ByteBuf;
use std::cell::RefCell;
use std::collections::BTreeMap;
use store::{Entry, Model, State, UploadState, DATA_BASE};
use tensorcbor::{decode_bundle, encode_tensor, encode_view, DType, Elements};

/// The largest reply `get`, `get_range` and `dense` produce: the default chunk size of SPEC.md §10.3, which
/// leaves room under the IC's 2 MiB message limit for the Candid envelope.
pub const MAX_REPLY: u64 = 1_900_000;

#[derive(CandidType, Deserialize, Debug, Clone, PartialEq)]
pub enum Error {
    Format { code: String, message: String },
    Unauthorized(String),
    NotFound(String),
    InvalidState(String),
    InvalidArgument(String),
    ReplyTooLarge { size: u64, limit: u64 },
}

impl From<Reject> for Error {
    fn from(r: Reject) -> Self {
        Error::Format {
            code: r.code.into(),
            message: r.message,
        }
    }
}

fn format_error(e: tensorcbor::Error, what: &str) -> Error {
    Error::Format {
        code: e.code().as_str().into(),
        message: format!("{what}: {e}"),
    }
}

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct UploadStatus {
    chunks: u64,
    received: u64,
    bytes: u64,
    doc_length: u64,
}

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct Stored {
    tensors: u64,
    doc_length: u64,
}

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct TensorInfo {
    name: String,
    dtype: String,
    shape: Vec<u64>,
    size: u64,
    doc_size: u64,
}

#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct Status {
    upload: Option<UploadStatus>,
    model: Option<Stored>,
    quota: u64,
    stable_bytes: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    /// Caches rebuilt from `STATE` (after install, upload or upgrade): the parsed manifest and a name index.
    static MANIFEST: RefCell<Option<Manifest>> = const { RefCell::new(None) };
    static INDEX: RefCell<BTreeMap<String, usize>> = const { RefCell::new(BTreeMap::new()) };
}

fn rebuild_caches(state: &State) {
    let manifest = state.upload.as_ref().map(|u| {
        let digest: [u8; 32] = u.stream_digest.as_slice().try_into().unwrap_or([0; 32]);
        chunk::parse_manifest(&u.manifest, &digest).unwrap_or_else(|e| ic_cdk::trap(e.message))
    });
    MANIFEST.with(|m| *m.borrow_mut() = manifest);
    let index = state.model.as_ref().map_or_else(BTreeMap::new, |m| {
        m.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect()
    });
    INDEX.with(|i| *i.borrow_mut() = index);
}

#[ic_cdk::init]
fn init() {}

#[ic_cdk::pre_upgrade]
fn pre_upgrade() {
    STATE.with(|s| store::save(&s.borrow()));
}

#[ic_cdk::post_upgrade]
fn post_upgrade() {
    let state = store::load();
    rebuild_caches(&state);
    STATE.with(|s| *s.borrow_mut() = state);
}

fn require_uploader(state: &State) -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if ic_cdk::api::is_controller(&caller) || state.allowed.contains(&caller) {
        Ok(())
    } else {
        Err(Error::Unauthorized(format!(
            "{caller} is neither a controller nor allow-listed"
        )))
    }
}

fn require_controller() -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if ic_cdk::api::is_controller(&caller) {
        Ok(())
    } else {
        Err(Error::Unauthorized(format!("{caller} is not a controller")))
    }
}

fn upload_status(m: &Manifest, u: &UploadState) -> UploadStatus {
    UploadStatus {
        chunks: m.count(),
        received: u.next - 1,
        bytes: u.received,
        doc_length: m.doc_length,
    }
}

#[ic_cdk::update]
fn begin_upload(manifest: ByteBuf, stream_digest: ByteBuf) -> Result<UploadStatus, Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        let digest: [u8; 32] = stream_digest.as_slice().try_into().map_err(|_| {
            Error::InvalidArgument(format!(
                "the stream digest is 32 bytes, got {}",
                stream_digest.len()
            ))
        })?;
        if state.model.is_some() {
            return Err(Error::InvalidState(
                "a model is stored; call clear() before uploading another".into(),
            ));
        }
        let m = chunk::parse_manifest(&manifest, &digest)?;
        if m.doc_length > state.quota {
            return Err(Error::Format {
                code: "QUOTA_EXCEEDED".into(),
                message: format!(
                    "the document is {} bytes; this canister's quota is {} bytes",
                    m.doc_length, state.quota
                ),
            });
        }
        let u = UploadState {
            manifest,
            stream_digest,
            next: 1,
            received: 0,
        };
        let status = upload_status(&m, &u);
        state.upload = Some(u);
        MANIFEST.with(|c| *c.borrow_mut() = Some(m));
        Ok(status)
    })
}

#[ic_cdk::update]
fn put_chunk(data: ByteBuf) -> Result<UploadStatus, Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        MANIFEST.with(|c| {
            let cache = c.borrow();
            let (Some(m), Some(u)) = (cache.as_ref(), state.upload.as_mut()) else {
                return Err(Error::InvalidState(
                    "no upload in progress: call begin_upload first".into(),
                ));
            };
            let chunk = chunk::check_data_chunk(m, u.next, &data)?;
            chunk::check_length(m, u.received, &chunk)?;
            store::write(DATA_BASE + u.received, chunk.payload).map_err(Error::InvalidState)?;
            u.received += chunk.payload.len() as u64;
            u.next += 1;
            Ok(upload_status(m, u))
        })
    })
}

/// Where each tensor's bytes are, from the strictly decoded document held in `doc`.
fn index_document(doc: &[u8]) -> Result<Model, Error> {
    let bundle = decode_bundle(doc).map_err(|e| format_error(e, "the uploaded document"))?;
    let mut end = DATA_BASE + doc.len() as u64;
    let mut entries = Vec::with_capacity(bundle.tensors.len());
    for (name, t) in &bundle.tensors {
        let (header, body_at, body_len, size) = match &t.elements {
            Elements::Bytes(data) => {
                let encoded =
                    encode_tensor(t.dtype, &t.shape, data).map_err(|e| format_error(e, name))?;
                let head_len = encoded.len() - data.len();
                let offset = data.as_ptr() as usize - doc.as_ptr() as usize;
                (
                    encoded[..head_len].to_vec(),
                    DATA_BASE + offset as u64,
                    data.len() as u64,
                    data.len() as u64,
                )
            }
            Elements::Strings(_) => {
                let encoded = encode_view(t).map_err(|e| format_error(e, name))?;
                let at = end;
                store::write(at, &encoded).map_err(Error::InvalidState)?;
                end += encoded.len() as u64;
                (Vec::new(), at, encoded.len() as u64, encoded.len() as u64)
            }
        };
        entries.push(Entry {
            name: (*name).into(),
            dtype: t.dtype.name().into(),
            shape: t.shape.clone(),
            size,
            header: ByteBuf::from(header),
            body_at,
            body_len,
        });
    }
    Ok(Model {
        doc_length: doc.len() as u64,
        entries,
        end,
    })
}

#[ic_cdk::update]
fn finish() -> Result<Stored, Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        let m = MANIFEST.with(|c| c.borrow().clone());
        let (Some(m), Some(u)) = (m, state.upload.as_ref()) else {
            return Err(Error::InvalidState("no upload in progress".into()));
        };
        if u.next <= m.count() {
            return Err(Error::Format {
                code: "MISSING_CHUNK".into(),
                message: format!(
                    "{} of {} data chunks received; chunk {} is missing",
                    u.next - 1,
                    m.count(),
                    u.next
                ),
            });
        }
        // E2 is skipped as SPEC.md §10.4 / design D8 allow: M1 checked the manifest against the stream digest
        // the uploader vouched for, and every payload against the manifest, so the document is fixed.
        let doc = store::read(DATA_BASE, m.doc_length);
        let result = index_document(&doc);
        drop(doc);
        state.upload = None;
        MANIFEST.with(|c| *c.borrow_mut() = None);
        let model = result?;
        let stored = Stored {
            tensors: model.entries.len() as u64,
            doc_length: model.doc_length,
        };
        state.model = Some(model);
        rebuild_caches(&state);
        Ok(stored)
    })
}

#[ic_cdk::update]
fn clear() -> Result<(), Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        state.model = None;
        state.upload = None;
        rebuild_caches(&state);
        Ok(())
    })
}

#[ic_cdk::update]
fn allow(p: Principal) -> Result<(), Error> {
    require_controller()?;
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        if !state.allowed.contains(&p) {
            state.allowed.push(p);
        }
        Ok(())
    })
}

#[ic_cdk::update]
fn set_quota(quota: u64) -> Result<(), Error> {
    require_controller()?;
    if quota > store::MAX_QUOTA {
        return Err(Error::InvalidArgument(format!(
            "the quota is at most {} bytes (finish decodes in the heap)",
            store::MAX_QUOTA
        )));
    }
    STATE.with(|s| s.borrow_mut().quota = quota);
    Ok(())
}

#[ic_cdk::query]
fn status() -> Status {
    STATE.with(|s| {
        let state = s.borrow();
        let upload = MANIFEST.with(|c| {
            c.borrow()
                .as_ref()
                .zip(state.upload.as_ref())
                .map(|(m, u)| upload_status(m, u))
        });
        Status {
            upload,
            model: state.model.as_ref().map(|m| Stored {
                tensors: m.entries.len() as u64,
                doc_length: m.doc_length,
            }),
            quota: state.quota,
            stable_bytes: ic_cdk::stable::stable_size() * store::PAGE,
        }
    })
}

#[ic_cdk::query]
fn list() -> Vec<TensorInfo> {
    STATE.with(|s| {
        s.borrow().model.as_ref().map_or_else(Vec::new, |m| {
            m.entries
                .iter()
                .map(|e| TensorInfo {
                    name: e.name.clone(),
                    dtype: e.dtype.clone(),
                    shape: e.shape.clone(),
                    size: e.size,
                    doc_size: e.doc_size(),
                })
                .collect()
        })
    })
}

/// The entry called `name`.
fn with_entry<T>(name: &str, f: impl FnOnce(&Entry) -> Result<T, Error>) -> Result<T, Error> {
    let i = INDEX.with(|i| i.borrow().get(name).copied());
    STATE.with(|s| {
        let state = s.borrow();
        match (i, state.model.as_ref()) {
            (Some(i), Some(m)) => f(&m.entries[i]),
            _ => Err(Error::NotFound(format!("no tensor named {name:?}"))),
        }
    })
}

/// Bytes `[start, end)` of the entry's tensor document.
fn doc_range(e: &Entry, start: u64, end: u64) -> Vec<u8> {
    let h = e.header.len() as u64;
    let mut out = Vec::with_capacity((end - start) as usize);
    if start < h {
        out.extend_from_slice(&e.header[start as usize..end.min(h) as usize]);
    }
    if end > h {
        let from = start.max(h) - h;
        out.extend_from_slice(&store::read(e.body_at + from, end - h - from));
    }
    out
}

#[ic_cdk::query]
fn get(name: String) -> Result<ByteBuf, Error> {
    with_entry(&name, |e| {
        let size = e.doc_size();
        if size > MAX_REPLY {
            return Err(Error::ReplyTooLarge {
                size,
                limit: MAX_REPLY,
            });
        }
        Ok(ByteBuf::from(doc_range(e, 0, size)))
    })
}

#[ic_cdk::query]
fn get_range(name: String, offset: u64, length: u64) -> Result<ByteBuf, Error> {
    with_entry(&name, |e| {
        let size = e.doc_size();
        if length > MAX_REPLY {
            return Err(Error::ReplyTooLarge {
                size: length,
                limit: MAX_REPLY,
            });
        }
        if offset > size {
            return Err(Error::InvalidArgument(format!(
                "offset {offset} is past the end of the {size}-byte document"
            )));
        }
        Ok(ByteBuf::from(doc_range(
            e,
            offset,
            offset.saturating_add(length).min(size),
        )))
    })
}

/// A stored float32 tensor's elements.
fn stored_f32(name: &str, rank: usize) -> Result<(Vec<u64>, Vec<u8>), Error> {
    with_entry(name, |e| {
        if e.dtype != DType::Float32.name() || e.shape.len() != rank {
            return Err(Error::InvalidArgument(format!(
                "{name} is {} of shape {:?}; expected float32 of rank {rank}",
                e.dtype, e.shape
            )));
        }
        Ok((e.shape.clone(), store::read(e.body_at, e.body_len)))
    })
}

#[ic_cdk::query]
fn dense(weight: String, bias: Option<String>, x: ByteBuf) -> Result<ByteBuf, Error> {
    let (w_shape, w) = stored_f32(&weight, 2)?;
    let b = bias.map(|name| stored_f32(&name, 1)).transpose()?;
    let xt = tensorcbor::decode_tensor(&x).map_err(|e| format_error(e, "x"))?;
    let y = dense::forward(
        &w_shape,
        &w,
        b.as_ref().map(|(s, d)| (s.as_slice(), d.as_slice())),
        &xt,
    )
    .map_err(Error::InvalidArgument)?;
    let size = y.len() as u64;
    if size > MAX_REPLY {
        return Err(Error::ReplyTooLarge {
            size,
            limit: MAX_REPLY,
        });
    }
    Ok(ByteBuf::from(y))
}

ic_cdk::export_candid!();
