//! Metadata values (SPEC.md §6): decoding with the strict checks, and the deterministic encoding.

use crate::cbor::{
    write_float, write_head, Reader, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NINT, MAJOR_SIMPLE,
    MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT,
};
use crate::error::{Error, ErrorCode};
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

const INT_MIN: i128 = -(1i128 << 64);
const INT_MAX: i128 = (1i128 << 64) - 1;

/// Read the entries of a map whose head (`count` entries) was just read; `depth` is the map's level.
pub(crate) fn read_map<'a>(
    r: &mut Reader<'a>,
    count: u64,
    depth: usize,
) -> Result<Vec<(&'a str, Value<'a>)>, Error> {
    let mut entries = Vec::new(); // grows as entries are read: bounded by the input
    let mut prev: Option<&'a [u8]> = None;
    for _ in 0..count {
        let h = r.head()?;
        if h.major != MAJOR_TEXT {
            return r.fail(ErrorCode::UnsupportedValue, h.start);
        }
        let key = r.text(h)?;
        let encoded = &r.buf[h.start..r.pos];
        if let Some(p) = prev {
            if encoded == p {
                return r.fail(ErrorCode::DuplicateKey, h.start);
            }
            if encoded < p {
                return r.fail(ErrorCode::UnsortedKeys, h.start);
            }
        }
        prev = Some(encoded);
        let v = read_value(r, depth + 1)?;
        entries.push((key, v));
    }
    Ok(entries)
}

/// Read one metadata value at nesting level `depth`.
pub(crate) fn read_value<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Value<'a>, Error> {
    let h = r.head()?;
    match h.major {
        MAJOR_UINT => Ok(Value::Int(h.arg as i128)),
        MAJOR_NINT => Ok(Value::Int(-1 - h.arg as i128)),
        MAJOR_BYTES => Ok(Value::Bytes(r.take(h.arg)?)),
        MAJOR_TEXT => Ok(Value::Text(r.text(h)?)),
        MAJOR_ARRAY | MAJOR_MAP => {
            if depth > MAX_NESTING {
                return r.fail(ErrorCode::NestingTooDeep, h.start);
            }
            if h.major == MAJOR_MAP {
                return Ok(Value::Map(read_map(r, h.arg, depth)?));
            }
            let mut items = Vec::new();
            for _ in 0..h.arg {
                items.push(read_value(r, depth + 1)?);
            }
            Ok(Value::Array(items))
        }
        MAJOR_TAG => r.fail(ErrorCode::UnsupportedValue, h.start),
        _ => {
            debug_assert_eq!(h.major, MAJOR_SIMPLE);
            match h.ai {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                25..=27 => {
                    let x = match h.ai {
                        25 => crate::cbor::f16_to_f64(h.arg as u16),
                        26 => f32::from_bits(h.arg as u32) as f64,
                        _ => f64::from_bits(h.arg),
                    };
                    let mut canon = Vec::with_capacity(9);
                    write_float(&mut canon, x);
                    if canon[..] != r.buf[h.start..r.pos] {
                        return r.fail(ErrorCode::NonCanonicalFloat, h.start);
                    }
                    Ok(Value::Float(x))
                }
                _ => r.fail(ErrorCode::UnsupportedValue, h.start),
            }
        }
    }
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
