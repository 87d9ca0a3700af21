//! # tensorcbor: tensors as deterministic CBOR (Core and Stream profiles)
//!
//! A strict, zero-copy decoder and a deterministic encoder for the tensorcbor format 1.0
//! (`SPEC.md` of the tensorcbor repository): a tensor document is
//! `55799(52084([1, dtype, shape, ?pad, data]))`, a bundle
//! `55799(52066([1, metadata, directory, pad, tensors]))`.
//!
//! - `no_std` + `alloc`; the Core profile's one dependency is `bytemuck` (checked casts for typed slices); the CBOR
//!   heads are parsed by hand.
//! - [`decode_tensor`] / [`decode_bundle`] apply every check of SPEC.md §7.1 and §7.2 in the
//!   specified order and report the first failure as an [`Error`] carrying the registry [`ErrorCode`]
//!   and a byte offset. They never panic, never reserve memory from a length the input claims, and
//!   recurse at most 33 levels (metadata nesting is limited to 32). Metadata is validated without
//!   allocating and kept as a slice ([`Metadata`]): memory stays a small multiple of the input.
//! - Element bytes are returned as a slice of the input ([`Elements::Bytes`]); they start at an offset
//!   that is a multiple of [`DType::align`], so a buffer with 8-byte aligned start can be viewed in place.
//! - [`read_layout`] gives a bundle's byte ranges from its prefix alone (range reads of stored bundles).
//! - Typed elements: [`TensorView::as_slice`] (`&[f32]`, `&[i64]`, ... borrowed, or a [`ViewError`]),
//!   [`TensorView::to_vec`], and [`TensorView::widen_f32`] for float16, bfloat16 and the float8/6/4 types.
//! - [`encode_tensor`], [`encode_view`], [`encode_slice`] (typed), [`TensorWriter`] (filled in place) and
//!   [`encode_bundle`] produce the one valid encoding; [`encode_tensor_head`] the bytes before a tensor's
//!   elements (serving documents from elsewhere).
//! - Errors carry the registry code, the byte offset and a [`Detail`]; feature `candid` adds [`candid::Error`],
//!   the record `{ code : text; offset : nat64; message : text }` for canister methods.
//! - Feature `stream`: the `stream` module, chunked streams of SPEC.md §10 (verified receivers,
//!   incremental decoding); its docs say what a canister keeps between messages.
//! - Feature `conformance`: the `conformance` module, the canister conformance method (`answer`), so that
//!   `tensorcbor conformance run --canister X.wasm` checks a canister's own module.
//! - Feature `candle` (std): the `candle` module, a `candle_nn::VarBuilder` backend over a decoded bundle.
//!
//! ```
//! use tensorcbor::{decode_tensor, encode_tensor, DType};
//! let data: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect();
//! let doc = encode_tensor(DType::Float32, &[3], &data).unwrap();
//! let t = decode_tensor(&doc).unwrap();
//! assert_eq!((t.dtype, &t.shape[..], t.data()), (DType::Float32, &[3u64][..], Some(&data[..])));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "candid")]
pub mod candid;
#[cfg(feature = "candle")]
pub mod candle;
mod cbor;
#[cfg(feature = "conformance")]
pub mod conformance;
mod decode;
mod dtype;
mod dtype_table;
mod encode;
mod error;
mod error_codes;
mod layout;
#[cfg(feature = "stream")]
pub mod stream;
mod typed;
mod value;

pub use decode::{
    check_tensor_elements, decode_bundle, decode_tensor, index_bundle, read_layout,
    read_layout_to_base, BundleIndex, BundleView, Elements, LayoutEntry, TensorView,
    MAX_NAME_BYTES, MAX_RANK, MAX_SIZE,
};
pub use dtype::DType;
pub use encode::{
    encode_bundle, encode_bundle_with, encode_tensor, encode_tensor_head, encode_view,
};
pub use error::{Detail, Error, ErrorCode, ShortShape, ShortText, Utf8Reason};
pub use typed::{encode_slice, Element, TensorWriter, ViewError, WidenF32};
pub use value::{Metadata, Value, MAX_METADATA_BYTES, MAX_NESTING};

/// The version field of every document this crate reads and writes (SPEC.md §4).
pub const FORMAT_VERSION: u64 = decode::VERSION;
/// The SPEC.md revision this crate implements (also `[package.metadata.tensorcbor]` of its Cargo.toml).
pub const SPEC_VERSION: &str = "1.0.1";

/// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
