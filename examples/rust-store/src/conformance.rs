//! The conformance method of conformance/README.md ("Checking a canister"): `tensorcbor conformance run
//! --canister tensor_store.wasm` checks this module's decoder, encoder and stream receivers against the suites.

use candid::CandidType;
use serde_bytes::ByteBuf;

#[derive(CandidType)]
pub(crate) struct ConformanceError {
    code: String,
    offset: u64,
    message: String,
}

#[derive(CandidType)]
#[allow(non_camel_case_types)]
pub(crate) enum ConformanceResult {
    ok(ByteBuf),
    err(ConformanceError),
}

/// A query: what it allocates is discarded with it, and it changes no state of the store.
#[ic_cdk::query]
// Full paths: ic_cdk::export_candid! in lib.rs names the types as written here.
fn tensorcbor_conformance(
    op: String,
    input: serde_bytes::ByteBuf,
) -> crate::conformance::ConformanceResult {
    match tensorcbor::conformance::answer(&op, &input) {
        Ok(blob) => ConformanceResult::ok(ByteBuf::from(blob)),
        Err(e) => ConformanceResult::err(ConformanceError {
            code: e.code.into(),
            offset: e.offset,
            message: e.message,
        }),
    }
}
