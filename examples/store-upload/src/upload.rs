//! The upload state machine: chunk 0 (the manifest) with the stream digest the uploader vouches for, data
//! chunks in index order, each verified before its payload is written to stable memory at
//! [`DATA_BASE`](crate::stable::DATA_BASE), then E1 at the end. What survives an upgrade is [`UploadState`].

use crate::stable::{self, DATA_BASE};
use crate::{format_error, Error};
use candid::{CandidType, Deserialize};
use serde_bytes::ByteBuf;
use tensorcbor::stream::SequentialReceiver;
use tensorcbor::ErrorCode;

/// An upload in progress as saved across upgrades: the verified manifest chunk and how far the stream has
/// come (what `SequentialReceiver::resume` needs).
#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct UploadState {
    pub manifest: ByteBuf,
    pub stream_digest: ByteBuf,
    /// The next data chunk expected (1..=N+1).
    pub next: u64,
    /// Payload bytes written so far, at DATA_BASE.
    pub received: u64,
}

/// What the upload methods answer (Candid `UploadStatus`).
#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct UploadStatus {
    /// N, the number of data chunks the manifest lists.
    pub chunks: u64,
    /// Data chunks received so far.
    pub received: u64,
    /// Document bytes stored so far.
    pub bytes: u64,
    /// The manifest's declared document length.
    pub doc_length: u64,
}

/// The stream digest argument of `begin_upload`, which is 32 bytes.
pub fn stream_digest(bytes: &[u8]) -> Result<[u8; 32], Error> {
    bytes.try_into().map_err(|_| {
        Error::InvalidArgument(format!(
            "the stream digest is 32 bytes, got {}",
            bytes.len()
        ))
    })
}

/// An upload in progress: the verifying receiver (heap) and its saved form.
#[derive(Debug)]
pub struct Upload {
    rx: SequentialReceiver,
    saved: UploadState,
}

impl Upload {
    /// Checks M1-M12 on the manifest chunk against `digest` and `quota` (the largest declared document
    /// length), before anything is stored. E2 is skipped as SPEC.md §10.4 / design D8 allow (and as a resumed
    /// receiver must): M1 checks the manifest against the stream digest the uploader vouches for, and every
    /// payload is checked against the manifest.
    pub fn begin(manifest: ByteBuf, digest: [u8; 32], quota: u64) -> Result<Upload, Error> {
        let mut rx = SequentialReceiver::new(Some(digest), Some(quota))
            .skip_document_hash_when_trusted(true);
        rx.accept(&manifest).map_err(|e| match e.code {
            ErrorCode::QuotaExceeded => Error::Format {
                code: e.code.as_str().into(),
                message: format!(
                    "the manifest declares a longer document than this canister's quota of {quota} bytes"
                ),
            },
            _ => format_error(e, "the manifest (chunk 0)"),
        })?;
        Ok(Upload {
            rx,
            saved: UploadState {
                manifest,
                stream_digest: ByteBuf::from(digest.to_vec()),
                next: 1,
                received: 0,
            },
        })
    }

    /// The upload `saved` describes, after an upgrade (its payloads are in stable memory already).
    pub fn resume(saved: UploadState) -> Result<Upload, tensorcbor::Error> {
        let digest: [u8; 32] = saved.stream_digest.as_slice().try_into().unwrap_or([0; 32]);
        let received = u32::try_from(saved.next - 1).unwrap_or(u32::MAX);
        let rx =
            SequentialReceiver::resume(digest, None, &saved.manifest, received, saved.received)?;
        Ok(Upload { rx, saved })
    }

    /// One data chunk (D1-D11): verified, then its payload written to stable memory. A rejected chunk changes
    /// nothing; a chunk that cannot be stored traps, which undoes the message (the receiver's counters too).
    pub fn put_chunk(&mut self, data: &[u8]) -> Result<UploadStatus, Error> {
        let at = DATA_BASE + self.rx.bytes();
        let chunk = self
            .rx
            .accept(data)
            .map_err(|e| format_error(e, "the chunk"))?;
        let Some(chunk) = chunk else {
            return Err(Error::InvalidState(
                "the manifest was accepted already".into(),
            ));
        };
        stable::write(at, chunk.payload).unwrap_or_else(|e| ic_cdk::trap(e));
        self.saved.next = u64::from(self.rx.received()) + 1;
        self.saved.received = self.rx.bytes();
        Ok(self.status())
    }

    /// E1 (`MISSING_CHUNK`): every data chunk is in. The document's length.
    pub fn finish(&self) -> Result<u64, Error> {
        let rx = &self.rx;
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
    }

    pub fn status(&self) -> UploadStatus {
        let (chunks, doc_length) = self
            .rx
            .manifest()
            .map_or((0, 0), |m| (u64::from(m.count()), m.doc_length));
        UploadStatus {
            chunks,
            received: u64::from(self.rx.received()),
            bytes: self.rx.bytes(),
            doc_length,
        }
    }

    /// What `pre_upgrade` saves.
    pub fn saved(&self) -> &UploadState {
        &self.saved
    }

    /// First stable byte past the payloads written so far.
    pub fn end(&self) -> u64 {
        DATA_BASE + self.saved.received
    }
}
