//! tensor-store: a canister that takes a tensorcbor bundle as a verified chunked stream (SPEC.md §10) into
//! stable memory, serves its tensors as tensorcbor documents and runs a dense layer on stored weights.
//! Interface: ../tensor-store.did.

mod conformance;
mod dense;
mod store;
mod verify;

use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;
use std::cell::RefCell;
use std::collections::BTreeMap;
use store::{Entry, State, UploadState, DATA_BASE};
use tensorcbor::stream::SequentialReceiver;
use tensorcbor::{DType, ErrorCode};
use verify::{Step, Verify};

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

pub(crate) fn format_error(e: tensorcbor::Error, what: &str) -> Error {
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

/// The answer of `finish`: the model is published, or the document is being verified (call again).
#[derive(CandidType, Deserialize, Debug, Clone)]
pub enum FinishResult {
    Ok(Stored),
    Err(Error),
    Verifying { verified: u64, doc_length: u64 },
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    /// Heap-only, rebuilt from `STATE` after an upgrade: the receiver of the upload in progress, the
    /// verification `finish` has begun, and the name index of the model.
    static RX: RefCell<Option<SequentialReceiver>> = const { RefCell::new(None) };
    static VERIFY: RefCell<Option<Verify>> = const { RefCell::new(None) };
    static INDEX: RefCell<BTreeMap<String, usize>> = const { RefCell::new(BTreeMap::new()) };
}

fn rebuild_caches(state: &State) {
    let rx = state.upload.as_ref().map(|u| {
        let digest: [u8; 32] = u.stream_digest.as_slice().try_into().unwrap_or([0; 32]);
        let received = u32::try_from(u.next - 1).unwrap_or(u32::MAX);
        SequentialReceiver::resume(digest, None, &u.manifest, received, u.received)
            .unwrap_or_else(|e| ic_cdk::trap(format!("resuming the upload: {e}")))
    });
    RX.with(|r| *r.borrow_mut() = rx);
    VERIFY.with(|v| *v.borrow_mut() = None);
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

fn is_uploader(state: &State, caller: &Principal) -> bool {
    ic_cdk::api::is_controller(caller) || state.allowed.contains(caller)
}

fn require_uploader(state: &State) -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if is_uploader(state, &caller) {
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

/// Ingress filter, run before an update call is accepted: upload calls from principals that may not upload
/// and admin calls from non-controllers are refused here, before the call is executed or charged for its
/// argument (the methods repeat the checks: inspect_message does not run for inter-canister calls).
#[ic_cdk::inspect_message]
fn inspect_message() {
    let method = ic_cdk::api::msg_method_name();
    let caller = ic_cdk::api::msg_caller();
    let accept = match method.as_str() {
        "begin_upload" | "put_chunk" | "finish" => {
            STATE.with(|s| is_uploader(&s.borrow(), &caller))
        }
        "clear" | "allow" | "disallow" | "set_quota" => ic_cdk::api::is_controller(&caller),
        "status" | "list" | "get" | "get_range" | "dense" => true,
        _ => false,
    };
    if accept {
        ic_cdk::api::accept_message();
    }
}

fn upload_status(rx: &SequentialReceiver) -> UploadStatus {
    let (chunks, doc_length) = rx
        .manifest()
        .map_or((0, 0), |m| (u64::from(m.count()), m.doc_length));
    UploadStatus {
        chunks,
        received: u64::from(rx.received()),
        bytes: rx.bytes(),
        doc_length,
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
        // E2 is skipped as SPEC.md §10.4 / design D8 allow: M1 checks the manifest against the stream digest
        // the uploader vouches for, and every payload is checked against the manifest.
        let mut rx = SequentialReceiver::new(Some(digest), Some(state.quota))
            .skip_document_hash_when_trusted(true);
        rx.accept(&manifest).map_err(|e| match e.code {
            ErrorCode::QuotaExceeded => Error::Format {
                code: e.code.as_str().into(),
                message: format!(
                    "the manifest declares a longer document than this canister's quota of {} bytes",
                    state.quota
                ),
            },
            _ => format_error(e, "the manifest (chunk 0)"),
        })?;
        let status = upload_status(&rx);
        state.upload = Some(UploadState {
            manifest,
            stream_digest,
            next: 1,
            received: 0,
        });
        RX.with(|r| *r.borrow_mut() = Some(rx));
        VERIFY.with(|v| *v.borrow_mut() = None);
        Ok(status)
    })
}

#[ic_cdk::update]
fn put_chunk(data: ByteBuf) -> Result<UploadStatus, Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        RX.with(|r| {
            let mut rx = r.borrow_mut();
            let (Some(rx), Some(u)) = (rx.as_mut(), state.upload.as_mut()) else {
                return Err(Error::InvalidState(
                    "no upload in progress: call begin_upload first".into(),
                ));
            };
            let at = DATA_BASE + rx.bytes();
            let chunk = rx.accept(&data).map_err(|e| format_error(e, "the chunk"))?;
            let Some(chunk) = chunk else {
                return Err(Error::InvalidState(
                    "the manifest was accepted already".into(),
                ));
            };
            // A trap undoes the whole message, the receiver's counters included.
            store::write(at, chunk.payload).unwrap_or_else(|e| ic_cdk::trap(e));
            u.next = u64::from(rx.received()) + 1;
            u.received = rx.bytes();
            Ok(upload_status(rx))
        })
    })
}

/// E1 (`MISSING_CHUNK`), then the strict decode of the stored document in windows (`verify`), as many
/// messages as it needs; then the model is published. A document that fails ends the upload.
#[ic_cdk::update]
fn finish() -> FinishResult {
    match finish_step() {
        Ok(r) => r,
        Err(e) => FinishResult::Err(e),
    }
}

fn finish_step() -> Result<FinishResult, Error> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        require_uploader(&state)?;
        let doc_length = RX.with(|r| {
            let rx = r.borrow();
            let Some(rx) = rx.as_ref() else {
                return Err(Error::InvalidState("no upload in progress".into()));
            };
            rx.finish().map_err(|e| Error::Format {
                code: e.code.as_str().into(),
                message: match rx.manifest() {
                    Some(m) => format!(
                        "{} of {} data chunks received; chunk {} is missing",
                        rx.received(),
                        m.count(),
                        rx.received() + 1
                    ),
                    None => format!("the upload ended early: {e}"),
                },
            })?;
            Ok(rx.bytes())
        })?;
        let step = VERIFY.with(|v| {
            let mut v = v.borrow_mut();
            if v.is_none() {
                *v = Some(Verify::start(doc_length)?);
            }
            v.as_mut().map_or_else(
                || Err(Error::InvalidState("no verification".into())),
                |v| v.step(verify::BUDGET),
            )
        });
        let model = match step {
            Ok(Step::Pending { verified }) => {
                return Ok(FinishResult::Verifying {
                    verified,
                    doc_length,
                })
            }
            Ok(Step::Done(model)) => model,
            Err(e) => {
                state.upload = None;
                rebuild_caches(&state);
                return Err(e);
            }
        };
        let stored = Stored {
            tensors: model.entries.len() as u64,
            doc_length: model.doc_length,
        };
        state.upload = None;
        state.model = Some(model);
        rebuild_caches(&state);
        Ok(FinishResult::Ok(stored))
    })
}

#[ic_cdk::update]
fn clear() -> Result<(), Error> {
    require_controller()?;
    STATE.with(|s| {
        let mut state = s.borrow_mut();
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
fn disallow(p: Principal) -> Result<(), Error> {
    require_controller()?;
    STATE.with(|s| s.borrow_mut().allowed.retain(|a| *a != p));
    Ok(())
}

#[ic_cdk::update]
fn set_quota(quota: u64) -> Result<(), Error> {
    require_controller()?;
    if quota > store::MAX_QUOTA {
        return Err(Error::InvalidArgument(format!(
            "the quota is at most {} bytes (the IC's stable memory)",
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
        Status {
            upload: RX.with(|r| r.borrow().as_ref().map(upload_status)),
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

/// A stored float32 tensor of the given rank (its entry only: no element is read).
fn f32_entry(name: &str, rank: usize) -> Result<(Vec<u64>, u64, u64), Error> {
    with_entry(name, |e| {
        if e.dtype != DType::Float32.name() || e.shape.len() != rank {
            return Err(Error::InvalidArgument(format!(
                "{name} is {} of shape {:?}; expected float32 of rank {rank}",
                e.dtype, e.shape
            )));
        }
        Ok((e.shape.clone(), e.body_at, e.body_len))
    })
}

/// Every check before any weight byte is read, in this order (the Motoko canister's too): the weight's
/// entry and dimensions, the bias's entry and shape, x (decoded, then dtype and shape), the reply's size.
#[ic_cdk::query]
fn dense(weight: String, bias: Option<String>, x: ByteBuf) -> Result<ByteBuf, Error> {
    let (w_shape, w_at, w_len) = f32_entry(&weight, 2)?;
    if w_shape.contains(&0) {
        return Err(Error::InvalidArgument(format!(
            "the weight has shape {w_shape:?}; both dimensions must be non-zero"
        )));
    }
    let b = match bias {
        None => None,
        Some(name) => {
            let (s, at, len) = f32_entry(&name, 1)?;
            if s[0] != w_shape[0] {
                return Err(Error::InvalidArgument(format!(
                    "the bias has shape {s:?}; expected [{}]",
                    w_shape[0]
                )));
            }
            Some((at, len))
        }
    };
    let xt = tensorcbor::decode_tensor(&x).map_err(|e| format_error(e, "x"))?;
    let plan = dense::plan(&w_shape, &xt).map_err(Error::InvalidArgument)?;
    if plan.y_size > MAX_REPLY {
        return Err(Error::ReplyTooLarge {
            size: plan.y_size,
            limit: MAX_REPLY,
        });
    }
    let w = store::read(w_at, w_len);
    let b = b.map(|(at, len)| store::read(at, len));
    let xd = xt.data().unwrap_or(&[]);
    Ok(ByteBuf::from(dense::forward(&plan, &w, b.as_deref(), xd)))
}

ic_cdk::export_candid!();
