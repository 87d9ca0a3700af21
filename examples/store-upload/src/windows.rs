//! The stored document read back from stable memory in windows into the crate's `StreamDecoder`: the strict
//! decode of `finish` without the document ever entering the heap whole. The decoder keeps at most the
//! tensor item being read plus one window (and a bundle's directory), so a document larger than the heap
//! (the 4 GiB of wasm32) is fine as long as its largest tensor fits.

use crate::stable::DATA_BASE;
use crate::{format_error, Error};
use tensorcbor::stream::{Event, StreamDecoder};

/// Bytes of the document read from stable memory per decoder push.
pub const WINDOW: u64 = 4 << 20;

/// A decode in progress of the document at `[DATA_BASE, DATA_BASE + doc_length)`.
#[derive(Debug)]
pub struct Windows {
    doc_length: u64,
    decoder: StreamDecoder,
    /// Document bytes pushed into the decoder so far.
    pos: u64,
}

/// How far [`Windows::run`] came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The whole document is decoded and passed every check.
    Done,
    /// The instruction budget ran out after `verified` document bytes: call `run` again (in a later message).
    Pending { verified: u64 },
}

impl Windows {
    pub fn new(doc_length: u64) -> Windows {
        Windows {
            doc_length,
            decoder: StreamDecoder::new(),
            pos: 0,
        }
    }

    /// Push windows until the document is decoded, or until this message has used `budget` instructions
    /// (`ic0.performance_counter`; at least one window per call, so every call makes progress). `on_event`
    /// sees the metadata and each tensor as soon as it is complete and checked; its first error, or the
    /// decoder's, ends the decode.
    pub fn run<E: From<Error>>(
        &mut self,
        budget: u64,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<Progress, E> {
        let mut window = Vec::new();
        let mut pushed_one = false;
        while self.pos < self.doc_length {
            if pushed_one && ic_cdk::api::performance_counter(0) > budget {
                return Ok(Progress::Pending { verified: self.pos });
            }
            pushed_one = true;
            let len = WINDOW.min(self.doc_length - self.pos);
            window.resize(len as usize, 0);
            ic_cdk::stable::stable_read(DATA_BASE + self.pos, &mut window);
            self.pos += len;
            let all_in = self.pos == self.doc_length;
            let mut failure: Option<E> = None;
            let pushed = self.decoder.push(&window, all_in, &mut |event| {
                if failure.is_none() {
                    failure = on_event(event).err();
                }
            });
            pushed.map_err(|e| format_error(e, "the uploaded document"))?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        self.decoder
            .finish()
            .map_err(|e| format_error(e, "the uploaded document"))?;
        Ok(Progress::Done)
    }
}
