//! Errors: one code from the registry of SPEC.md §8, plus the byte offset where the check failed.

pub use crate::error_codes::ErrorCode;

impl ErrorCode {
    /// The code whose registry name is `name` (`"BAD_MAGIC"`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected document or chunk (or an encoder input that has no valid encoding).
///
/// `offset` is the byte position, from the document (or chunk) start, of the item whose check failed
/// (for encoder errors: 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    pub code: ErrorCode,
    pub offset: usize,
}

impl Error {
    pub(crate) const fn new(code: ErrorCode, offset: usize) -> Error {
        Error { code, offset }
    }

    /// The registry code.
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The registry's message for the code.
    pub const fn message(&self) -> &'static str {
        self.code.message()
    }
}

impl core::fmt::Display for Error {
    /// `CODE at byte N: registry message`, the form of the Python reference's DecodeError.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.code.as_str(),
            self.offset,
            self.code.message()
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
