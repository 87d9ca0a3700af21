//! CBOR heads (RFC 8949 §3) with the strict checks of SPEC.md §7.1, and the deterministic writer.

use crate::error::{Detail, Error, ErrorCode, Utf8Reason};
use alloc::vec::Vec;

pub(crate) const MAJOR_UINT: u8 = 0;
pub(crate) const MAJOR_NINT: u8 = 1;
pub(crate) const MAJOR_BYTES: u8 = 2;
pub(crate) const MAJOR_TEXT: u8 = 3;
pub(crate) const MAJOR_ARRAY: u8 = 4;
pub(crate) const MAJOR_MAP: u8 = 5;
pub(crate) const MAJOR_TAG: u8 = 6;
pub(crate) const MAJOR_SIMPLE: u8 = 7;

/// One head: major type, additional information, argument, and where it started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub major: u8,
    pub ai: u8,
    pub arg: u64,
    pub start: usize,
}

/// A cursor over a document. Every read is bounds-checked; nothing panics.
pub(crate) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A cursor at `pos` (clamped to the end).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    pub fn fail<T>(&self, code: ErrorCode, at: usize) -> Result<T, Error> {
        Err(Error::new(code, at))
    }

    /// An error with its detail.
    pub fn fail_with<T>(&self, code: ErrorCode, at: usize, detail: Detail) -> Result<T, Error> {
        Err(Error::with(code, at, detail))
    }

    /// Read a head with the generic checks of §7.1 (TRUNCATED, MALFORMED, INDEFINITE_LENGTH,
    /// NON_SHORTEST_HEAD).
    pub fn head(&mut self) -> Result<Head, Error> {
        let start = self.pos;
        let Some(&ib) = self.buf.get(start) else {
            let detail = Detail::Truncated {
                what: "a data item",
                need: 1,
                remain: 0,
            };
            return self.fail_with(ErrorCode::Truncated, start, detail);
        };
        let (major, ai) = (ib >> 5, ib & 31);
        if ai < 24 {
            self.pos = start + 1;
            return Ok(Head {
                major,
                ai,
                arg: ai as u64,
                start,
            });
        }
        if ai > 27 {
            if ai == 31 && (MAJOR_BYTES..=MAJOR_MAP).contains(&major) {
                return self.fail_with(ErrorCode::IndefiniteLength, start, Detail::Indefinite);
            }
            return self.fail_with(
                ErrorCode::Malformed,
                start,
                Detail::InitialByte { byte: ib },
            );
        }
        let size = 1usize << (ai - 24);
        if self.remaining() < 1 + size {
            let detail = Detail::Truncated {
                what: "a data item head",
                need: 1 + size as u64,
                remain: self.remaining() as u64,
            };
            return self.fail_with(ErrorCode::Truncated, start, detail);
        }
        let arg = self.buf[start + 1..start + 1 + size]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64);
        self.pos = start + 1 + size;
        if major == MAJOR_SIMPLE {
            if ai == 24 && arg < 32 {
                let detail = Detail::SimpleTwoByte { value: arg as u8 };
                return self.fail_with(ErrorCode::Malformed, start, detail);
            }
        } else {
            let min = if ai == 24 { 24 } else { 1u64 << (size * 4) };
            if arg < min {
                let detail = Detail::NonShortest { arg, byte: ib };
                return self.fail_with(ErrorCode::NonShortestHead, start, detail);
            }
        }
        Ok(Head {
            major,
            ai,
            arg,
            start,
        })
    }

    /// Read a head and expect `major` (a tag is UNEXPECTED_TAG, any other type UNEXPECTED_TYPE).
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    pub fn expect(&mut self, major: u8) -> Result<Head, Error> {
        self.expect_as(major, crate::error::major_name(major))
    }

    /// [`expect`](Self::expect), naming the item in the error detail (`"the shape array"`).
    pub fn expect_as(&mut self, major: u8, what: &'static str) -> Result<Head, Error> {
        let h = self.head()?;
        if h.major != major {
            let code = if h.major == MAJOR_TAG {
                ErrorCode::UnexpectedTag
            } else {
                ErrorCode::UnexpectedType
            };
            let detail = Detail::Unexpected {
                found: h.major,
                arg: h.arg,
                wanted: what,
            };
            return self.fail_with(code, h.start, detail);
        }
        Ok(h)
    }

    /// Take `len` content bytes (TRUNCATED, at the first content byte, if they are not all present).
    pub fn take(&mut self, len: u64) -> Result<&'a [u8], Error> {
        self.take_as(len, "the content")
    }

    /// [`take`](Self::take), naming what the bytes are in the TRUNCATED detail.
    pub fn take_as(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], Error> {
        if len > self.remaining() as u64 {
            let detail = Detail::Truncated {
                what,
                need: len,
                remain: self.remaining() as u64,
            };
            return self.fail_with(ErrorCode::Truncated, self.pos, detail);
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// The content of a text string whose head `h` was just read (TRUNCATED, INVALID_UTF8).
    pub fn text(&mut self, h: Head) -> Result<&'a str, Error> {
        self.text_as(h, "a text string")
    }

    /// [`text`](Self::text), naming the string in the error detail (`"a tensor name"`).
    pub fn text_as(&mut self, h: Head, what: &'static str) -> Result<&'a str, Error> {
        let body_start = self.pos;
        let raw = self.take_as(h.arg, what)?;
        core::str::from_utf8(raw).map_err(|e| {
            let at = e.valid_up_to();
            // Python's codec reasons: a byte that cannot start a character, one that cannot continue it, or
            // the end of the string inside one.
            let reason = match (e.error_len(), raw.get(at).copied().unwrap_or(0)) {
                (None, _) => Utf8Reason::End,
                (Some(_), 0xc2..=0xf4) => Utf8Reason::Continuation,
                (Some(_), _) => Utf8Reason::Start,
            };
            Error::with(
                ErrorCode::InvalidUtf8,
                body_start + at,
                Detail::Utf8 { what, reason },
            )
        })
    }
}

/// Append the shortest head for (major, argument).
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let mt = major << 5;
    if arg < 24 {
        out.push(mt | arg as u8);
    } else if arg <= 0xff {
        out.extend_from_slice(&[mt | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(mt | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(mt | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(mt | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

/// Length of the shortest head for `arg`.
pub(crate) const fn head_len(arg: u64) -> usize {
    if arg < 24 {
        1
    } else if arg <= 0xff {
        2
    } else if arg <= 0xffff {
        3
    } else if arg <= 0xffff_ffff {
        5
    } else {
        9
    }
}

/// binary16 bits -> the exact f64 value (integer bit manipulation, no `f16` type needed).
pub(crate) fn f16_to_f64(h: u16) -> f64 {
    let sign = ((h as u64) >> 15) << 63;
    let exp = ((h >> 10) & 0x1f) as i64;
    let mant = (h & 0x3ff) as u64;
    let bits = if exp == 0x1f {
        // inf / NaN: keep the payload in the top mantissa bits
        sign | (0x7ff << 52) | (mant << 42)
    } else if exp == 0 {
        if mant == 0 {
            sign
        } else {
            // subnormal: mant * 2^-24, normalize
            let shift = mant.leading_zeros() as i64 - 53; // bring the top bit to bit 10
            let m = mant << shift; // bit 10 set
            let e = -14 - shift; // unbiased exponent
            sign | (((e + 1023) as u64) << 52) | ((m & 0x3ff) << 42)
        }
    } else {
        sign | (((exp - 15 + 1023) as u64) << 52) | (mant << 42)
    };
    f64::from_bits(bits)
}

/// The binary16 bits of `x` if binary16 represents it exactly (NaN excluded).
pub(crate) fn f64_to_f16_exact(x: f64) -> Option<u16> {
    let f = x as f32;
    if f as f64 != x {
        return None; // not even binary32 (x is not NaN here)
    }
    let b = f.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let mant = b & 0x7f_ffff;
    if exp == 0xff {
        return Some(sign | 0x7c00); // infinity
    }
    if exp == 0 {
        return if mant == 0 { Some(sign) } else { None }; // binary32 subnormals are below 2^-24
    }
    let e = exp - 127;
    if (-14..=15).contains(&e) {
        if mant & 0x1fff != 0 {
            return None;
        }
        return Some(sign | (((e + 15) as u16) << 10) | (mant >> 13) as u16);
    }
    if (-24..-14).contains(&e) {
        let full = mant | 0x80_0000; // value = full * 2^(e-23) = m * 2^-24
        let shift = (-(e + 1)) as u32; // 14..=23
        if full & ((1 << shift) - 1) != 0 {
            return None;
        }
        return Some(sign | (full >> shift) as u16);
    }
    None
}

/// The one deterministic encoding of a metadata float (SPEC.md §6.2 rules 4-5): bytes and length.
pub(crate) fn float_encoding(x: f64) -> ([u8; 9], usize) {
    let mut out = [0u8; 9];
    if x.is_nan() {
        out[..3].copy_from_slice(&[0xf9, 0x7e, 0x00]);
        (out, 3)
    } else if let Some(h) = f64_to_f16_exact(x) {
        out[0] = 0xf9;
        out[1..3].copy_from_slice(&h.to_be_bytes());
        (out, 3)
    } else if (x as f32) as f64 == x {
        out[0] = 0xfa;
        out[1..5].copy_from_slice(&(x as f32).to_bits().to_be_bytes());
        (out, 5)
    } else {
        out[0] = 0xfb;
        out[1..9].copy_from_slice(&x.to_bits().to_be_bytes());
        (out, 9)
    }
}

/// Append the deterministic encoding of a metadata float.
pub(crate) fn write_float(out: &mut Vec<u8>, x: f64) {
    let (bytes, n) = float_encoding(x);
    out.extend_from_slice(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_roundtrip_all_finite() {
        for h in 0u16..=0xffff {
            let x = f16_to_f64(h);
            if x.is_nan() {
                assert_eq!((h >> 10) & 0x1f, 0x1f);
                assert_ne!(h & 0x3ff, 0);
                continue;
            }
            assert_eq!(f64_to_f16_exact(x), Some(h), "{h:#06x} -> {x}");
        }
    }

    #[test]
    fn float_widths() {
        let enc = |x: f64| {
            let mut v = Vec::new();
            write_float(&mut v, x);
            v
        };
        assert_eq!(enc(1.0), [0xf9, 0x3c, 0x00]);
        assert_eq!(enc(-0.0), [0xf9, 0x80, 0x00]);
        assert_eq!(enc(f64::INFINITY), [0xf9, 0x7c, 0x00]);
        assert_eq!(enc(f64::NAN), [0xf9, 0x7e, 0x00]);
        assert_eq!(enc(5.960464477539063e-8), [0xf9, 0x00, 0x01]);
        assert_eq!(enc(65504.0), [0xf9, 0x7b, 0xff]);
        assert_eq!(enc(65505.0)[0], 0xfa);
        assert_eq!(enc(100000.0), [0xfa, 0x47, 0xc3, 0x50, 0x00]);
        assert_eq!(enc(1.1)[0], 0xfb);
        assert_eq!(enc(1e300)[0], 0xfb);
        assert_eq!(enc(f64::MIN_POSITIVE)[0], 0xfb);
    }
}
