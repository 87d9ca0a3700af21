//! `finish`: the strict decode of the uploaded document, read from stable memory in windows
//! (`store_upload::windows`: the document never enters the heap whole), and the tensor entries it publishes.
//! The work is cut into update messages: each `finish` call pushes windows until it has used `BUDGET`
//! instructions and answers `Verifying`; the caller calls `finish` again. The progress lives in the heap (an
//! upgrade restarts it).

use crate::store::{Entry, Model};
use crate::{format_error, Error};
use serde_bytes::ByteBuf;
use store_upload::stable::{self, DATA_BASE};
use store_upload::windows::{Progress, Windows};
use tensorcbor::stream::Event;
use tensorcbor::{encode_tensor_head, encode_view, read_layout, ErrorCode};

/// Instructions one `finish` message may spend on windows before it answers `Verifying` (the IC allows
/// 40e9 per update message; the rest is margin for the last window and for publishing the model).
pub const BUDGET: u64 = 20_000_000_000;
/// The longest bundle prefix (metadata and directory) read to locate the tensors.
const MAX_PREFIX: u64 = 256 << 20;

/// A verification in progress.
#[derive(Debug)]
pub struct Verify {
    doc_length: u64,
    entries: Vec<Entry>,
    windows: Windows,
    /// First stable byte past the document and the re-encoded `string` tensors written so far.
    end: u64,
    tensors_seen: usize,
}

/// What one `finish` message achieved.
pub enum Step {
    Done(Model),
    Pending { verified: u64 },
}

impl Verify {
    /// Locate every tensor from the bundle prefix (design D4: the directory gives each item's place) and
    /// compute each numeric tensor's document head; nothing of the tensors is read yet.
    pub fn start(doc_length: u64) -> Result<Verify, Error> {
        let mut n = doc_length.min(64 << 10);
        let entries = loop {
            let prefix = stable::read(DATA_BASE, n);
            match read_layout(&prefix) {
                Ok(layout) => break entries_of(&layout)?,
                Err(e) if e.code == ErrorCode::Truncated && n < doc_length => {
                    if n >= MAX_PREFIX {
                        return Err(Error::InvalidArgument(format!(
                            "the bundle's metadata and directory exceed {MAX_PREFIX} bytes; this \
                             canister keeps them in the heap"
                        )));
                    }
                    n = (n * 4).min(doc_length).min(MAX_PREFIX);
                }
                Err(e) => return Err(format_error(e, "the uploaded document")),
            }
        };
        Ok(Verify {
            doc_length,
            entries,
            windows: Windows::new(doc_length),
            end: DATA_BASE + doc_length,
            tensors_seen: 0,
        })
    }

    /// Push windows until the document is decoded or `budget` instructions of this message are used; at
    /// least one window per message, so every call makes progress.
    pub fn step(&mut self, budget: u64) -> Result<Step, Error> {
        let (entries, end, seen) = (&mut self.entries, &mut self.end, &mut self.tensors_seen);
        let progress = self.windows.run::<Error>(budget, &mut |event| {
            if let Event::Tensor { index, tensor, .. } = event {
                *seen = index + 1;
                place_string(entries.get_mut(index), &tensor, end)?;
            }
            Ok(())
        })?;
        if let Progress::Pending { verified } = progress {
            return Ok(Step::Pending { verified });
        }
        if self.tensors_seen != self.entries.len() {
            return Err(Error::InvalidState(format!(
                "the decoder handed out {} of {} tensors",
                self.tensors_seen,
                self.entries.len()
            )));
        }
        Ok(Step::Done(Model {
            doc_length: self.doc_length,
            entries: core::mem::take(&mut self.entries),
            end: self.end,
        }))
    }
}

/// Entries from the layout: numeric tensors are served as their head followed by their element bytes in
/// place; `string` tensors get their document when the decoder hands them out (`place_string`).
fn entries_of(layout: &[tensorcbor::LayoutEntry<'_>]) -> Result<Vec<Entry>, Error> {
    layout
        .iter()
        .map(|l| {
            let (header, size) = if l.dtype == tensorcbor::DType::String {
                (Vec::new(), 0)
            } else {
                let head =
                    encode_tensor_head(l.dtype, &l.shape).map_err(|e| format_error(e, l.name))?;
                (head, l.length)
            };
            Ok(Entry {
                name: l.name.into(),
                dtype: l.dtype.name().into(),
                shape: l.shape.clone(),
                size,
                header: ByteBuf::from(header),
                body_at: DATA_BASE + l.offset,
                body_len: l.length,
            })
        })
        .collect()
}

/// A `string` tensor's re-encoded document, written to stable memory after the document.
fn place_string(
    entry: Option<&mut Entry>,
    tensor: &tensorcbor::TensorView<'_>,
    end: &mut u64,
) -> Result<(), Error> {
    let Some(e) = entry else {
        return Err(Error::InvalidState(
            "the decoder handed out more tensors than the directory lists".into(),
        ));
    };
    if tensor.dtype != tensorcbor::DType::String {
        return Ok(());
    }
    let doc = encode_view(tensor).map_err(|x| format_error(x, &e.name))?;
    stable::write(*end, &doc).map_err(Error::InvalidState)?;
    e.body_at = *end;
    e.body_len = doc.len() as u64;
    e.size = doc.len() as u64;
    *end += doc.len() as u64;
    Ok(())
}
