//! store-upload: the tensor-store upload protocol (`begin_upload`, `put_chunk`, `finish`: SPEC.md §10 chunks
//! verified on arrival by the tensorcbor crate's `SequentialReceiver`) for Rust canisters, with the document
//! kept in stable memory. Shared by examples/rust-store and examples/model-canister.
//!
//! It declares no endpoint (no `#[update]`/`#[query]`, no lifecycle hook): a canister that depends on it
//! exports only the methods it declares itself, thin wrappers over [`Upload`], [`access`], [`stable`] and
//! [`windows`], so both canisters keep their own Candid interfaces.

pub mod access;
pub mod stable;
mod upload;
pub mod windows;

pub use upload::{stream_digest, Upload, UploadState, UploadStatus};

/// Why an upload call is refused. Each canister maps these onto the same-named cases of its Candid `Error`.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A tensorcbor registry code (SPEC.md §8) and an actionable message.
    Format {
        code: String,
        message: String,
    },
    Unauthorized(String),
    InvalidState(String),
    InvalidArgument(String),
}

/// A tensorcbor error as [`Error::Format`], its message prefixed with what was being read.
pub fn format_error(e: tensorcbor::Error, what: &str) -> Error {
    Error::Format {
        code: e.code().as_str().into(),
        message: format!("{what}: {e}"),
    }
}

/// `impl From<store_upload::Error> for $error`, for a canister's Candid error enum that has the four cases of
/// [`Error`] under the same names (each canister spells out its own Candid `Error` type; this is the mapping).
#[macro_export]
macro_rules! impl_from_upload_error {
    ($error:ty) => {
        impl From<$crate::Error> for $error {
            fn from(e: $crate::Error) -> Self {
                match e {
                    $crate::Error::Format { code, message } => Self::Format { code, message },
                    $crate::Error::Unauthorized(m) => Self::Unauthorized(m),
                    $crate::Error::InvalidState(m) => Self::InvalidState(m),
                    $crate::Error::InvalidArgument(m) => Self::InvalidArgument(m),
                }
            }
        }
    };
}
