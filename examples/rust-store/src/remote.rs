//! Canister to canister: this store calls another tensor-store canister (the Motoko store, or any canister
//! with the interface of ../tensor-store.did) and passes tensors as tensorcbor documents both ways.
//!
//! `call_get` asks the other canister's `get` for a tensor; `call_dense` sends it a float32 `x` for its
//! `dense`. Either reply is decoded strictly with the crate (`decode_tensor`, every check of the format) and
//! re-encoded with it (`encode_view`), so what this canister answers is a document it has validated and
//! rebuilt, byte-identical to the callee's when both follow the spec. An IC reject (no such canister or
//! method, the callee trapped or rejected) comes back as `Rejected { code; message }` with the IC's reject
//! code; the callee's own error (`NotFound`, ...) comes back unchanged as `Err`, and a call the IC would not
//! even make (`ic0.call_perform` failed) as `Err(InvalidState)`.

use crate::{format_error, Error};
use candid::{CandidType, Deserialize, Principal};
use ic_cdk::call::{Call, CallFailed};
use serde_bytes::ByteBuf;
use tensorcbor::DType;

/// The answer of `call_get` and `call_dense` (`CallResult` of tensor-store.did).
#[derive(CandidType, Deserialize, Debug, Clone, PartialEq)]
pub enum CallResult {
    Ok(ByteBuf),
    Err(Error),
    Rejected { code: u32, message: String },
}

/// The callee's reply (`BlobResult`), or why there is none.
async fn call_blob<A: candid::utils::ArgumentEncoder>(
    canister: Principal,
    method: &str,
    args: &A,
) -> Result<Vec<u8>, CallResult> {
    let response = match Call::unbounded_wait(canister, method).with_args(args).await {
        Ok(r) => r,
        Err(CallFailed::CallRejected(r)) => {
            return Err(CallResult::Rejected {
                code: r.raw_reject_code(),
                message: r.reject_message().into(),
            })
        }
        Err(e) => {
            return Err(CallResult::Err(Error::InvalidState(format!(
                "the call to {canister}.{method} was not made: {e}"
            ))))
        }
    };
    let answer: Result<ByteBuf, Error> = response.candid().map_err(|e| {
        CallResult::Err(Error::InvalidArgument(format!(
            "{canister}.{method} did not answer a BlobResult: {e}"
        )))
    })?;
    answer.map(ByteBuf::into_vec).map_err(CallResult::Err)
}

/// The reply document checked and rebuilt by the crate; `want` is the dtype the caller expects, if any.
fn revalidate(doc: &[u8], what: &str, want: Option<DType>) -> CallResult {
    let t = match tensorcbor::decode_tensor(doc) {
        Ok(t) => t,
        Err(e) => return CallResult::Err(format_error(e, what)),
    };
    if let Some(dtype) = want {
        if t.dtype != dtype {
            return CallResult::Err(Error::InvalidArgument(format!(
                "{what} is {}; expected {}",
                t.dtype.name(),
                dtype.name()
            )));
        }
    }
    match tensorcbor::encode_view(&t) {
        Ok(bytes) => CallResult::Ok(ByteBuf::from(bytes)),
        Err(e) => CallResult::Err(format_error(e, what)),
    }
}

/// The tensor `name` of `canister` (its `get`), validated and re-encoded by this canister.
#[ic_cdk::update]
async fn call_get(canister: Principal, name: String) -> CallResult {
    match call_blob(canister, "get", &(&name,)).await {
        Ok(doc) => revalidate(
            &doc,
            &format!("the reply of {canister}.get({name:?})"),
            None,
        ),
        Err(answer) => answer,
    }
}

/// `y = W x + b` computed by `canister` (its `dense`) on `x`, a float32 tensor document checked here
/// before it is sent; y validated (float32) and re-encoded by this canister.
#[ic_cdk::update]
async fn call_dense(
    canister: Principal,
    weight: String,
    bias: Option<String>,
    x: ByteBuf,
) -> CallResult {
    match tensorcbor::decode_tensor(&x) {
        Err(e) => return CallResult::Err(format_error(e, "x")),
        Ok(t) if t.dtype != DType::Float32 => {
            return CallResult::Err(Error::InvalidArgument(format!(
                "x is {}; expected float32",
                t.dtype.name()
            )))
        }
        Ok(_) => {}
    }
    match call_blob(canister, "dense", &(&weight, &bias, &x)).await {
        Ok(doc) => revalidate(
            &doc,
            &format!("the reply of {canister}.dense"),
            Some(DType::Float32),
        ),
        Err(answer) => answer,
    }
}
