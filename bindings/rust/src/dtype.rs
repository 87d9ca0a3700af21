//! The dtype table of SPEC.md §3 (checked against the spec by a unit test).

/// An element type of SPEC.md §3. The discriminant is the wire code (the ONNX `TensorProto.DataType` number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum DType {
    Float32 = 1,
    Uint8 = 2,
    Int8 = 3,
    Uint16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    /// UTF-8 text elements, carried as an array of CBOR text strings.
    String = 8,
    /// One byte per element, `0x00` or `0x01`.
    Bool = 9,
    Float16 = 10,
    Float64 = 11,
    Uint32 = 12,
    Uint64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    Bfloat16 = 16,
    Float8E4m3fn = 17,
    Float8E4m3fnuz = 18,
    Float8E5m2 = 19,
    Float8E5m2fnuz = 20,
    /// Packed, 4 bits (SPEC.md §4.4).
    Uint4 = 21,
    /// Packed, 4 bits (SPEC.md §4.4).
    Int4 = 22,
    /// Packed, 4 bits (SPEC.md §4.4).
    Float4E2m1fn = 23,
    Float8E8m0fnu = 24,
    /// Packed, 2 bits (SPEC.md §4.4).
    Uint2 = 25,
    /// Packed, 2 bits (SPEC.md §4.4).
    Int2 = 26,
    /// Packed, 6 bits (SPEC.md §4.4).
    Float6E2m3fn = 27,
    /// Packed, 6 bits (SPEC.md §4.4).
    Float6E3m2fn = 28,
    // tensorcbor's own registry (codes 128-1023, format 1.0 design D2)
    Float8E4m3 = 128,
    Float8E3m4 = 129,
    Float8E4m3b11fnuz = 130,
    /// Two float16 (real, imaginary) per element.
    Complex32 = 131,
    /// Block type: 32 elements in 17 bytes (GGUF MXFP4 layout). `shape` is the logical element shape.
    Mxfp4 = 160,
    /// Block type: 32 elements in 34 bytes (GGUF Q8_0 layout).
    Q8_0 = 161,
    /// Block type: 32 elements in 18 bytes (GGUF Q4_0 layout).
    Q4_0 = 162,
}

use DType::*;

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 35] = [
        Float32,
        Uint8,
        Int8,
        Uint16,
        Int16,
        Int32,
        Int64,
        String,
        Bool,
        Float16,
        Float64,
        Uint32,
        Uint64,
        Complex64,
        Complex128,
        Bfloat16,
        Float8E4m3fn,
        Float8E4m3fnuz,
        Float8E5m2,
        Float8E5m2fnuz,
        Uint4,
        Int4,
        Float4E2m1fn,
        Float8E8m0fnu,
        Uint2,
        Int2,
        Float6E2m3fn,
        Float6E3m2fn,
        Float8E4m3,
        Float8E3m4,
        Float8E4m3b11fnuz,
        Complex32,
        Mxfp4,
        Q8_0,
        Q4_0,
    ];

    /// The dtype with this wire code, or `None` for a reserved code (`UNKNOWN_DTYPE`).
    pub fn from_code(code: u64) -> Option<DType> {
        match code {
            1..=28 => Some(Self::ALL[code as usize - 1]),
            128..=131 => Some(Self::ALL[code as usize - 128 + 28]),
            160..=162 => Some(Self::ALL[code as usize - 160 + 32]),
            _ => None,
        }
    }

    /// The dtype with this name (`"float32"`, `"float8_e4m3fn"`, ...).
    pub fn from_name(name: &str) -> Option<DType> {
        Self::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name of SPEC.md §3.
    pub const fn name(self) -> &'static str {
        match self {
            Float32 => "float32",
            Uint8 => "uint8",
            Int8 => "int8",
            Uint16 => "uint16",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            String => "string",
            Bool => "bool",
            Float16 => "float16",
            Float64 => "float64",
            Uint32 => "uint32",
            Uint64 => "uint64",
            Complex64 => "complex64",
            Complex128 => "complex128",
            Bfloat16 => "bfloat16",
            Float8E4m3fn => "float8_e4m3fn",
            Float8E4m3fnuz => "float8_e4m3fnuz",
            Float8E5m2 => "float8_e5m2",
            Float8E5m2fnuz => "float8_e5m2fnuz",
            Uint4 => "uint4",
            Int4 => "int4",
            Float4E2m1fn => "float4_e2m1fn",
            Float8E8m0fnu => "float8_e8m0fnu",
            Uint2 => "uint2",
            Int2 => "int2",
            Float6E2m3fn => "float6_e2m3fn",
            Float6E3m2fn => "float6_e3m2fn",
            Float8E4m3 => "float8_e4m3",
            Float8E3m4 => "float8_e3m4",
            Float8E4m3b11fnuz => "float8_e4m3b11fnuz",
            Complex32 => "complex32",
            Mxfp4 => "mxfp4",
            Q8_0 => "q8_0",
            Q4_0 => "q4_0",
        }
    }

    /// Width of one element on the wire in bits; `None` for `string` (variable) and block types (see
    /// [`DType::block`]).
    pub const fn bits(self) -> Option<u32> {
        Some(match self {
            String | Mxfp4 | Q8_0 | Q4_0 => return None,
            Uint2 | Int2 => 2,
            Uint4 | Int4 | Float4E2m1fn => 4,
            Float6E2m3fn | Float6E3m2fn => 6,
            Uint8 | Int8 | Bool | Float8E4m3fn | Float8E4m3fnuz | Float8E5m2 | Float8E5m2fnuz
            | Float8E8m0fnu | Float8E4m3 | Float8E3m4 | Float8E4m3b11fnuz => 8,
            Uint16 | Int16 | Float16 | Bfloat16 => 16,
            Float32 | Int32 | Uint32 | Complex32 => 32,
            Float64 | Int64 | Uint64 | Complex64 => 64,
            Complex128 => 128,
        })
    }

    /// Alignment of the element bytes relative to the document start (SPEC.md §4.3).
    pub const fn align(self) -> usize {
        match self {
            Uint16 | Int16 | Float16 | Bfloat16 | Complex32 | Q8_0 | Q4_0 => 2,
            Float32 | Int32 | Uint32 | Complex64 => 4,
            Float64 | Int64 | Uint64 | Complex128 => 8,
            _ => 1,
        }
    }

    /// The RFC 8746 typed-array tag that wraps the element bytes, if any.
    pub const fn rfc8746_tag(self) -> Option<u64> {
        Some(match self {
            Float32 => 85,
            Uint8 => 64,
            Int8 => 72,
            Uint16 => 69,
            Int16 => 77,
            Int32 => 78,
            Int64 => 79,
            Float16 => 84,
            Float64 => 86,
            Uint32 => 70,
            Uint64 => 71,
            _ => return None,
        })
    }

    /// Whether elements are packed below one byte (2, 4 or 6 bits, SPEC.md §4.4).
    pub const fn is_packed(self) -> bool {
        matches!(self.bits(), Some(b) if b < 8)
    }

    /// For a block type: (elements per block, bytes per block). The last dimension of its shape must be a
    /// multiple of the block size (`SHAPE_MISMATCH`); every bit pattern is a valid block.
    pub const fn block(self) -> Option<(u64, u64)> {
        match self {
            Mxfp4 => Some((32, 17)),
            Q8_0 => Some((32, 34)),
            Q4_0 => Some((32, 18)),
            _ => None,
        }
    }

    /// The data length of `n` elements: `ceil(n * bits / 8)`, or `n / block elements * block bytes` for a
    /// block type; `None` for `string` (or if it does not fit in 64 bits, which never happens for an `n`
    /// within the size limit of 2^53 - 1). 64-bit arithmetic only: on wasm32, 128-bit division is a library
    /// routine costing thousands of instructions.
    pub fn data_len(self, n: u64) -> Option<u64> {
        if let Some((elems, bytes)) = self.block() {
            return (n / elems).checked_mul(bytes);
        }
        let bits = self.bits()? as u64;
        Some(n.checked_mul(bits)?.div_ceil(8))
    }
}

impl core::fmt::Display for DType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::DType;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// SPEC.md's generated dtype table (generated from src/tensorcbor/dtypes.py) and this module must agree:
    /// code, name, bits, align, RFC 8746 tag; columns found by their header.
    #[test]
    fn table_matches_spec() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../SPEC.md"))
            .expect("SPEC.md two directories up");
        let start = spec
            .find("<!-- BEGIN GENERATED: dtypes -->")
            .expect("begin marker");
        let end = spec
            .find("<!-- END GENERATED: dtypes -->")
            .expect("end marker");
        let cells = |l: &str| -> Vec<String> {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        };
        let mut lines = spec[start..end].lines().filter(|l| l.starts_with('|'));
        let header = cells(lines.next().expect("header row"));
        let col = |name: &str| header.iter().position(|h| h == name).expect(name);
        let cols = [
            col("code"),
            col("name"),
            col("bits"),
            col("align"),
            col("RFC 8746 tag"),
        ];
        let rows: Vec<Vec<String>> = lines.skip(1).map(cells).collect();
        assert_eq!(rows.len(), DType::ALL.len(), "row count");
        for (row, d) in rows.iter().zip(DType::ALL) {
            let bits = match (d.bits(), d.block()) {
                (Some(b), _) => b.to_string(),
                (None, Some(_)) => "—".to_string(),
                (None, None) => "var".to_string(),
            };
            let tag = d.rfc8746_tag().map_or("—".to_string(), |t| t.to_string());
            let mine = [
                d.code().to_string(),
                d.name().to_string(),
                bits,
                d.align().to_string(),
                tag,
            ];
            let theirs: Vec<&str> = cols.iter().map(|&c| row[c].as_str()).collect();
            assert_eq!(theirs, mine, "dtype {d}");
            assert_eq!(DType::from_code(d.code() as u64), Some(d));
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        for reserved in [0u64, 29, 127, 132, 159, 163, 1023, 65536, 1 << 32, u64::MAX] {
            assert_eq!(DType::from_code(reserved), None, "{reserved}");
        }
    }
}
