//! Feature `candid`: errors as a Candid record, so a canister method can return `Result<T, Error>` and its
//! callers get a typed error instead of a trap or a bare string.
//!
//! ```candid
//! type Error = record { code : text; offset : nat64; message : text };
//! ```

use alloc::string::{String, ToString};
// The CandidType derive expands to `vec!` and `String` as a std crate has them in its prelude.
#[allow(unused_imports)]
use alloc::vec;

/// A tensorcbor rejection: the registry code (BAD_MAGIC, ...; for typed access DTYPE_MISMATCH or UNALIGNED),
/// the byte offset, and the whole message as the Python reference words it.
#[derive(
    ::candid::CandidType,
    ::serde::Deserialize,
    ::serde::Serialize,
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
)]
pub struct Error {
    pub code: String,
    pub offset: u64,
    pub message: String,
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Error {
        Error {
            code: e.code.as_str().to_string(),
            offset: e.offset as u64,
            message: e.to_string(),
        }
    }
}

impl From<crate::ViewError> for Error {
    fn from(e: crate::ViewError) -> Error {
        Error {
            code: e.code().to_string(),
            offset: 0,
            message: e.to_string(),
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Error;
    use ::candid::{CandidType, Decode, Encode};
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    #[test]
    fn crosses_candid_as_a_record_of_code_offset_message() {
        let e = Error::from(crate::decode_tensor(b"CBOR").unwrap_err());
        assert_eq!((e.code.as_str(), e.offset), ("BAD_MAGIC", 0));
        assert!(e
            .message
            .starts_with("BAD_MAGIC at byte 0: not a tensorcbor document"));
        let bytes = Encode!(&e).unwrap();
        assert_eq!(Decode!(&bytes, Error).unwrap(), e);
        // The Candid type is exactly the documented record.
        let ::candid::types::TypeInner::Record(fields) = Error::ty().as_ref().clone() else {
            panic!("not a record: {:?}", Error::ty());
        };
        let fields: Vec<(String, ::candid::types::TypeInner)> = fields
            .iter()
            .map(|f| (f.id.to_string(), f.ty.as_ref().clone()))
            .collect();
        use ::candid::types::TypeInner::{Nat64, Text};
        let want = [("code", Text), ("offset", Nat64), ("message", Text)];
        let want: Vec<(String, ::candid::types::TypeInner)> =
            want.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        assert_eq!(fields, want);
        // A Result crosses as the variant every canister method of the README returns.
        let r: Result<f64, Error> = Err(e);
        let bytes = Encode!(&r).unwrap();
        assert_eq!(Decode!(&bytes, Result<f64, Error>).unwrap(), r);
    }
}
