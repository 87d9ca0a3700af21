//! The Stream profile (SPEC.md §10): a document cut into chunks, each verified on arrival.
//!
//! ```text
//! manifest chunk:  55799(52083([1, doc-length, max-size, doc-sha256, digests]))
//! data chunk:      55799(52083([1, stream-id, index, payload]))
//! ```
//!
//! Two receivers apply checks M1-M12, D1-D11 and E1-E2 of §10.4 in order and report the first failure as an
//! [`Error`] with its registry code:
//!
//! - [`SequentialReceiver`] takes data chunks in index order and hashes the document as it arrives (E2
//!   without a second pass). Its payloads feed a [`StreamDecoder`], which decodes the document incrementally
//!   and hands out each tensor (and a bundle's metadata) as soon as its last byte has arrived, as a view into
//!   its buffer; a document error is reported as soon as the bytes that show it are in.
//! - [`StoringReceiver`] keeps verified payloads in any order in a [`ChunkStore`] (a canister's stable memory)
//!   and hashes them in index order as the contiguous prefix grows.
//!
//! A rejected chunk changes no state: the uploader may send a corrected one.
//!
//! # State between messages (canisters)
//!
//! On the IC the heap survives between messages (only an upgrade clears it), so a canister keeps the
//! receiver in a heap variable and nothing else; across an upgrade it keeps the manifest chunk and the list of
//! stored indices in stable memory and calls [`StoringReceiver::resume`] (a sequential receiver: the manifest
//! chunk and two counters, [`SequentialReceiver::resume`]). What a receiver holds:
//!
//! | part | bytes |
//! |---|---|
//! | manifest: lengths, two digests | 88 |
//! | manifest: chunk digests | 32 × N |
//! | SHA-256 state (E2) | 112 |
//! | counters, options | about 64 |
//! | storing: which chunks are in | N / 8 |
//! | sequential: bytes of the tensor item being received (a bundle: also the directory) | at most the largest tensor item + one payload |
//!
//! With the default chunk limit (1,900,000 bytes) a 100 MB model is 53 chunks: 2 KB of digests. A storing
//! receiver's state is therefore about `33 * N + 300` bytes, independent of the document's size.

use crate::cbor::{Reader, MAJOR_BYTES, MAJOR_UINT};
use crate::decode::{
    check_tensor_elements, close_document, decode_tensor, open_array, open_document,
    read_bundle_prefix, read_item, TensorView, BUNDLE_TAG, SELF_DESCRIBE,
};
use crate::dtype::DType;
use crate::error::{Error, ErrorCode};
use crate::value::Metadata;
use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest, Sha256};

/// Tag 52083 of stream chunks.
pub const STREAM_TAG: u64 = 52083;
/// The smallest allowed `max-size`.
pub const MIN_MAX_SIZE: u64 = 128;
/// The largest allowed `max-size`, 2^32 - 1.
pub const MAX_MAX_SIZE: u64 = u32::MAX as u64;
/// The default chunk size limit (SPEC.md §10.3): fits an ICP ingress message with room for its envelope.
pub const DEFAULT_MAX_SIZE: u64 = 1_900_000;
/// The largest overhead of a data chunk: payload capacity is `max-size - 52`.
pub const DATA_CHUNK_OVERHEAD: u64 = 52;
/// The largest document length a manifest may declare, 2^63 - 1.
pub const MAX_DOC_LENGTH: u64 = (1 << 63) - 1;
const DIGEST: usize = 32;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A verified manifest chunk (checks M1-M12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Length of the document in bytes.
    pub doc_length: u64,
    /// The chunk size limit the stream was cut for (128 ..= 2^32 - 1).
    pub max_size: u32,
    /// SHA-256 of the document.
    pub doc_sha256: [u8; 32],
    /// SHA-256 of the manifest chunk: the stream digest every data chunk names.
    pub stream_digest: [u8; 32],
    digests: Vec<u8>,
}

impl Manifest {
    /// The number of data chunks, N.
    pub fn count(&self) -> u32 {
        (self.digests.len() / DIGEST) as u32
    }

    /// The SHA-256 of data chunk `index`'s payload (1-based).
    pub fn digest(&self, index: u32) -> Option<&[u8]> {
        let i = (index as usize).checked_sub(1)?;
        self.digests.get(i * DIGEST..(i + 1) * DIGEST)
    }
}

/// M2: `d9d9f7 d9cb73`.
fn open_chunk(r: &mut Reader<'_>) -> Result<(), Error> {
    open_document(r, STREAM_TAG)
}

/// A 32-byte byte string (`TRUNCATED`, `UNEXPECTED_TYPE` for another length).
fn digest_field<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Error> {
    let h = r.expect(MAJOR_BYTES)?;
    let body = r.take(h.arg)?;
    if body.len() != DIGEST {
        return r.fail(ErrorCode::UnexpectedType, h.start);
    }
    Ok(body)
}

/// Check and parse a manifest chunk (M1-M12). `expected` is the stream digest the receiver got out of band;
/// `quota` bounds the declared document length (`QUOTA_EXCEEDED`).
pub fn parse_manifest(
    chunk: &[u8],
    expected: Option<&[u8; 32]>,
    quota: Option<u64>,
) -> Result<Manifest, Error> {
    let stream_digest = sha256(chunk);
    if expected.is_some_and(|e| *e != stream_digest) {
        return Err(Error::new(ErrorCode::StreamDigestMismatch, 0));
    }
    let mut r = Reader::new(chunk);
    open_chunk(&mut r)?;
    let h = open_array(&mut r)?;
    if h.arg != 5 {
        return r.fail(ErrorCode::UnexpectedType, h.start);
    }
    let lh = r.expect(MAJOR_UINT)?;
    if lh.arg > MAX_DOC_LENGTH {
        return r.fail(ErrorCode::SizeOverflow, lh.start);
    }
    let sh = r.expect(MAJOR_UINT)?;
    if !(MIN_MAX_SIZE..=MAX_MAX_SIZE).contains(&sh.arg) {
        return r.fail(ErrorCode::InvalidChunkSize, sh.start);
    }
    let doc_sha = digest_field(&mut r)?;
    let dh = r.expect(MAJOR_BYTES)?;
    let digests = r.take(dh.arg)?;
    if digests.is_empty() || digests.len() % DIGEST != 0 {
        return r.fail(ErrorCode::UnexpectedType, dh.start);
    }
    close_document(&r)?;
    if chunk.len() as u64 > sh.arg {
        return Err(Error::new(ErrorCode::ChunkTooLarge, 0));
    }
    // N < 2^27 (the digests fit in one chunk) and the capacity < 2^32: no 64-bit overflow.
    let count = (digests.len() / DIGEST) as u64;
    let cap = sh.arg - DATA_CHUNK_OVERHEAD;
    if !(count <= lh.arg && lh.arg <= count * cap) {
        return Err(Error::new(ErrorCode::StreamLengthMismatch, 0));
    }
    if quota.is_some_and(|q| lh.arg > q) {
        return Err(Error::new(ErrorCode::QuotaExceeded, 0));
    }
    let mut doc_sha256 = [0u8; 32];
    doc_sha256.copy_from_slice(doc_sha);
    Ok(Manifest {
        doc_length: lh.arg,
        max_size: sh.arg as u32,
        doc_sha256,
        stream_digest,
        digests: digests.to_vec(),
    })
}

/// A data chunk that passed D1-D11: its index and payload (a slice of the chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    pub index: u32,
    pub payload: &'a [u8],
}

/// What D7, D8 and D11 need to know about the chunks received so far.
struct Received<'s> {
    have: &'s dyn Fn(u32) -> bool,
    count: u32,
    bytes: u64,
    sequential: bool,
}

/// Checks D1-D11 of one data chunk against `m`. Touches no state.
fn check_data<'a>(
    m: &Manifest,
    chunk: &'a [u8],
    got: Received<'_>,
) -> Result<DataChunk<'a>, Error> {
    if chunk.len() as u64 > m.max_size as u64 {
        return Err(Error::new(ErrorCode::ChunkTooLarge, 0));
    }
    let mut r = Reader::new(chunk);
    open_chunk(&mut r)?;
    let h = open_array(&mut r)?;
    if h.arg != 4 {
        return r.fail(ErrorCode::UnexpectedType, h.start);
    }
    let at = r.pos;
    if digest_field(&mut r)? != m.stream_digest {
        return r.fail(ErrorCode::WrongStream, at);
    }
    let ih = r.expect(MAJOR_UINT)?;
    if ih.arg == 0 || ih.arg > m.count() as u64 {
        return r.fail(ErrorCode::ChunkOutOfRange, ih.start);
    }
    let index = ih.arg as u32;
    if (got.have)(index) {
        return r.fail(ErrorCode::DuplicateChunk, ih.start);
    }
    if got.sequential && index != got.count + 1 {
        return r.fail(ErrorCode::ChunkOutOfOrder, ih.start);
    }
    let ph = r.expect(MAJOR_BYTES)?;
    let begin = r.pos;
    let payload = r.take(ph.arg)?;
    close_document(&r)?;
    if m.digest(index) != Some(&sha256(payload)[..]) {
        return r.fail(ErrorCode::ChunkDigestMismatch, begin);
    }
    let total = got.bytes + payload.len() as u64;
    if payload.is_empty()
        || total > m.doc_length
        || (got.count + 1 == m.count() && total != m.doc_length)
    {
        return r.fail(ErrorCode::StreamLengthMismatch, begin);
    }
    Ok(DataChunk { index, payload })
}

/// Something a [`SequentialReceiver`] hands out as soon as its bytes are in. Views borrow the receiver's
/// buffer for the duration of the callback.
#[derive(Debug)]
pub enum Event<'b> {
    /// A bundle's metadata (once, before its first tensor).
    Metadata(Metadata<'b>),
    /// A tensor, complete and checked: `index` in document order, `name` empty for a tensor document.
    Tensor {
        index: usize,
        name: &'b str,
        tensor: TensorView<'b>,
    },
}

/// A directory entry kept after the bundle prefix is dropped.
#[derive(Debug)]
struct OwnedEntry {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
    length: u64,
}

#[derive(Debug)]
enum DocState {
    /// Not enough bytes to tell a tensor from a bundle.
    Start,
    Tensor,
    BundlePrefix,
    BundleItems,
    Done,
    Failed(Error),
}

/// Buffer capacity a [`StreamDecoder`] keeps after compacting beyond four times what the next item needs.
const SHRINK_SLACK: usize = 8 << 20;

/// Decodes a document from its bytes in order (the payloads a [`SequentialReceiver`] accepts) and hands out
/// the metadata and each tensor as soon as its last byte is in, with every check of §7 in the strict order;
/// a document error is reported as soon as the bytes that show it have arrived.
///
/// It keeps the bytes from the start of the item being read (8-aligned, so alignment checks see the
/// document's alignment) to the end of the last payload, and the directory of a bundle: at most the largest
/// tensor item plus one payload plus the directory.
///
/// ```
/// # #[cfg(feature = "stream")] {
/// use tensorcbor::stream::{Event, SequentialReceiver, StreamDecoder};
/// fn receive(chunks: &[&[u8]]) -> Result<usize, tensorcbor::Error> {
///     let (mut rx, mut dec, mut tensors) = (SequentialReceiver::new(None, None), StreamDecoder::new(), 0);
///     for chunk in chunks {
///         if let Some(data) = rx.accept(chunk)? {
///             dec.push(data.payload, rx.is_complete(), &mut |e| {
///                 if let Event::Tensor { .. } = e { tensors += 1 }
///             })?;
///         }
///     }
///     rx.finish()?;
///     dec.finish()?;
///     Ok(tensors)
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct StreamDecoder {
    state: DocState,
    buf: Vec<u8>,
    start: u64,
    /// Document offset of the next tensor item.
    next_at: u64,
    entries: Vec<OwnedEntry>,
    next_entry: usize,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder expecting the first byte of a tensor or bundle document.
    pub fn new() -> Self {
        StreamDecoder {
            state: DocState::Start,
            buf: Vec::new(),
            start: 0,
            next_at: 0,
            entries: Vec::new(),
            next_entry: 0,
        }
    }

    fn shift(e: Error, by: u64) -> Error {
        Error {
            offset: e.offset + by as usize,
            ..e
        }
    }

    /// Drop buffered bytes before document offset `at` (kept 8-aligned). After a tensor much larger than the
    /// next one, the buffer's memory goes back to the allocator, so a caller that keeps the tensors (a
    /// canister building a model) reuses it rather than growing its heap past it; a buffer about the size of
    /// the next item is kept, so items of similar size do not grow it again each time. (The next item's
    /// declared length only bounds what is kept, never what is allocated.)
    fn drop_before(&mut self, at: u64) {
        let keep_from = at & !7;
        if keep_from > self.start {
            let n = ((keep_from - self.start) as usize).min(self.buf.len());
            self.buf.drain(..n);
            self.start += n as u64;
            let next = self
                .entries
                .get(self.next_entry)
                .map_or(0, |e| usize::try_from(e.length).unwrap_or(usize::MAX));
            let needed = self.buf.len().max(next);
            if self.buf.capacity() > needed.saturating_mul(4).saturating_add(SHRINK_SLACK) {
                self.buf.shrink_to(needed);
            }
        }
    }

    /// Bytes currently buffered.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// After the last payload: `Ok` if the document was decoded whole, else its error (`TRUNCATED` if it
    /// ended early).
    pub fn finish(&self) -> Result<(), Error> {
        match &self.state {
            DocState::Failed(e) => Err(e.clone()),
            DocState::Done => Ok(()),
            _ => Err(Error::new(
                ErrorCode::Truncated,
                (self.start + self.buf.len() as u64) as usize,
            )),
        }
    }

    /// Take the next bytes of the document; `on` gets what they complete. `all_in`: these are the last
    /// bytes (a `TRUNCATED` is then final). After an error every call returns it again.
    pub fn push(
        &mut self,
        payload: &[u8],
        all_in: bool,
        on: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        if let DocState::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let at = self.start + self.buf.len() as u64;
        self.buf.extend_from_slice(payload);
        let result = self.advance(all_in, at, on);
        // Compact once per payload (not per tensor: many small tensors in one payload stay linear).
        self.drop_before(self.next_at);
        if let Err(e) = &result {
            self.state = DocState::Failed(e.clone());
            self.buf = Vec::new();
        }
        result
    }

    /// An error, unless it is TRUNCATED and more bytes are coming (then: wait).
    fn settle(e: Error, all_in: bool) -> Result<bool, Error> {
        if e.code == ErrorCode::Truncated && !all_in {
            Ok(false)
        } else {
            Err(e)
        }
    }

    fn advance(
        &mut self,
        all_in: bool,
        at: u64,
        on: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        loop {
            match &self.state {
                DocState::Failed(e) => return Err(e.clone()),
                DocState::Done => {
                    if self.start + (self.buf.len() as u64) > self.next_at {
                        return Err(Error::new(
                            ErrorCode::TrailingBytes,
                            self.next_at.max(at) as usize,
                        ));
                    }
                    return Ok(());
                }
                DocState::Start => {
                    let b = &self.buf;
                    let is_bundle = b.len() >= 6
                        && b.starts_with(&SELF_DESCRIBE)
                        && b[3..6] == [0xd9, (BUNDLE_TAG >> 8) as u8, BUNDLE_TAG as u8];
                    if is_bundle {
                        self.state = DocState::BundlePrefix;
                    } else if b.len() >= 6 || all_in {
                        self.state = DocState::Tensor;
                    } else {
                        // Too short to tell; a wrong first byte is already an error.
                        match decode_tensor(b) {
                            Err(e) if e.code != ErrorCode::Truncated => {
                                let bundle_prefix =
                                    b.len() > 3 && [0xd9, 0xcb, 0x62].starts_with(&b[3..]);
                                if !bundle_prefix {
                                    return Err(e);
                                }
                            }
                            _ => {}
                        }
                        return Ok(());
                    }
                }
                DocState::Tensor => {
                    return match decode_tensor(&self.buf) {
                        Ok(t) => {
                            let end = self.buf.len() as u64;
                            on(Event::Tensor {
                                index: 0,
                                name: "",
                                tensor: t,
                            });
                            self.next_at = end;
                            self.state = DocState::Done;
                            self.buf.clear();
                            self.start = end;
                            Ok(())
                        }
                        Err(e) => Self::settle(e, all_in).map(|_| ()),
                    };
                }
                DocState::BundlePrefix => {
                    let mut r = Reader::new(&self.buf);
                    match read_bundle_prefix(&mut r) {
                        Ok(p) => {
                            on(Event::Metadata(p.metadata));
                            self.entries = p
                                .tensors
                                .into_iter()
                                .zip(p.lengths)
                                .map(|((name, t), length)| OwnedEntry {
                                    name: name.into(),
                                    dtype: t.dtype,
                                    shape: t.shape,
                                    length,
                                })
                                .collect();
                            self.next_at = r.pos as u64;
                            self.state = DocState::BundleItems;
                        }
                        Err(e) => {
                            Self::settle(e, all_in)?;
                            return Ok(());
                        }
                    }
                }
                DocState::BundleItems => {
                    let Some(e) = self.entries.get(self.next_entry) else {
                        self.state = DocState::Done;
                        continue;
                    };
                    let n = element_count(&e.shape);
                    let mut r = Reader::at(&self.buf, (self.next_at - self.start) as usize);
                    match read_item(&mut r, e.dtype, n, e.length)
                        .map_err(|x| x.with_shape(&e.shape).with_name(&e.name))
                    {
                        Ok((elements, pos)) => {
                            let t = TensorView {
                                dtype: e.dtype,
                                shape: e.shape.clone(),
                                elements,
                            };
                            check_tensor_elements(&t, pos)
                                .map_err(|x| Self::shift(x, self.start))?;
                            on(Event::Tensor {
                                index: self.next_entry,
                                name: &e.name,
                                tensor: t,
                            });
                            let end = self.start + r.pos as u64;
                            self.next_at = end;
                            self.next_entry += 1;
                        }
                        Err(x) => {
                            Self::settle(Self::shift(x, self.start), all_in)?;
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

fn element_count(shape: &[u64]) -> u64 {
    if shape.contains(&0) {
        0
    } else {
        shape.iter().product()
    }
}

/// A receiver that takes data chunks in index order (SPEC.md §10.4) and hashes the document as it arrives.
/// Feed the payloads it returns to a [`StreamDecoder`] to get tensors as they complete.
#[derive(Debug, Clone)]
pub struct SequentialReceiver {
    expected: Option<[u8; 32]>,
    quota: Option<u64>,
    skip_e2: bool,
    manifest: Option<Manifest>,
    received: u32,
    bytes: u64,
    hash: Sha256,
}

impl SequentialReceiver {
    /// `expected`: the stream digest got out of band (M1); `quota`: the largest document length accepted.
    pub fn new(expected: Option<[u8; 32]>, quota: Option<u64>) -> Self {
        SequentialReceiver {
            expected,
            quota,
            skip_e2: false,
            manifest: None,
            received: 0,
            bytes: 0,
            hash: Sha256::new(),
        }
    }

    /// Skip E2 when the manifest was checked against an expected stream digest (SPEC.md §10.4 allows it: the
    /// document is fixed by a trusted hash). Saves hashing every payload twice (its chunk digest, the
    /// document digest).
    pub fn skip_document_hash_when_trusted(mut self, skip: bool) -> Self {
        self.skip_e2 = skip;
        self
    }

    /// Rebuild a receiver after a canister upgrade (the heap is gone, the stored payloads are not): re-check
    /// the manifest chunk against `expected` and count `received` data chunks of `bytes` payload bytes as in.
    /// The document hash of the payloads before the upgrade is gone with the heap, so a resumed receiver
    /// skips E2, which needs the trusted stream digest: `expected` is required. Counts the manifest cannot
    /// have produced are `CHUNK_OUT_OF_RANGE` / `STREAM_LENGTH_MISMATCH`.
    pub fn resume(
        expected: [u8; 32],
        quota: Option<u64>,
        manifest_chunk: &[u8],
        received: u32,
        bytes: u64,
    ) -> Result<Self, Error> {
        let mut rx = Self::new(Some(expected), quota).skip_document_hash_when_trusted(true);
        rx.accept(manifest_chunk)?;
        let m = rx
            .manifest
            .as_ref()
            .ok_or(Error::new(ErrorCode::MissingChunk, 0))?;
        if received > m.count() {
            return Err(Error::new(ErrorCode::ChunkOutOfRange, 0));
        }
        // Each chunk carries 1 ..= max-size - 52 payload bytes.
        let cap = m.max_size as u64 - DATA_CHUNK_OVERHEAD;
        if bytes > m.doc_length || bytes < received as u64 || bytes > received as u64 * cap {
            return Err(Error::new(ErrorCode::StreamLengthMismatch, 0));
        }
        rx.received = received;
        rx.bytes = bytes;
        Ok(rx)
    }

    /// Data chunks accepted so far (they are chunks 1..=received).
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Payload bytes accepted so far: the document's first `bytes` bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn hashing(&self) -> bool {
        !(self.skip_e2 && self.expected.is_some())
    }

    /// The accepted manifest, if any.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Whether every data chunk is in.
    pub fn is_complete(&self) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| self.received == m.count())
    }

    /// Take one chunk: until a manifest is accepted, every chunk is checked as the manifest (returns `None`);
    /// then data chunks, returned with their payload (a slice of `chunk`). A chunk that fails a check of
    /// §10.4 changes nothing.
    pub fn accept<'c>(&mut self, chunk: &'c [u8]) -> Result<Option<DataChunk<'c>>, Error> {
        let Some(m) = &self.manifest else {
            self.manifest = Some(parse_manifest(chunk, self.expected.as_ref(), self.quota)?);
            return Ok(None);
        };
        let received = self.received;
        let got = Received {
            have: &|i| i <= received,
            count: received,
            bytes: self.bytes,
            sequential: true,
        };
        let d = check_data(m, chunk, got)?;
        self.received += 1;
        self.bytes += d.payload.len() as u64;
        if self.hashing() {
            self.hash.update(d.payload);
        }
        Ok(Some(d))
    }

    /// The end of the stream: E1 (`MISSING_CHUNK`), then E2 (`DOCUMENT_DIGEST_MISMATCH`) unless skipped.
    pub fn finish(&self) -> Result<(), Error> {
        let Some(m) = &self.manifest else {
            return Err(Error::new(ErrorCode::MissingChunk, 0));
        };
        if self.received < m.count() {
            return Err(Error::new(ErrorCode::MissingChunk, 0));
        }
        if self.hashing() {
            let digest: [u8; 32] = self.hash.clone().finalize().into();
            if digest != m.doc_sha256 {
                return Err(Error::new(ErrorCode::DocumentDigestMismatch, 0));
            }
        }
        Ok(())
    }
}

/// Where a [`StoringReceiver`] keeps payloads (a canister: stable memory).
pub trait ChunkStore {
    /// Keep the payload of data chunk `index` (called once per accepted chunk).
    fn store(&mut self, index: u32, payload: &[u8]);
    /// Pass the stored payload of chunk `index` to `f` (used to hash the contiguous prefix in order).
    fn load(&self, index: u32, f: &mut dyn FnMut(&[u8]));
}

/// An in-memory [`ChunkStore`].
#[derive(Debug, Default, Clone)]
pub struct VecStore {
    chunks: Vec<Option<Vec<u8>>>,
}

impl VecStore {
    /// The payloads concatenated in index order (the document, once every chunk is in).
    pub fn document(&self) -> Vec<u8> {
        self.chunks.iter().flatten().flatten().copied().collect()
    }
}

impl ChunkStore for VecStore {
    fn store(&mut self, index: u32, payload: &[u8]) {
        let i = index as usize;
        if self.chunks.len() < i {
            self.chunks.resize(i, None);
        }
        self.chunks[i - 1] = Some(payload.to_vec());
    }

    fn load(&self, index: u32, f: &mut dyn FnMut(&[u8])) {
        if let Some(Some(p)) = self.chunks.get(index as usize - 1) {
            f(p);
        }
    }
}

/// A receiver that keeps verified chunks in any order (SPEC.md §10.4): never `CHUNK_OUT_OF_ORDER`.
#[derive(Debug)]
pub struct StoringReceiver<S: ChunkStore> {
    expected: Option<[u8; 32]>,
    quota: Option<u64>,
    skip_e2: bool,
    manifest: Option<Manifest>,
    have: Vec<u8>,
    received: u32,
    bytes: u64,
    /// Chunks 1..=contiguous are hashed into `hash`.
    contiguous: u32,
    hash: Sha256,
    store: S,
}

impl<S: ChunkStore> StoringReceiver<S> {
    /// `expected`: the stream digest (M1); `quota`: the largest document length accepted.
    pub fn new(expected: Option<[u8; 32]>, quota: Option<u64>, store: S) -> Self {
        StoringReceiver {
            expected,
            quota,
            skip_e2: false,
            manifest: None,
            have: Vec::new(),
            received: 0,
            bytes: 0,
            contiguous: 0,
            hash: Sha256::new(),
            store,
        }
    }

    /// Rebuild a receiver after a canister upgrade (the heap is gone, the store is not): re-check the manifest
    /// chunk and mark the chunks in `stored` as received, reading their payloads back from `store` for their
    /// lengths and the E2 hash. Chunks are not re-verified (they were when they arrived); an index out of
    /// range, repeated or missing from the store is `CHUNK_OUT_OF_RANGE` / `DUPLICATE_CHUNK` /
    /// `MISSING_CHUNK`.
    pub fn resume(
        expected: Option<[u8; 32]>,
        quota: Option<u64>,
        manifest_chunk: &[u8],
        store: S,
        stored: impl IntoIterator<Item = u32>,
    ) -> Result<Self, Error> {
        let mut rx = Self::new(expected, quota, store);
        rx.accept(manifest_chunk)?;
        let count = rx.manifest.as_ref().map_or(0, Manifest::count);
        for index in stored {
            if index == 0 || index > count {
                return Err(Error::new(ErrorCode::ChunkOutOfRange, 0));
            }
            if rx.has(index) {
                return Err(Error::new(ErrorCode::DuplicateChunk, 0));
            }
            let mut len = None;
            rx.store.load(index, &mut |p| len = Some(p.len() as u64));
            let Some(len) = len else {
                return Err(Error::new(ErrorCode::MissingChunk, 0));
            };
            let i = index as usize - 1;
            rx.have[i / 8] |= 1 << (i % 8);
            rx.received += 1;
            rx.bytes += len;
        }
        rx.hash_contiguous(0, &[]);
        Ok(rx)
    }

    /// Hash chunks after the contiguous prefix as long as they are in (`just`: the payload of chunk `index`,
    /// which the store may not give back yet).
    fn hash_contiguous(&mut self, index: u32, just: &[u8]) {
        if !self.hashing() {
            return;
        }
        while self.has(self.contiguous + 1) {
            let next = self.contiguous + 1;
            if next == index {
                self.hash.update(just);
            } else {
                let hash = &mut self.hash;
                self.store.load(next, &mut |p| hash.update(p));
            }
            self.contiguous = next;
        }
    }

    /// Skip E2 when the manifest was checked against an expected stream digest (SPEC.md §10.4 allows it: the
    /// document is fixed by a trusted hash). Saves re-reading early chunks from the store.
    pub fn skip_document_hash_when_trusted(mut self, skip: bool) -> Self {
        self.skip_e2 = skip;
        self
    }

    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether data chunk `index` was accepted.
    pub fn has(&self, index: u32) -> bool {
        let i = index as usize;
        i >= 1
            && self
                .have
                .get((i - 1) / 8)
                .is_some_and(|b| b & (1 << ((i - 1) % 8)) != 0)
    }

    fn hashing(&self) -> bool {
        !(self.skip_e2 && self.expected.is_some())
    }

    /// Take one chunk (the first is the manifest); returns the data chunk's index (`None` for the manifest).
    /// A chunk that fails a check changes nothing.
    pub fn accept(&mut self, chunk: &[u8]) -> Result<Option<u32>, Error> {
        let Some(m) = &self.manifest else {
            let m = parse_manifest(chunk, self.expected.as_ref(), self.quota)?;
            self.have = alloc::vec![0; (m.count() as usize).div_ceil(8)];
            self.manifest = Some(m);
            return Ok(None);
        };
        let got = Received {
            have: &|i| self.has(i),
            count: self.received,
            bytes: self.bytes,
            sequential: false,
        };
        let d = check_data(m, chunk, got)?;
        let i = d.index as usize - 1;
        self.have[i / 8] |= 1 << (i % 8);
        self.received += 1;
        self.bytes += d.payload.len() as u64;
        self.store.store(d.index, d.payload);
        self.hash_contiguous(d.index, d.payload);
        Ok(Some(d.index))
    }

    /// The end of the stream: E1 (`MISSING_CHUNK`, at the lowest missing index), then E2.
    pub fn finish(&self) -> Result<(), Error> {
        let Some(m) = &self.manifest else {
            return Err(Error::new(ErrorCode::MissingChunk, 0));
        };
        if self.received < m.count() {
            return Err(Error::new(ErrorCode::MissingChunk, 0));
        }
        if self.hashing() {
            let digest: [u8; 32] = self.hash.clone().finalize().into();
            if digest != m.doc_sha256 {
                return Err(Error::new(ErrorCode::DocumentDigestMismatch, 0));
            }
        }
        Ok(())
    }
}
