//! The conformance method of conformance/README.md ("Checking a canister"): `tensorcbor conformance run
//! --canister tensor_store.wasm` checks this module's decoder, encoder and stream receivers against the suites.

/// A query: what it allocates is discarded with it, and it changes no state of the store.
#[ic_cdk::query]
// Full paths: ic_cdk::export_candid! in lib.rs names the types as written here.
fn tensorcbor_conformance(
    op: String,
    input: serde_bytes::ByteBuf,
) -> tensorcbor::conformance::ConformanceResult {
    tensorcbor::conformance::respond(&op, &input)
}
