//! The receiving side of a tensorcbor chunked stream (SPEC.md §10.4), as a *sequential* receiver:
//! manifest checks M1-M11 and data-chunk checks D1-D11. Each check returns the registry code of the
//! first failure; nothing here touches canister state, so a rejected chunk changes nothing.
//!
//! Written in the canister because the crate has no stream receiver yet; it needs only a CBOR head
//! reader and SHA-256 (`sha2`, no_std).

use sha2::{Digest, Sha256};
use tensorcbor::ErrorCode;

/// `d9d9f7 d9cb73`: self-described CBOR, then tag 52083 (stream chunk).
const STREAM_MAGIC: [u8; 6] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x73];
/// Bytes of a data chunk besides its payload, at most (SPEC.md §10.3).
pub const DATA_CHUNK_OVERHEAD: u64 = 52;
const MIN_MAX_SIZE: u64 = 128;
const MAX_MAX_SIZE: u64 = (1 << 32) - 1;
const MAX_DOC_LENGTH: u64 = (1 << 63) - 1;

/// A registry code (as its text, SPEC.md §8) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: &'static str,
    pub message: String,
}

fn reject<T>(code: ErrorCode, message: String) -> Result<T, Reject> {
    Err(Reject {
        code: code.as_str(),
        message,
    })
}

/// The verified manifest: what a receiver keeps between messages (`digests` is 32 bytes per chunk).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub doc_length: u64,
    pub max_size: u64,
    /// Kept for E2, which this receiver may skip (see `finish` in lib.rs).
    #[allow(dead_code)]
    pub doc_sha256: [u8; 32],
    pub digests: Vec<u8>,
    pub stream_digest: [u8; 32],
}

impl Manifest {
    /// N, the number of data chunks.
    pub fn count(&self) -> u64 {
        (self.digests.len() / 32) as u64
    }
}

/// A data chunk that passed D1-D6, D9 and D10 (D7, D8 and D11 need the receiver's position).
#[derive(Debug)]
pub struct DataChunk<'a> {
    pub index: u64,
    pub payload: &'a [u8],
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// One CBOR head with the generic checks of SPEC.md §7.1 (well-formed, shortest, definite).
    fn head(&mut self) -> Result<(u8, u64), Reject> {
        let at = self.pos;
        let Some(&ib) = self.buf.get(at) else {
            return reject(
                ErrorCode::Truncated,
                format!("the chunk ends at byte {at}, inside a head"),
            );
        };
        let (major, ai) = (ib >> 5, ib & 31);
        let arg = match ai {
            0..=23 => {
                self.pos += 1;
                u64::from(ai)
            }
            24..=27 => {
                let n = 1usize << (ai - 24);
                let Some(bytes) = self.buf.get(at + 1..at + 1 + n) else {
                    return reject(
                        ErrorCode::Truncated,
                        format!("the chunk ends inside the head at byte {at}"),
                    );
                };
                let v = bytes.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
                let shortest = match ai {
                    24 => v >= 24,
                    25 => v > 0xff,
                    26 => v > 0xffff,
                    _ => v > 0xffff_ffff,
                };
                if !shortest && major != 7 {
                    return reject(
                        ErrorCode::NonShortestHead,
                        format!("the head at byte {at} is not in its shortest form"),
                    );
                }
                self.pos += 1 + n;
                v
            }
            31 if (2..=5).contains(&major) => {
                return reject(
                    ErrorCode::IndefiniteLength,
                    format!("indefinite length at byte {at}"),
                )
            }
            _ => {
                return reject(
                    ErrorCode::Malformed,
                    format!("reserved or misplaced additional information at byte {at}"),
                )
            }
        };
        Ok((major, arg))
    }

    fn expect(&mut self, major: u8, what: &str) -> Result<u64, Reject> {
        let at = self.pos;
        let (m, arg) = self.head()?;
        if m != major {
            return reject(
                ErrorCode::UnexpectedType,
                format!("{what} at byte {at}: expected major type {major}, found {m}"),
            );
        }
        Ok(arg)
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], Reject> {
        let len = self.expect(2, what)?;
        let start = self.pos;
        let rest = (self.buf.len() - start) as u64;
        if len > rest {
            return reject(
                ErrorCode::Truncated,
                format!("{what} claims {len} bytes, {rest} remain"),
            );
        }
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn digest(&mut self, what: &str) -> Result<[u8; 32], Reject> {
        let b = self.bytes(what)?;
        b.try_into().or_else(|_| {
            reject(
                ErrorCode::UnexpectedType,
                format!("{what} is 32 bytes, found {}", b.len()),
            )
        })
    }

    fn version(&mut self) -> Result<(), Reject> {
        let v = self.expect(0, "the version")?;
        if v != 1 {
            return reject(
                ErrorCode::UnsupportedVersion,
                format!("stream chunk version {v}; this receiver reads version 1"),
            );
        }
        Ok(())
    }

    /// Steps M2/D2: the six magic bytes.
    fn open(buf: &'a [u8]) -> Result<Self, Reject> {
        if buf.len() >= 6 && buf[..6] == STREAM_MAGIC {
            return Ok(Reader { buf, pos: 6 });
        }
        if buf.len() < 6 && STREAM_MAGIC.starts_with(buf) {
            return reject(
                ErrorCode::Truncated,
                format!("the chunk is {} bytes, inside the magic", buf.len()),
            );
        }
        reject(
            ErrorCode::BadMagic,
            "not a tensorcbor stream chunk: it must start with d9d9f7 d9cb73".into(),
        )
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Steps M1-M11 on chunk 0 against the stream digest the caller vouches for.
pub fn parse_manifest(chunk: &[u8], expected: &[u8; 32]) -> Result<Manifest, Reject> {
    let sid = sha256(chunk);
    if &sid != expected {
        return reject(
            ErrorCode::StreamDigestMismatch,
            "the manifest's SHA-256 is not the stream digest given to begin_upload".into(),
        );
    }
    let mut r = Reader::open(chunk)?;
    let n = r.expect(4, "the manifest array")?;
    if n != 5 {
        return reject(
            ErrorCode::UnexpectedType,
            format!("the manifest (chunk 0) is an array of 5 elements, found {n}"),
        );
    }
    r.version()?;
    let doc_length = r.expect(0, "the document length")?;
    if doc_length > MAX_DOC_LENGTH {
        return reject(
            ErrorCode::SizeOverflow,
            "the document length exceeds 2^63-1".into(),
        );
    }
    let max_size = r.expect(0, "the chunk size limit")?;
    if !(MIN_MAX_SIZE..=MAX_MAX_SIZE).contains(&max_size) {
        // INVALID_CHUNK_SIZE (design D7; checked by the e2e test against the registry).
        return Err(Reject {
            code: "INVALID_CHUNK_SIZE",
            message: format!("max-size {max_size} is outside {MIN_MAX_SIZE}..{MAX_MAX_SIZE}"),
        });
    }
    let doc_sha256 = r.digest("the document SHA-256")?;
    let digests = r.bytes("the chunk digests")?;
    if digests.is_empty() || digests.len() % 32 != 0 {
        return reject(
            ErrorCode::UnexpectedType,
            format!(
                "the chunk digests are 32 bytes per chunk, found {} bytes",
                digests.len()
            ),
        );
    }
    if r.pos != chunk.len() {
        return reject(
            ErrorCode::TrailingBytes,
            format!("{} bytes follow the manifest", chunk.len() - r.pos),
        );
    }
    if chunk.len() as u64 > max_size {
        return reject(
            ErrorCode::ChunkTooLarge,
            format!(
                "the manifest is {} bytes, over its own limit of {max_size}",
                chunk.len()
            ),
        );
    }
    let count = (digests.len() / 32) as u64;
    let cap = max_size - DATA_CHUNK_OVERHEAD;
    if doc_length < count || doc_length > count * cap {
        return reject(ErrorCode::StreamLengthMismatch, format!("{count} chunks of 1 to {cap} payload bytes cannot carry a {doc_length}-byte document"));
    }
    Ok(Manifest {
        doc_length,
        max_size,
        doc_sha256,
        digests: digests.to_vec(),
        stream_digest: sid,
    })
}

/// Steps D1-D10 of one data chunk for a sequential receiver expecting chunk `next`.
pub fn check_data_chunk<'a>(
    m: &Manifest,
    next: u64,
    chunk: &'a [u8],
) -> Result<DataChunk<'a>, Reject> {
    if chunk.len() as u64 > m.max_size {
        return reject(
            ErrorCode::ChunkTooLarge,
            format!(
                "chunk of {} bytes exceeds the stream's {}-byte limit",
                chunk.len(),
                m.max_size
            ),
        );
    }
    let mut r = Reader::open(chunk)?;
    let n = r.expect(4, "the chunk array")?;
    if n != 4 {
        return reject(
            ErrorCode::UnexpectedType,
            format!("a data chunk is an array of 4 elements, found {n}"),
        );
    }
    r.version()?;
    if r.digest("the stream id")? != m.stream_digest {
        return reject(
            ErrorCode::WrongStream,
            "the chunk belongs to another stream".into(),
        );
    }
    let index = r.expect(0, "the chunk index")?;
    if index == 0 || index > m.count() {
        return reject(
            ErrorCode::ChunkOutOfRange,
            format!("chunk index {index} is not in 1..{}", m.count()),
        );
    }
    if index < next {
        return reject(
            ErrorCode::DuplicateChunk,
            format!("chunk {index} was already received"),
        );
    }
    if index > next {
        return reject(
            ErrorCode::ChunkOutOfOrder,
            format!("chunk {index} arrived before chunk {next}"),
        );
    }
    let payload = r.bytes("the payload")?;
    if r.pos != chunk.len() {
        return reject(
            ErrorCode::TrailingBytes,
            format!("{} bytes follow the chunk", chunk.len() - r.pos),
        );
    }
    let k = (index - 1) as usize * 32;
    if sha256(payload)[..] != m.digests[k..k + 32] {
        return reject(ErrorCode::ChunkDigestMismatch, format!("chunk {index}'s payload does not match its SHA-256 in the manifest (altered or corrupted)"));
    }
    Ok(DataChunk { index, payload })
}

/// Step D11: the payload lengths against the declared document length.
pub fn check_length(m: &Manifest, received: u64, chunk: &DataChunk<'_>) -> Result<(), Reject> {
    let size = chunk.payload.len() as u64;
    let total = received + size;
    if size == 0 || total > m.doc_length || (chunk.index == m.count() && total != m.doc_length) {
        return reject(
            ErrorCode::StreamLengthMismatch,
            format!(
                "chunk {} brings the stream to {total} bytes; the manifest declares {}",
                chunk.index, m.doc_length
            ),
        );
    }
    Ok(())
}
