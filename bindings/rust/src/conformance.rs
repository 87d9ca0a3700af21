//! Feature `conformance`: the canister conformance method of `conformance/README.md` ("Checking a canister"),
//! answered with this crate's own decoder, encoder and stream receivers, so that a canister is checked by
//! `tensorcbor conformance run --canister X.wasm` and fuzzed by `python3 -m tensorcbor.fuzz --impl
//! canister:X.wasm`.
//!
//! ```candid
//! type ConformanceError = record { code : text; offset : nat64; message : text };
//! type ConformanceResult = variant { ok : blob; err : ConformanceError };
//! tensorcbor_conformance : (op : text, input : blob) -> (ConformanceResult) query;
//! ```
//!
//! A canister (ic-cdk) with the crate's `candid` feature too answers it in three lines:
//!
//! ```ignore
//! #[ic_cdk::query]
//! fn tensorcbor_conformance(op: String, input: serde_bytes::ByteBuf) -> tensorcbor::conformance::ConformanceResult {
//!     tensorcbor::conformance::respond(&op, &input)
//! }
//! ```
//!
//! Without `candid`, map [`answer`] onto its own Candid types of that shape.
//!
//! Ops: `decode_tensor` / `decode_bundle` (input: a document; ok: its content re-encoded deterministically),
//! `encode_tensor` / `encode_bundle` (input: the value as plain CBOR; ok: the encoding), `stream_sequential` /
//! `stream_storing` (input: `[expected digest / null, quota / null, [chunk ...]]`; ok: `[[verdict ...], end,
//! document SHA-256 / null]`, a verdict being null or `[code, offset]`). An input that is not what the op takes
//! is [`ADAPTER_ERROR`], an unknown op [`UNSUPPORTED_OPERATION`].
//!
//! The input is read without allocating in proportion to a length it claims: every item needs a byte of it.

use crate::cbor::{
    f16_to_f64, write_head, Reader, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NINT, MAJOR_SIMPLE,
    MAJOR_TEXT, MAJOR_UINT,
};
use crate::decode::{decode_bundle, decode_tensor, Elements, TensorView};
use crate::dtype::DType;
use crate::encode::{encode_bundle, encode_bundle_with, encode_view};
use crate::error::Error;
use crate::stream::{sha256, SequentialReceiver, StoringReceiver, VecStore};
use crate::value::Value;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
// The CandidType derive expands to `vec!` and `to_owned`, as a std crate has them in its prelude.
#[cfg(feature = "candid")]
#[allow(unused_imports)]
use alloc::{borrow::ToOwned, vec};

/// The `err` code of an op this implementation does not know (not a registry code: no document is at fault).
pub const UNSUPPORTED_OPERATION: &str = "UNSUPPORTED_OPERATION";
/// The `err` code of an input that is not what the op takes (the caller's fault, not a format verdict).
pub const ADAPTER_ERROR: &str = "ADAPTER_ERROR";

/// Nesting accepted in a plain-CBOR metadata input: the format's 32 levels and a margin, so that the encoder,
/// not this reader, reports `NESTING_TOO_DEEP`.
const MAX_INPUT_NESTING: usize = 40;

/// The `err` answer: a registry code (or [`ADAPTER_ERROR`], [`UNSUPPORTED_OPERATION`]), the byte offset of
/// SPEC.md §8.1 and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "candid", derive(::candid::CandidType))]
pub struct ConformanceError {
    pub code: &'static str,
    pub offset: u64,
    pub message: String,
}

impl From<Error> for ConformanceError {
    fn from(e: Error) -> Self {
        ConformanceError {
            code: e.code.as_str(),
            offset: e.offset as u64,
            message: e.to_string(),
        }
    }
}

fn adapter(message: String) -> ConformanceError {
    ConformanceError {
        code: ADAPTER_ERROR,
        offset: 0,
        message,
    }
}

/// The Candid reply of the conformance method: `variant { ok : blob; err : ConformanceError }`.
#[cfg(feature = "candid")]
#[derive(::candid::CandidType, Debug, Clone, PartialEq, Eq)]
#[allow(non_camel_case_types)] // the variant names are the convention's Candid labels
pub enum ConformanceResult {
    ok(::serde_bytes::ByteBuf),
    err(ConformanceError),
}

/// [`answer`] as the method's Candid reply.
#[cfg(feature = "candid")]
pub fn respond(op: &str, input: &[u8]) -> ConformanceResult {
    match answer(op, input) {
        Ok(blob) => ConformanceResult::ok(::serde_bytes::ByteBuf::from(blob)),
        Err(e) => ConformanceResult::err(e),
    }
}

/// The answer to one call of the conformance method: the `ok` blob, or the `err` record.
pub fn answer(op: &str, input: &[u8]) -> Result<Vec<u8>, ConformanceError> {
    match op {
        "decode_tensor" => {
            let t = decode_tensor(input)?;
            encode_view(&t).map_err(|e| reencoding(e, "tensor"))
        }
        "decode_bundle" => {
            let b = decode_bundle(input)?;
            encode_bundle_with(&b.tensors, b.metadata).map_err(|e| reencoding(e, "bundle"))
        }
        "encode_tensor" => {
            let mut r = Reader::new(input);
            let t = input_tensor(&mut r, 3)?;
            end_of_input(&r)?;
            Ok(encode_view(&t)?)
        }
        "encode_bundle" => encode_bundle_input(input),
        "stream_sequential" => stream(input, false),
        "stream_storing" => stream(input, true),
        _ => Err(ConformanceError {
            code: UNSUPPORTED_OPERATION,
            offset: 0,
            message: format!("unknown op {op:?}"),
        }),
    }
}

/// A decoded document that does not re-encode is this crate's bug: said so, with the encoder's code.
fn reencoding(e: Error, kind: &str) -> ConformanceError {
    let mut out = ConformanceError::from(e);
    out.message = format!("re-encoding the decoded {kind} failed: {}", out.message);
    out
}

fn bad<T>(r: &Reader<'_>, what: &str) -> Result<T, ConformanceError> {
    Err(adapter(format!(
        "input byte {}: expected {what} (conformance/README.md, \"Checking a canister\")",
        r.pos
    )))
}

fn input_err(e: Error) -> ConformanceError {
    adapter(format!("the input is not plain CBOR: {e}"))
}

fn head_of(r: &mut Reader<'_>, major: u8, what: &str) -> Result<u64, ConformanceError> {
    let h = r.head().map_err(input_err)?;
    if h.major != major {
        r.pos = h.start;
        return bad(r, what);
    }
    Ok(h.arg)
}

fn bytes<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], ConformanceError> {
    let n = head_of(r, MAJOR_BYTES, what)?;
    r.take(n).map_err(input_err)
}

fn text<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a str, ConformanceError> {
    let h = r.head().map_err(input_err)?;
    if h.major != MAJOR_TEXT {
        r.pos = h.start;
        return bad(r, what);
    }
    r.text(h).map_err(input_err)
}

/// A null (returns false, consumed) or something else (returns true, not consumed).
fn present(r: &mut Reader<'_>) -> bool {
    if r.buf.get(r.pos) == Some(&0xf6) {
        r.pos += 1;
        false
    } else {
        true
    }
}

fn end_of_input(r: &Reader<'_>) -> Result<(), ConformanceError> {
    if r.remaining() != 0 {
        return bad(r, "the end of the input");
    }
    Ok(())
}

/// `dtype name, shape, bytes | [text ...]` after an array head of `fields` items (3, or 4 with a name first).
fn input_tensor<'a>(r: &mut Reader<'a>, fields: u64) -> Result<TensorView<'a>, ConformanceError> {
    if head_of(r, MAJOR_ARRAY, "a tensor array")? != fields {
        return bad(r, "a tensor array of the right length");
    }
    tensor_fields(r)
}

fn tensor_fields<'a>(r: &mut Reader<'a>) -> Result<TensorView<'a>, ConformanceError> {
    let name = text(r, "a dtype name")?;
    let Some(dtype) = DType::from_name(name) else {
        return Err(adapter(format!("unknown dtype name {name:?}")));
    };
    let rank = head_of(r, MAJOR_ARRAY, "the shape array")?;
    let mut shape = Vec::new();
    for _ in 0..rank {
        shape.push(head_of(r, MAJOR_UINT, "a dimension")?);
    }
    let h = r.head().map_err(input_err)?;
    let elements = match h.major {
        MAJOR_BYTES => Elements::Bytes(r.take(h.arg).map_err(input_err)?),
        MAJOR_ARRAY => {
            let mut strings = Vec::new();
            for _ in 0..h.arg {
                strings.push(text(r, "a string element")?);
            }
            Elements::Strings(strings)
        }
        _ => {
            r.pos = h.start;
            return bad(r, "the element bytes or an array of strings");
        }
    };
    Ok(TensorView {
        dtype,
        shape,
        elements,
    })
}

fn encode_bundle_input(input: &[u8]) -> Result<Vec<u8>, ConformanceError> {
    let mut r = Reader::new(input);
    if head_of(&mut r, MAJOR_ARRAY, "[metadata, tensors]")? != 2 {
        return bad(&r, "[metadata, tensors]");
    }
    let at = r.pos;
    let Value::Map(metadata) = value(&mut r, 1)? else {
        r.pos = at;
        return bad(&r, "a metadata map");
    };
    let count = head_of(&mut r, MAJOR_ARRAY, "the tensor list")?;
    let mut tensors = Vec::new();
    for _ in 0..count {
        if head_of(&mut r, MAJOR_ARRAY, "a tensor entry")? != 4 {
            return bad(&r, "a tensor entry [name, dtype, shape, elements]");
        }
        let name = text(&mut r, "a tensor name")?;
        tensors.push((name, tensor_fields(&mut r)?));
    }
    end_of_input(&r)?;
    Ok(encode_bundle(&tensors, &metadata)?)
}

/// A metadata value in any CBOR form the data model allows (floats of any width, keys in any order): the
/// encoder then writes its one deterministic form.
fn value<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Value<'a>, ConformanceError> {
    if depth > MAX_INPUT_NESTING {
        return bad(r, "metadata nested at most 40 levels");
    }
    let h = r.head().map_err(input_err)?;
    Ok(match h.major {
        MAJOR_UINT => Value::Int(h.arg as i128),
        MAJOR_NINT => Value::Int(-1 - h.arg as i128),
        MAJOR_BYTES => Value::Bytes(r.take(h.arg).map_err(input_err)?),
        MAJOR_TEXT => Value::Text(r.text(h).map_err(input_err)?),
        MAJOR_ARRAY => {
            let mut items = Vec::new();
            for _ in 0..h.arg {
                items.push(value(r, depth + 1)?);
            }
            Value::Array(items)
        }
        MAJOR_MAP => {
            let mut entries = Vec::new();
            for _ in 0..h.arg {
                let k = text(r, "a metadata key")?;
                entries.push((k, value(r, depth + 1)?));
            }
            Value::Map(entries)
        }
        MAJOR_SIMPLE => match h.ai {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            22 => Value::Null,
            25 => Value::Float(f16_to_f64(h.arg as u16)),
            26 => Value::Float(f32::from_bits(h.arg as u32) as f64),
            27 => Value::Float(f64::from_bits(h.arg)),
            _ => {
                r.pos = h.start;
                return bad(r, "a metadata value");
            }
        },
        _ => {
            r.pos = h.start;
            return bad(r, "a metadata value");
        }
    })
}

/// Write a verdict: null for an accepted chunk, `[code, offset]` for a rejected one.
fn verdict(out: &mut Vec<u8>, r: Result<(), Error>) {
    match r {
        Ok(()) => out.push(0xf6),
        Err(e) => {
            let code = e.code.as_str();
            out.push(0x82);
            write_head(out, MAJOR_TEXT, code.len() as u64);
            out.extend_from_slice(code.as_bytes());
            write_head(out, MAJOR_UINT, e.offset as u64);
        }
    }
}

/// A fresh receiver of the kind asked for takes every chunk in order (a rejected one changes nothing), then
/// the end of the stream.
fn stream(input: &[u8], storing: bool) -> Result<Vec<u8>, ConformanceError> {
    let mut r = Reader::new(input);
    if head_of(&mut r, MAJOR_ARRAY, "[expected_digest, quota, chunks]")? != 3 {
        return bad(&r, "[expected_digest, quota, chunks]");
    }
    let expected = if present(&mut r) {
        let d = bytes(&mut r, "a 32-byte expected digest or null")?;
        Some(
            <[u8; 32]>::try_from(d)
                .map_err(|_| adapter("expected_digest is not 32 bytes".into()))?,
        )
    } else {
        None
    };
    let quota = if present(&mut r) {
        Some(head_of(&mut r, MAJOR_UINT, "a quota or null")?)
    } else {
        None
    };
    let count = head_of(&mut r, MAJOR_ARRAY, "the chunk array")?;
    let first = r.pos;
    for _ in 0..count {
        bytes(&mut r, "a chunk")?;
    }
    end_of_input(&r)?;
    let mut chunks = Reader::at(input, first);
    let mut out = Vec::new();
    out.push(0x83);
    write_head(&mut out, MAJOR_ARRAY, count);
    let (end, document) = if storing {
        let mut rx = StoringReceiver::new(expected, quota, VecStore::default());
        for _ in 0..count {
            verdict(
                &mut out,
                rx.accept(bytes(&mut chunks, "a chunk")?).map(|_| ()),
            );
        }
        (rx.finish(), rx.store().document())
    } else {
        let mut rx = SequentialReceiver::new(expected, quota);
        let mut doc = Vec::new();
        for _ in 0..count {
            let got = rx.accept(bytes(&mut chunks, "a chunk")?);
            verdict(
                &mut out,
                got.map(|d| {
                    if let Some(d) = d {
                        doc.extend_from_slice(d.payload);
                    }
                }),
            );
        }
        (rx.finish(), doc)
    };
    let ok = end.is_ok();
    verdict(&mut out, end);
    if ok {
        write_head(&mut out, MAJOR_BYTES, 32);
        out.extend_from_slice(&sha256(&document));
    } else {
        out.push(0xf6);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_tensor;
    use alloc::vec;

    #[test]
    fn decode_answers_the_canonical_reencoding() {
        let doc = encode_tensor(DType::Uint8, &[2], &[7, 9]).unwrap();
        assert_eq!(answer("decode_tensor", &doc).unwrap(), doc);
        let e = answer("decode_tensor", &doc[..doc.len() - 1]).unwrap_err();
        assert_eq!((e.code, e.offset), ("TRUNCATED", doc.len() as u64 - 2));
        assert_eq!(answer("decode_bundle", &doc).unwrap_err().code, "BAD_MAGIC");
    }

    #[test]
    fn encode_reads_plain_cbor() {
        // ["uint8", [2], h'0709']
        let input = [
            0x83, 0x65, b'u', b'i', b'n', b't', b'8', 0x81, 0x02, 0x42, 7, 9,
        ];
        let want = encode_tensor(DType::Uint8, &[2], &[7, 9]).unwrap();
        assert_eq!(answer("encode_tensor", &input).unwrap(), want);
        // [{"b": 1.0 as binary64, "a": 1}, []]: keys sorted and the float shortened by the encoder.
        let mut bundle = vec![0x82, 0xa2, 0x61, b'b', 0xfb];
        bundle.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        bundle.extend_from_slice(&[0x61, b'a', 0x01, 0x80]);
        let meta = [("a", Value::Int(1)), ("b", Value::Float(1.0))];
        assert_eq!(
            answer("encode_bundle", &bundle).unwrap(),
            encode_bundle(&[], &meta).unwrap()
        );
        assert_eq!(
            answer("encode_tensor", &input[..5]).unwrap_err().code,
            ADAPTER_ERROR
        );
        assert_eq!(
            answer("transmogrify", b"").unwrap_err().code,
            UNSUPPORTED_OPERATION
        );
    }

    #[test]
    fn a_claimed_count_allocates_nothing() {
        // An array claiming 2^64-1 strings, then nothing: the first missing item ends it.
        let mut input = vec![0x83, 0x66];
        input.extend_from_slice(b"string");
        input.extend_from_slice(&[
            0x81, 0x01, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        assert_eq!(
            answer("encode_tensor", &input).unwrap_err().code,
            ADAPTER_ERROR
        );
        let stream = [
            0x83, 0xf6, 0xf6, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(
            answer("stream_storing", &stream).unwrap_err().code,
            ADAPTER_ERROR
        );
    }

    #[test]
    fn stream_answers_every_verdict() {
        // No chunk at all: no verdicts, the end is MISSING_CHUNK at offset 0, no document.
        let got = answer("stream_sequential", &[0x83, 0xf6, 0xf6, 0x80]).unwrap();
        let mut want = vec![0x83, 0x80, 0x82, 0x6d];
        want.extend_from_slice(b"MISSING_CHUNK");
        want.extend_from_slice(&[0x00, 0xf6]);
        assert_eq!(got, want);
        // One garbage chunk: rejected as a manifest.
        let got = answer("stream_storing", &[0x83, 0xf6, 0xf6, 0x81, 0x41, 0x00]).unwrap();
        assert_eq!(&got[..3], &[0x83, 0x81, 0x82]);
    }
}
