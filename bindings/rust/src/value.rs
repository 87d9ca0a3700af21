//! Metadata (SPEC.md §6): strict validation without allocation, lazy access, and the deterministic encoding.
//!
//! Decoding keeps the metadata as the validated slice of the input ([`Metadata`]): checking a 16 MiB map
//! allocates nothing (recursion depth at most 33), and a value becomes a [`Value`] tree only when asked for.
//! A tree costs up to 32 bytes per encoded item (a one-byte integer becomes a 32-byte `Value`), which is why
//! the decoder does not build one.

use crate::cbor::{
    float_encoding, write_float, write_head, Head, Reader, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP,
    MAJOR_NINT, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT,
};
use crate::error::{Detail, Error, ErrorCode, ShortText};
use alloc::vec::Vec;

/// Arrays and maps nest at most this deep; the metadata map itself is level 1.
pub const MAX_NESTING: usize = 32;
/// The encoded metadata map may be at most this long (16 MiB).
pub const MAX_METADATA_BYTES: usize = 16 * 1024 * 1024;

/// A metadata value: the data model of SPEC.md §6.1. Strings and bytes borrow from the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An integer, -2^64 ..= 2^64 - 1 (CBOR major types 0 and 1).
    Int(i128),
    /// A float; encoded in the shortest exact width, every NaN as `f9 7e00`.
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Bool(bool),
    Null,
    Array(Vec<Value<'a>>),
    /// Entries in wire order (sorted bytewise by encoded key) when decoded; any order when encoding.
    Map(Vec<(&'a str, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The value of `key` if this is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A validated metadata map, kept as its encoding (a slice of the document): no allocation until asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    bytes: &'a [u8],
}

impl<'a> Metadata<'a> {
    /// The empty map.
    pub const EMPTY: Metadata<'static> = Metadata { bytes: &[0xa0] };

    /// The deterministic encoding of the map (what the document holds).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        Reader::new(self.bytes).head().map_or(0, |h| h.arg as usize)
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries in wire order; each value is built on demand (see [`Metadata::get`]).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw_entries().map(|(k, _)| k)
    }

    /// The value of `key`, built as a [`Value`] (memory proportional to that value only).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.raw_entries()
            .find(|(k, _)| *k == key)
            .and_then(|(_, at)| build_value(&mut Reader::at(self.bytes, at)).ok())
    }

    /// The whole map as a tree: up to 32 bytes per encoded item (a 16 MiB map may need 512 MiB).
    pub fn to_vec(&self) -> Vec<(&'a str, Value<'a>)> {
        let mut r = Reader::new(self.bytes);
        match r.head() {
            Ok(h) => build_entries(&mut r, h.arg).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// (key, offset of its value in `as_bytes()`) in wire order.
    fn raw_entries(&self) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        let bytes = self.bytes;
        let mut r = Reader::new(bytes);
        let mut left = r.head().map_or(0, |h| h.arg);
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let h = r.head().ok()?;
            let key = r.text(h).ok()?;
            let at = r.pos;
            skip_item(&mut r).ok()?;
            Some((key, at))
        })
    }
}

const INT_MIN: i128 = -(1i128 << 64);
const INT_MAX: i128 = (1i128 << 64) - 1;

/// Validate the metadata map whose head `mh` was just read (SPEC.md §7.1 step 5 with the early size check of
/// design D6); returns it as a [`Metadata`] view. Allocates nothing.
pub(crate) fn read_metadata<'a>(r: &mut Reader<'a>, mh: Head) -> Result<Metadata<'a>, Error> {
    let m0 = mh.start;
    check_size(r, mh, m0)?;
    if mh.major != MAJOR_MAP {
        let code = if mh.major == MAJOR_TAG {
            ErrorCode::UnexpectedTag
        } else {
            ErrorCode::UnexpectedType
        };
        return r.fail_with(code, mh.start, Detail::MetadataNotMap);
    }
    check_map(r, mh.arg, 1, m0)?;
    Ok(Metadata {
        bytes: &r.buf[m0..r.pos],
    })
}

/// METADATA_TOO_LARGE as soon as a head (plus its string content) reaches past 16 MiB from `m0`.
fn check_size(r: &Reader<'_>, h: Head, m0: usize) -> Result<(), Error> {
    let content = if h.major == MAJOR_TEXT || h.major == MAJOR_BYTES {
        h.arg
    } else {
        0
    };
    if ((r.pos - m0) as u64).saturating_add(content) > MAX_METADATA_BYTES as u64 {
        return r.fail_with(
            ErrorCode::MetadataTooLarge,
            h.start,
            Detail::MetadataTooLarge,
        );
    }
    Ok(())
}

fn check_map(r: &mut Reader<'_>, count: u64, depth: usize, m0: usize) -> Result<(), Error> {
    let mut prev: Option<(usize, usize)> = None;
    for _ in 0..count {
        let h = r.head()?;
        check_size(r, h, m0)?;
        if h.major != MAJOR_TEXT {
            let detail = Detail::KeyType { major: h.major };
            return r.fail_with(ErrorCode::UnsupportedValue, h.start, detail);
        }
        let text = r.text_as(h, "a map key")?;
        let key = (h.start, r.pos);
        if let Some(p) = prev {
            let (a, b) = (&r.buf[p.0..p.1], &r.buf[key.0..key.1]);
            let key = ShortText::new(text);
            if a == b {
                let detail = Detail::DuplicateKey { key };
                return r.fail_with(ErrorCode::DuplicateKey, h.start, detail);
            }
            if b < a {
                let detail = Detail::UnsortedKey { key };
                return r.fail_with(ErrorCode::UnsortedKeys, h.start, detail);
            }
        }
        prev = Some(key);
        check_value(r, depth + 1, m0)?;
    }
    Ok(())
}

/// Check one metadata value at nesting level `depth` (every rule of §6; no allocation).
fn check_value(r: &mut Reader<'_>, depth: usize, m0: usize) -> Result<(), Error> {
    let h = r.head()?;
    check_size(r, h, m0)?;
    match h.major {
        MAJOR_UINT | MAJOR_NINT => Ok(()),
        MAJOR_BYTES => r.take_as(h.arg, "a byte string").map(|_| ()),
        MAJOR_TEXT => r.text(h).map(|_| ()),
        MAJOR_ARRAY | MAJOR_MAP => {
            if depth > MAX_NESTING {
                return r.fail_with(ErrorCode::NestingTooDeep, h.start, Detail::Nesting);
            }
            if h.major == MAJOR_MAP {
                return check_map(r, h.arg, depth, m0);
            }
            for _ in 0..h.arg {
                check_value(r, depth + 1, m0)?;
            }
            Ok(())
        }
        MAJOR_TAG => {
            let detail = Detail::MetadataTag { tag: h.arg };
            r.fail_with(ErrorCode::UnsupportedValue, h.start, detail)
        }
        _ => match h.ai {
            20..=22 => Ok(()),
            25..=27 => {
                let value = simple_float(h);
                let (canon, n) = float_encoding(value);
                if canon[..n] != r.buf[h.start..r.pos] {
                    let detail = if value.is_nan() {
                        Detail::NanForm
                    } else {
                        Detail::FloatWidth {
                            bits: value.to_bits(),
                        }
                    };
                    return r.fail_with(ErrorCode::NonCanonicalFloat, h.start, detail);
                }
                Ok(())
            }
            _ => {
                let detail = Detail::MetadataSimple { value: h.arg };
                r.fail_with(ErrorCode::UnsupportedValue, h.start, detail)
            }
        },
    }
}

fn simple_float(h: Head) -> f64 {
    match h.ai {
        25 => crate::cbor::f16_to_f64(h.arg as u16),
        26 => f32::from_bits(h.arg as u32) as f64,
        _ => f64::from_bits(h.arg),
    }
}

/// Skip one item of validated metadata.
fn skip_item(r: &mut Reader<'_>) -> Result<(), Error> {
    let h = r.head()?;
    match h.major {
        MAJOR_BYTES | MAJOR_TEXT => r.take(h.arg).map(|_| ()),
        MAJOR_ARRAY => (0..h.arg).try_for_each(|_| skip_item(r)),
        MAJOR_MAP => (0..h.arg.saturating_mul(2)).try_for_each(|_| skip_item(r)),
        _ => Ok(()),
    }
}

/// Build the tree of one item of validated metadata.
fn build_value<'a>(r: &mut Reader<'a>) -> Result<Value<'a>, Error> {
    let h = r.head()?;
    Ok(match h.major {
        MAJOR_UINT => Value::Int(h.arg as i128),
        MAJOR_NINT => Value::Int(-1 - h.arg as i128),
        MAJOR_BYTES => Value::Bytes(r.take(h.arg)?),
        MAJOR_TEXT => Value::Text(r.text(h)?),
        MAJOR_ARRAY => {
            let mut items = Vec::new(); // grows with validated input
            for _ in 0..h.arg {
                items.push(build_value(r)?);
            }
            Value::Array(items)
        }
        MAJOR_MAP => Value::Map(build_entries(r, h.arg)?),
        _ => match h.ai {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            25..=27 => Value::Float(simple_float(h)),
            _ => Value::Null,
        },
    })
}

fn build_entries<'a>(r: &mut Reader<'a>, count: u64) -> Result<Vec<(&'a str, Value<'a>)>, Error> {
    let mut entries = Vec::new();
    for _ in 0..count {
        let h = r.head()?;
        let key = r.text(h)?;
        entries.push((key, build_value(r)?));
    }
    Ok(entries)
}

fn encode_err<T>(code: ErrorCode) -> Result<T, Error> {
    Err(Error::new(code, 0))
}

/// Append the deterministic encoding of `v` at nesting level `depth`.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value<'_>, depth: usize) -> Result<(), Error> {
    match v {
        Value::Int(i) => {
            if !(INT_MIN..=INT_MAX).contains(i) {
                return encode_err(ErrorCode::UnsupportedValue);
            }
            if *i >= 0 {
                write_head(out, MAJOR_UINT, *i as u64);
            } else {
                write_head(out, MAJOR_NINT, (-1 - *i) as u64);
            }
        }
        Value::Float(x) => write_float(out, *x),
        Value::Text(s) => {
            write_head(out, MAJOR_TEXT, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            write_head(out, MAJOR_BYTES, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Null => out.push(0xf6),
        Value::Array(items) => {
            if depth > MAX_NESTING {
                return encode_err(ErrorCode::NestingTooDeep);
            }
            write_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                write_value(out, item, depth + 1)?;
            }
        }
        Value::Map(entries) => {
            if depth > MAX_NESTING {
                return encode_err(ErrorCode::NestingTooDeep);
            }
            write_map(out, entries, depth)?;
        }
    }
    Ok(())
}

/// Append a map with its keys sorted bytewise by their encodings (RFC 8949 §4.2.1).
pub(crate) fn write_map(
    out: &mut Vec<u8>,
    entries: &[(&str, Value<'_>)],
    depth: usize,
) -> Result<(), Error> {
    let mut order: Vec<(Vec<u8>, &Value<'_>)> = entries
        .iter()
        .map(|(k, v)| {
            let mut key = Vec::with_capacity(k.len() + 9);
            write_head(&mut key, MAJOR_TEXT, k.len() as u64);
            key.extend_from_slice(k.as_bytes());
            (key, v)
        })
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    if order.windows(2).any(|w| w[0].0 == w[1].0) {
        return encode_err(ErrorCode::DuplicateKey);
    }
    write_head(out, MAJOR_MAP, order.len() as u64);
    for (key, v) in order {
        out.extend_from_slice(&key);
        write_value(out, v, depth + 1)?;
    }
    Ok(())
}
